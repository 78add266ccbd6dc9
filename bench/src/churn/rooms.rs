//! The lobbies of a churn run: each opens a `Lobby` hub, admits two to four
//! members over loopback, runs a round of messages, lets some members go,
//! runs a second round and closes. These are `Load`'s steps for one room;
//! each stage has a deadline, and a stalled room is reported and ended.

use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use p2pchat::conn::MemberConn;
use p2pchat::lobby::{Lobby, LobbyConfig};
use p2pchat::trace::Trace;
use p2pchat::wire::ToLeader;

use super::load::Load;
use super::report::note;
use super::{CLOSE_REASON, STAGE_DEADLINE};
use crate::registry::peer_name;
use crate::wire_line;
use crate::{BenchError, Lines, ReadEnd};

/// Where a lobby is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Not open; opens at `due`.
    Waiting,
    /// Admitted; every member must see `MEMBERS`.
    Gathering,
    /// Everyone present sent a round; each must hear all the others.
    Chatting,
    /// Some members left; the others must see `LEFT` for each.
    Departing,
    /// Closed; the members left must see `CLOSED`, then the close.
    Closing,
    /// The load has stopped.
    Done,
}

pub(super) struct Member {
    pub(super) name: String,
    pub(super) stream: Option<TcpStream>,
    pub(super) lines: Lines,
    /// Stays to the end, or leaves during `Departing`.
    pub(super) stays: bool,
    /// Sent `LEAVE` and waits for the hub to close the connection.
    pub(super) leaving: bool,
    pub(super) ready: bool,
    /// The next sequence number expected from each sender this round.
    pub(super) next: HashMap<String, u64>,
    pub(super) got: u64,
    pub(super) expected: u64,
    pub(super) lefts: usize,
    pub(super) closed: bool,
}

impl Member {
    fn new(name: String, stream: TcpStream) -> Member {
        Member {
            name,
            stream: Some(stream),
            lines: Lines::default(),
            stays: true,
            leaving: false,
            ready: false,
            next: HashMap::new(),
            got: 0,
            expected: 0,
            lefts: 0,
            closed: false,
        }
    }

    /// Starts round `round`: the member is owed `expected` messages, and
    /// sends its own `count`; false if it could not send them.
    fn start_round(&mut self, round: u32, count: u64, expected: u64) -> bool {
        self.next.clear();
        self.got = 0;
        self.expected = expected;
        let Some(stream) = &self.stream else {
            return true;
        };
        let mut lines = String::new();
        for seq in 0..count {
            lines.push_str(&wire_line(ToLeader::Msg(format!("r{round} {seq}"))));
        }
        // A few short lines fit in an idle socket's send buffer.
        matches!((&*stream).write(lines.as_bytes()), Ok(n) if n == lines.len())
    }

    /// One line from the hub in round `round`; false if the member should
    /// not have got it.
    fn hear(&mut self, round: u32, line: &[u8]) -> bool {
        if self.leaving || line == b"HELLO" || line.starts_with(b"JOINED ") {
            return true;
        }
        if line.starts_with(b"MEMBERS ") {
            // Only the first: the hub sends it once, on admission.
            let first = !self.ready;
            self.ready = true;
            first
        } else if line.starts_with(b"LEFT ") {
            self.lefts += 1;
            true
        } else if line == format!("CLOSED {CLOSE_REASON}").as_bytes() {
            self.closed = true;
            true
        } else {
            hear_msg(self, round, line)
        }
    }
}

pub(super) struct Room {
    pub(super) lobby: Option<Lobby>,
    pub(super) leader: String,
    pub(super) members: Vec<Member>,
    pub(super) stage: Stage,
    pub(super) due: Instant,
    pub(super) round: u32,
    pub(super) leavers: usize,
}

impl Room {
    /// True once every member still here has every message of the round.
    fn heard_all(&self) -> bool {
        self.members
            .iter()
            .filter(|m| m.stream.is_some() && (self.round == 1 || m.stays))
            .all(|m| m.got >= m.expected)
    }

    /// True once the leavers are gone and those who stay saw them leave.
    fn departed(&self) -> bool {
        self.members.iter().all(|m| {
            if m.stays {
                m.lefts >= self.leavers
            } else {
                m.stream.is_none()
            }
        })
    }

    /// A room that opens at `due`.
    pub(super) fn new(due: Instant) -> Room {
        Room {
            lobby: None,
            leader: String::new(),
            members: Vec::new(),
            stage: Stage::Waiting,
            due,
            round: 0,
            leavers: 0,
        }
    }
}

