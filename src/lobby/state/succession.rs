//! How a lobby outlives its leader, as rules: the roster and the leader's
//! seat at the start, a newcomer's credential and seat, the seats of members whose
//! connection broke, and handing the lobby on. The roster's own rules
//! (whose credential holds, who leads next) are in `lobby/roster.rs`.
//!
//! All of it is off unless `LobbyConfig::succession` is set, so a lobby
//! started without it (the bench, library tests) sends exactly what it sent
//! before.

use core::net::SocketAddr;

use crate::crypto::PeerKey;
use crate::wire::{LeftReason, Succession, ToMember};

use super::super::Handed;
use super::super::roster::{Roster, Seat};
use super::{LobbyState, MemberId, Origin, Why};

impl LobbyState {
    /// Sets up the roster: a fresh lobby id and the leader's seat, or the
    /// one a successor inherits.
    pub(super) fn begin(&mut self, origin: Option<Origin>) {
        let Some(addr) = self.config.succession else {
            return;
        };
        match origin {
            Some(Origin::Inherited(inheritance)) => {
                self.roster = inheritance.roster;
                self.history.inherit(inheritance.said);
            }
            Some(Origin::New { lobby }) => {
                self.roster = Roster::new(lobby);
                // A leader with no key has no seat: nobody could check that
                // a peer at its address is it, so nobody walks to it.
                if let Some(key) = self.config.key {
                    self.roster.add(Seat {
                        name: self.config.leader.clone(),
                        addr,
                        key,
                    });
                }
            }
            // Without an id nobody's credential can hold: nobody can come
            // back, and the lobby ends with its leader.
            None => {}
        }
    }

    /// A newcomer's credential (the lobby id), sent to it alone, and its
    /// seat. A member whose chat address the leader does not know (admitted
    /// by `Lobby::admit`) cannot be reached to lead, and one with no key
    /// could not prove it is itself: neither gets one.
    pub(super) fn credential(
        &mut self,
        id: MemberId,
        name: &str,
        chat_addr: Option<SocketAddr>,
        key: Option<PeerKey>,
    ) -> Option<Seat> {
        let seat = Seat {
            name: name.to_string(),
            addr: chat_addr?,
            key: key?,
        };
        let line = Succession::Credential {
            lobby: self.roster.lobby.clone(),
        };
        self.send_to(id, ToMember::Succession(line));
        Some(seat)
    }

    /// A member is gone: its seat leaves the roster, and if its connection
    /// broke (rather than it leaving or being removed) the seat is kept
    /// aside for a while, so that it can come back.
    pub(super) fn unseat(&mut self, name: &str, why: &Why) {
        let Some(seat) = self.roster.remove(name) else {
            return;
        };
        if matches!(why, Why::Lost | Why::Dropped | Why::Silent) {
            self.away.retain(|(_, s)| s.name != seat.name);
            self.away.push((self.now.at, seat));
        }
    }

    /// Forgets the seats of members away for longer than they may be.
    pub(super) fn forget_away(&mut self) {
        let (now, keep) = (self.now.at, self.config.silence_timeout);
        self.away
            .retain(|(since, _)| now.duration_since(*since) < keep);
    }

    /// Hands the lobby to `to`, or to the member admitted earliest: every
    /// member hears `HANDOVER`, and the lobby ends without `CLOSED`.
    pub(super) fn hand_on(&mut self, to: Option<&str>) -> Result<Handed, String> {
        let seat = self.next_leader(to)?;
        self.announce(&seat.name);
        let mut roster = self.roster.clone();
        roster.lead(&seat.name);
        Ok(Handed {
            to: seat,
            roster,
            said: self.history.said(),
        })
    }
}

impl LobbyState {
    /// The leader leaves: the lobby goes to the member `hand_on` would
    /// choose, and every member hears `LEFT <leader> LEFT` before
    /// `HANDOVER`, so that the leader's seat goes from every roster and
    /// nobody waits for it to come back. Who leads now, or `None` if
    /// nobody can (then nothing is sent, and the lobby ends with `CLOSED`).
    pub(super) fn hand_on_leaving(&mut self) -> Option<String> {
        let seat = self.next_leader(None).ok()?;
        let name = self.config.leader.clone();
        let reason = LeftReason::Left;
        self.broadcast(ToMember::Left { name, reason }, None);
        self.announce(&seat.name);
        Some(seat.name)
    }

    /// The seat of the member the lobby goes to: `to`, or the member
    /// admitted earliest; or why there is none.
    fn next_leader(&self, to: Option<&str>) -> Result<Seat, String> {
        if self.config.succession.is_none() {
            return Err("this lobby cannot be handed on".to_string());
        }
        let seat = match to {
            Some(name) => self.roster.seat(name).cloned(),
            None => self.roster.successor().cloned(),
        };
        seat.filter(|s| !s.name.eq_ignore_ascii_case(&self.config.leader))
            .ok_or_else(|| match to {
                Some(name) => format!("{name} is not a member who can lead this lobby"),
                None => "nobody in this lobby can lead it".to_string(),
            })
    }

    /// `HANDOVER <to>` to every member: the last line of this hub.
    fn announce(&mut self, to: &str) {
        let line = ToMember::Succession(Succession::Handover(to.to_string()));
        self.broadcast(line, None);
        self.handed_over = true;
    }
}

/// A seat as the line that tells members of it.
pub(super) fn seat_line(seat: Seat) -> ToMember {
    ToMember::Succession(Succession::Seat {
        name: seat.name,
        ip: seat.addr.ip(),
        port: seat.addr.port(),
        key: seat.key,
    })
}
