//! Admitting a newcomer, or a member who came back with `REJOIN`: the name
//! rule, what the member is told (who is here, what was said, its
//! credential and the roster), and what the others and the leader hear.

use core::net::SocketAddr;

use crate::crypto::PeerKey;
use crate::wire::{CloseReason, ErrorCode, Rejoin, ToMember};

use super::super::Notice;
use super::super::roster::{Proven, Seat};
use super::super::rules::Asks;
use super::{LobbyState, Member, MemberId, Why};

/// How a member arrives.
enum Arrival {
    /// For the first time, with the key it came with, for its seat (in a
    /// lobby with succession).
    New { key: Option<PeerKey> },
    /// Back, with a credential that held.
    Back(Comeback),
}

/// A member who came back: its seat, the last message it has, and whether
/// it replaced a connection the lobby still held.
struct Comeback {
    seat: Seat,
    after: u64,
    replaced: bool,
}

impl LobbyState {
    /// A newcomer: admitted, unless its name is taken (the leader's or a
    /// member's, exactly as spelled).
    pub(super) fn admit(
        &mut self,
        id: MemberId,
        name: String,
        chat_addr: Option<SocketAddr>,
        key: Option<PeerKey>,
    ) {
        self.admit_as(id, name, chat_addr, Arrival::New { key });
    }

    /// A member comes back: admitted if it proved the key of the seat it
    /// claims, in the roster or one left by a broken connection not long
    /// ago; its old connection, if the lobby still holds it, is closed
    /// without a word.
    pub(super) fn rejoin(&mut self, id: MemberId, claim: Rejoin, proven: &Proven) {
        let Some(seat) = self.claimed_seat(&claim, proven) else {
            let refused = ToMember::Err(
                ErrorCode::BadCredentials,
                "not a member of this lobby".to_string(),
            );
            return self.turn_away(id, refused, Why::NotAMember);
        };
        self.away
            .retain(|(_, s)| !s.name.eq_ignore_ascii_case(&seat.name));
        let old = self.id_of(&seat.name);
        if let Some(old) = old {
            self.doom(old, Why::Replaced);
            self.reap();
        }
        let back = Comeback {
            after: claim.seq,
            replaced: old.is_some(),
            seat,
        };
        self.admit_as(
            id,
            back.seat.name.clone(),
            Some(back.seat.addr),
            Arrival::Back(back),
        );
    }

    /// The seat a `REJOIN` claims, if the claimant proved its key and it is
    /// not the leader's own.
    fn claimed_seat(&self, claim: &Rejoin, proven: &Proven) -> Option<Seat> {
        let away = super::Roster::with_seats(
            self.roster.lobby.clone(),
            self.away.iter().map(|(_, seat)| seat.clone()),
        );
        let seat = self
            .roster
            .check(claim, proven)
            .or_else(|_| away.check(claim, proven))
            .ok()?;
        let leader = seat.name.eq_ignore_ascii_case(&self.config.leader);
        (!leader).then(|| seat.clone())
    }

    fn admit_as(
        &mut self,
        id: MemberId,
        name: String,
        chat_addr: Option<SocketAddr>,
        arrival: Arrival,
    ) {
        let taken = name == self.config.leader || self.members.values().any(|m| m.name == name);
        if taken {
            return self.turn_away(id, ToMember::Closed(CloseReason::Duplicate), Why::Duplicate);
        }
        let member = Member {
            name: name.clone(),
            chat_addr,
            last_heard: self.now.at,
            last_sent: self.now.at,
            asks: Asks::default(),
            away_changes: Asks::default(),
            leaving: false,
        };
        self.members.insert(id, member);
        self.greet(id, name, chat_addr, arrival);
    }

    /// Tells a member just admitted who is here and what was said (or, in a
    /// lobby that can outlive its leader, welcomes it with its credential),
    /// and tells the others and the leader it joined.
    fn greet(
        &mut self,
        id: MemberId,
        name: String,
        chat_addr: Option<SocketAddr>,
        arrival: Arrival,
    ) {
        self.send_to(id, ToMember::Members(self.names()));
        for line in self.away_lines(&name) {
            self.send_to(id, line);
        }
        if self.config.succession.is_some() {
            // A member whose old connection the lobby still held never
            // left, as far as the others know.
            let announce = !matches!(&arrival, Arrival::Back(back) if back.replaced);
            self.welcome(id, &name, chat_addr, arrival, announce);
            if announce {
                self.notify(Notice::Joined(name));
            }
            return;
        }
        // Half the backlog limit: the rest is room for the live lines that
        // follow while the newcomer reads its history.
        for line in self.history.replay(self.config.max_queued_bytes / 2) {
            self.send_to(id, line);
        }
        self.broadcast(ToMember::Joined(name.clone()), Some(id));
        self.notify(Notice::Joined(name));
    }

    /// What a member admitted to a lobby with succession gets after
    /// `MEMBERS`: a newcomer its credential, the roster and the last
    /// messages; a member who came back the roster and what it missed.
    /// Everyone else hears `JOINED` (if `announce`) and the new seat.
    fn welcome(
        &mut self,
        id: MemberId,
        name: &str,
        chat_addr: Option<SocketAddr>,
        arrival: Arrival,
        announce: bool,
    ) {
        let (seat, after) = match arrival {
            Arrival::Back(back) => (Some(back.seat), Some(back.after)),
            Arrival::New { key } => (self.credential(id, name, chat_addr, key), None),
        };
        if let Some(seat) = &seat {
            self.roster.add(seat.clone());
        }
        for seat in self.roster.seats().to_vec() {
            self.send_to(id, super::succession::seat_line(seat));
        }
        // Half the backlog limit: the rest is room for the live lines that
        // follow while the member reads what it missed.
        let budget = self.config.max_queued_bytes / 2;
        for line in self.history.replay_numbered(after, budget) {
            self.send_to(id, line);
        }
        if announce {
            self.broadcast(ToMember::Joined(name.to_string()), Some(id));
        }
        if let Some(seat) = seat {
            self.broadcast(super::succession::seat_line(seat), Some(id));
        }
    }
}