impl Load<'_> {
    /// Lobby `r`'s next stage, once everyone has seen what the stage is
    /// waiting for, or its deadline passed.
    pub(super) fn tick_room(&mut self, r: usize, now: Instant) {
        let room = &self.rooms[r];
        let (done, next): (bool, fn(&mut Self, usize, Instant)) = match room.stage {
            Stage::Waiting => return self.maybe_open(r, now),
            Stage::Gathering => (room.members.iter().all(|m| m.ready), Self::chat),
            Stage::Chatting => (room.heard_all() || now >= room.due, Self::round_over),
            Stage::Departing => (room.departed(), Self::chat),
            Stage::Closing => (
                room.members.iter().all(|m| m.stream.is_none()),
                Self::end_room,
            ),
            Stage::Done => return,
        };
        if done {
            next(self, r, now);
        } else if now >= room.due {
            self.room_stalled(r, now);
        }
    }

    /// Opens waiting lobby `r` when it is due, unless the load stopped.
    fn maybe_open(&mut self, r: usize, now: Instant) {
        if self.stopping {
            self.rooms[r].stage = Stage::Done;
        } else if now >= self.rooms[r].due
            && let Err(err) = self.open_room(r, now)
        {
            self.report.lobby_unexpected += 1;
            note(&mut self.report, format!("a lobby could not open: {err}"));
            self.end_room(r, now);
        }
    }

    /// A round of lobby `r` is over: it is counted, then some members
    /// leave after the first round, and the lobby closes after the second.
    fn round_over(&mut self, r: usize, now: Instant) {
        self.count_round(r);
        if self.rooms[r].round == 1 {
            self.depart(r, now);
        } else {
            self.close_room(r, now);
        }
    }

    /// Opens lobby `r`: a hub led by one peer, and two to four members
    /// admitted over loopback as a leader admits them.
    fn open_room(&mut self, r: usize, now: Instant) -> Result<(), BenchError> {
        let size = 2 + self.rng.below(3) as usize;
        let mut names = self.pick_names(size + 1);
        let leader = names.remove(0);
        let (notices, _) = crossbeam_channel::unbounded();
        let lobby = Lobby::start(LobbyConfig::new(leader.clone()), notices)?;
        let mut members = Vec::with_capacity(size);
        for name in names {
            members.push(self.admit(&lobby, name)?);
        }
        self.report.lobbies += 1;
        self.report.lobby_members += size as u64;
        let room = &mut self.rooms[r];
        room.lobby = Some(lobby);
        room.leader = leader;
        room.members = members;
        room.stage = Stage::Gathering;
        room.due = now + STAGE_DEADLINE;
        room.round = 0;
        room.leavers = 0;
        Ok(())
    }

    /// `count` distinct peer names, at random.
    fn pick_names(&mut self, count: usize) -> Vec<String> {
        // Names are only labels here; five distinct ones are always there.
        let pool = self.options.peers.max(count) as u64;
        let mut names: Vec<String> = Vec::with_capacity(count);
        while names.len() < count {
            let name = peer_name(self.rng.below(pool) as usize);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Connects a member to the listener and has `lobby` admit the other
    /// end, as a leader admits a peer.
    fn admit(&self, lobby: &Lobby, name: String) -> Result<Member, BenchError> {
        let client = TcpStream::connect(self.listener.local_addr()?)?;
        let (server, from) = self.listener.accept()?;
        if from != client.local_addr()? {
            return Err(BenchError::Setup(
                "a stranger connected to the lobby listener".into(),
            ));
        }
        lobby.admit(name.clone(), MemberConn::new(server, &name, Trace::off())?);
        client.set_nonblocking(true)?;
        client.set_nodelay(true)?;
        Ok(Member::new(name, client))
    }

    /// A round: everyone still in lobby `r`, the leader too, sends a few
    /// numbered messages, which each of the others must all get.
    fn chat(&mut self, r: usize, now: Instant) {
        let count = 2 + self.rng.below(4);
        let room = &mut self.rooms[r];
        room.round += 1;
        let round = room.round;
        let present = room
            .members
            .iter()
            .filter(|m| m.stays || round == 1)
            .count() as u64;
        let mut broken = Vec::new();
        for member in &mut room.members {
            if round > 1 && !member.stays {
                continue;
            }
            // The other members and the leader.
            if !member.start_round(round, count, present * count) {
                broken.push(member.name.clone());
            }
        }
        if let Some(lobby) = &room.lobby {
            for seq in 0..count {
                lobby.say(format!("r{round} {seq}"));
            }
        }
        room.stage = Stage::Chatting;
        room.due = now + STAGE_DEADLINE;
        for name in broken {
            self.report.lobby_unexpected += 1;
            note(
                &mut self.report,
                format!("lobby member {name} could not send"),
            );
        }
    }

    /// Adds up what the members of lobby `r` got in the round just over.
    fn count_round(&mut self, r: usize) {
        let room = &self.rooms[r];
        for member in &room.members {
            if room.round > 1 && !member.stays {
                continue;
            }
            self.report.lobby_expected += member.expected;
            self.report.lobby_delivered += member.got.min(member.expected);
            let lost = member.expected.saturating_sub(member.got);
            if lost > 0 {
                self.report.lobby_lost += lost;
                note(
                    &mut self.report,
                    format!(
                        "lobby member {} got {} of {} messages in round {}",
                        member.name, member.got, member.expected, room.round
                    ),
                );
            }
        }
    }

    /// Some members of lobby `r` leave, by `LEAVE` or by dropping the
    /// connection; at least one stays.
    fn depart(&mut self, r: usize, now: Instant) {
        let keep = self.rng.below(self.rooms[r].members.len() as u64) as usize;
        let mut leavers = 0;
        for m in 0..self.rooms[r].members.len() {
            if m == keep || !self.rng.chance(0.5) {
                continue;
            }
            let by_leave = self.rng.chance(0.5);
            let member = &mut self.rooms[r].members[m];
            member.stays = false;
            leavers += 1;
            if by_leave {
                member.leaving = true;
                let sent = member.stream.as_ref().is_some_and(|s| {
                    let leave = wire_line(ToLeader::Leave);
                    matches!((&*s).write(leave.as_bytes()), Ok(n) if n == leave.len())
                });
                if !sent {
                    member.stream = None;
                    self.report.lobby_unexpected += 1;
                }
            } else {
                member.stream = None;
                self.report.lobby_drops += 1;
            }
        }
        let room = &mut self.rooms[r];
        room.leavers = leavers;
        room.stage = Stage::Departing;
        room.due = now + STAGE_DEADLINE;
    }

    /// Closes lobby `r`'s hub, which joins its threads; the members left
    /// must then read `CLOSED` and the close.
    fn close_room(&mut self, r: usize, now: Instant) {
        let room = &mut self.rooms[r];
        if let Some(lobby) = room.lobby.take() {
            lobby.close(CLOSE_REASON);
        }
        room.stage = Stage::Closing;
        room.due = now + STAGE_DEADLINE;
    }

    fn room_stalled(&mut self, r: usize, now: Instant) {
        let room = &self.rooms[r];
        let what = format!("lobby of {} stalled in {:?}", room.leader, room.stage);
        self.report.lobby_unexpected += 1;
        note(&mut self.report, what);
        self.end_room(r, now);
    }

    fn end_room(&mut self, r: usize, now: Instant) {
        let pause = self.rng.within(Duration::ZERO, self.options.pause);
        let room = &mut self.rooms[r];
        if let Some(lobby) = room.lobby.take() {
            lobby.close(CLOSE_REASON);
        }
        room.members.clear();
        room.stage = if self.stopping {
            Stage::Done
        } else {
            Stage::Waiting
        };
        room.due = now + pause;
    }

    pub(super) fn read_member(&mut self, r: usize, m: usize) {
        let room = &mut self.rooms[r];
        let round = room.round;
        let stage = room.stage;
        let member = &mut room.members[m];
        let Some(stream) = member.stream.as_ref() else {
            return;
        };
        let mut heard = Vec::new();
        let (_, end) = member
            .lines
            .read(stream, &mut self.scratch, |line| heard.push(line.to_vec()));
        let mut wrong = Vec::new();
        for line in heard {
            if !member.hear(round, &line) {
                wrong.push(line);
            }
        }
        if end == ReadEnd::Closed {
            member.stream = None;
            if member.leaving {
                self.report.lobby_leaves += 1;
            } else if !(stage == Stage::Closing && member.closed) {
                wrong.push(format!("(the hub closed {} in {stage:?})", member.name).into_bytes());
            }
        }
        for line in wrong {
            self.report.lobby_unexpected += 1;
            note(
                &mut self.report,
                format!("lobby line {:?}", String::from_utf8_lossy(&line)),
            );
        }
    }
}

/// Counts `MSG <from> r<round> <seq>` for `member`; false for anything
/// else, or a number out of turn.
fn hear_msg(member: &mut Member, round: u32, line: &[u8]) -> bool {
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    let mut words = line.split(' ');
    let (Some("MSG"), Some(from), Some(r), Some(seq), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return false;
    };
    let (Some(r), Ok(seq)) = (r.strip_prefix('r'), seq.parse::<u64>()) else {
        return false;
    };
    if r != round.to_string() {
        return false;
    }
    let next = member.next.entry(from.to_string()).or_insert(0);
    if seq != *next {
        return false;
    }
    *next += 1;
    member.got += 1;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lobby_messages_count_in_turn() {
        let mut member = Member {
            name: "m".into(),
            stream: None,
            lines: Lines::default(),
            stays: true,
            leaving: false,
            ready: true,
            next: HashMap::new(),
            got: 0,
            expected: 4,
            lefts: 0,
            closed: false,
        };
        assert!(hear_msg(&mut member, 1, b"MSG a r1 0"));
        assert!(hear_msg(&mut member, 1, b"MSG b r1 0"));
        assert!(hear_msg(&mut member, 1, b"MSG a r1 1"));
        assert!(!hear_msg(&mut member, 1, b"MSG a r1 1"), "a duplicate");
        assert!(!hear_msg(&mut member, 1, b"MSG b r1 2"), "a gap");
        assert!(!hear_msg(&mut member, 1, b"MSG b r2 1"), "another round");
        assert!(!hear_msg(&mut member, 1, b"LEFT a"));
        assert_eq!(member.got, 3);
    }
}
