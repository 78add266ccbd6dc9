//! The peers of a churn run: each joins, sends requests, and ends its
//! session in one of four ways (`Ending`), then pauses and joins again.
//! These are `Load`'s steps for one peer; every step has a deadline, and a
//! peer never has more than one request in flight on a connection.

use std::time::{Duration, Instant};

use p2pchat::wire::Request;

use super::REPLY_DEADLINE;
use super::conn::{Conn, Heard, Owed, hear};
use super::load::Load;
use crate::ReadEnd;
use crate::registry::{BENCH_PASSWORD, peer_name};
use crate::wire_line;

/// How a session ends. Each peer goes through all four in turn, from its
/// own starting point, so that even a short run sees every kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Leave,
    Crash,
    Silent,
    Takeover,
}

const ENDINGS: [Ending; 4] = [
    Ending::Leave,
    Ending::Crash,
    Ending::Silent,
    Ending::Takeover,
];

/// Where a peer is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Not connected; connects at `due`, once a join slot is free.
    Idle,
    /// JOIN sent.
    Joining,
    /// Joined: sends a request at `due`, ends the session at `end_at`.
    Active,
    /// LOGOUT sent: `OK BYE` must come, then the server closes.
    Leaving,
    /// Saying nothing: `BYE TIMEOUT` must come, then the server closes.
    Silent,
    /// A HELLO just before a takeover, so the server cannot time the first
    /// connection out while the second one's JOIN is being hashed.
    Handover,
    /// The second connection's JOIN is in flight; the first must get
    /// `BYE REPLACED`, then be closed.
    Takeover,
}

pub(super) struct Peer {
    pub(super) index: usize,
    pub(super) name: String,
    pub(super) phase: Phase,
    pub(super) conn: Option<Conn>,
    /// The second connection of a takeover.
    pub(super) successor: Option<Conn>,
    /// When the phase's next step is due, or its deadline.
    pub(super) due: Instant,
    pub(super) end_at: Instant,
    /// Sessions begun, which picks the next ending.
    pub(super) sessions: usize,
    /// How many join slots this peer holds (its JOIN, its successor's).
    pub(super) slots: usize,
}

impl Peer {
    /// Peer `index`, idle until `due`.
    pub(super) fn new(index: usize, now: Instant, due: Instant) -> Peer {
        Peer {
            index,
            name: peer_name(index),
            phase: Phase::Idle,
            conn: None,
            successor: None,
            due,
            end_at: now,
            sessions: index % ENDINGS.len(),
            slots: 0,
        }
    }
}

impl Load<'_> {
    /// Ends peer `p`'s session in a way it should not have ended.
    pub(super) fn broken(&mut self, p: usize, what: String) {
        if !matches!(self.peers[p].phase, Phase::Idle | Phase::Joining) {
            self.report.broken += 1;
        }
        self.unexpected(what);
        self.idle(p, Instant::now());
    }

    /// Drops peer `p`'s connections and schedules its next connect.
    fn idle(&mut self, p: usize, now: Instant) {
        let pause = self.rng.within(Duration::ZERO, self.options.pause);
        let peer = &mut self.peers[p];
        self.joins_in_flight -= peer.slots;
        peer.slots = 0;
        peer.conn = None;
        peer.successor = None;
        peer.phase = Phase::Idle;
        peer.due = now + pause;
    }

    /// A JOIN on peer `p` was answered, one way or another.
    fn release_slot(&mut self, p: usize) {
        if self.peers[p].slots > 0 {
            self.peers[p].slots -= 1;
            self.joins_in_flight -= 1;
        }
    }

    fn join_line(&self, p: usize) -> String {
        let peer = &self.peers[p];
        let port = 9000 + (peer.index % 1000) as u16;
        wire_line(Request::Join {
            name: peer.name.clone(),
            password: BENCH_PASSWORD.into(),
            port,
            key: None,
        })
    }

    /// Peer `p` is joined on `conn`: a session begins.
    fn begin_session(&mut self, p: usize, now: Instant) {
        let mean = self.options.session;
        let length = self.rng.within(mean / 2, mean + mean / 2);
        let first = self.request_gap();
        let peer = &mut self.peers[p];
        peer.phase = Phase::Active;
        peer.end_at = now + length;
        peer.due = now + first;
        peer.sessions += 1;
        self.report.sessions += 1;
    }

    /// Time to a joined peer's next request: well within the hello timeout.
    fn request_gap(&mut self) -> Duration {
        let timeout = self.options.hello_timeout;
        self.rng.within(timeout / 10, timeout * 2 / 5)
    }

    /// Peer `p`'s next step, if one is due: a connect, a request, the end
    /// of its session, or a deadline that passed.
    pub(super) fn tick_peer(&mut self, p: usize, now: Instant) {
        let peer = &self.peers[p];
        match peer.phase {
            Phase::Idle => {
                if self.stopping
                    || now < peer.due
                    || self.joins_in_flight >= self.options.join_window.max(1)
                {
                    return;
                }
                self.connect(p, now);
            }
            Phase::Active => self.tick_active(p, now),
            Phase::Joining | Phase::Leaving | Phase::Silent | Phase::Handover | Phase::Takeover => {
                if now >= peer.due {
                    let what = format!("{} waited too long in {:?}", peer.name, peer.phase);
                    self.broken(p, what);
                }
            }
        }
    }

    /// Idle peer `p` connects and sends its JOIN, taking a join slot.
    fn connect(&mut self, p: usize, now: Instant) {
        let line = self.join_line(p);
        match Conn::open(self.options.addr, &line, Owed::Joined) {
            Ok(conn) => {
                let peer = &mut self.peers[p];
                peer.conn = Some(conn);
                peer.phase = Phase::Joining;
                peer.due = now + REPLY_DEADLINE;
                peer.slots += 1;
                self.joins_in_flight += 1;
            }
            Err(err) => {
                let name = self.peers[p].name.clone();
                self.unexpected(format!("{name} could not connect: {err}"));
                self.idle(p, now);
            }
        }
    }

    /// Joined peer `p`: with nothing in flight it is cut by the stop, ends
    /// its session or sends its next request; else its reply may be late.
    fn tick_active(&mut self, p: usize, now: Instant) {
        let peer = &self.peers[p];
        match peer.conn.as_ref().map(|c| (c.owed, c.sent)) {
            Some((Owed::Nothing, _)) => {
                if self.stopping {
                    self.report.cut += 1;
                    self.idle(p, now);
                } else if now >= peer.end_at {
                    self.end_session(p, now);
                } else if now >= peer.due {
                    self.request(p, now);
                }
            }
            Some((owed, sent)) if now.duration_since(sent) >= REPLY_DEADLINE => {
                let what = format!("{} had no answer to {owed:?} in time", peer.name);
                self.broken(p, what);
            }
            _ => {}
        }
    }

    /// Sends peer `p` one request: mostly HELLO, some LIST, SEARCH and
    /// INVITE for another peer.
    fn request(&mut self, p: usize, now: Instant) {
        let other = {
            let n = self.options.peers as u64;
            let offset = 1 + self.rng.below(n.saturating_sub(1).max(1));
            peer_name((self.peers[p].index + offset as usize) % self.options.peers)
        };
        let (line, owed) = match self.rng.below(10) {
            0 => (wire_line(Request::List), Owed::List { rows_left: None }),
            1 => (wire_line(Request::Search { name: other }), Owed::Search),
            2 => (wire_line(Request::Invite { name: other }), Owed::Invite),
            _ => (wire_line(Request::Hello), Owed::Hello),
        };
        let gap = self.request_gap();
        let peer = &mut self.peers[p];
        peer.due = now + gap;
        let sent = peer.conn.as_mut().is_some_and(|c| c.send(&line, owed));
        if !sent {
            let what = format!("{} could not send {}", peer.name, line.trim_end());
            self.broken(p, what);
        }
    }

    fn end_session(&mut self, p: usize, now: Instant) {
        let peer = &mut self.peers[p];
        let ending = ENDINGS[peer.sessions % ENDINGS.len()];
        let Some(conn) = peer.conn.as_mut() else {
            return;
        };
        let sent = match ending {
            Ending::Leave => {
                peer.phase = Phase::Leaving;
                peer.due = now + REPLY_DEADLINE;
                conn.send(&wire_line(Request::Logout), Owed::LoggedOut)
            }
            Ending::Crash => {
                self.report.crashed += 1;
                self.idle(p, now);
                return;
            }
            Ending::Silent => {
                // The sweeper runs four times per timeout; the rest is
                // slack for a loaded machine.
                peer.phase = Phase::Silent;
                peer.due = now + self.options.hello_timeout * 3 + REPLY_DEADLINE;
                conn.owed = Owed::Bye("BYE TIMEOUT");
                true
            }
            Ending::Takeover => {
                peer.phase = Phase::Handover;
                peer.due = now + REPLY_DEADLINE;
                conn.send(&wire_line(Request::Hello), Owed::Hello)
            }
        };
        if !sent {
            let what = format!("{} could not end its session ({ending:?})", peer.name);
            self.broken(p, what);
        }
    }

    /// The HELLO before a takeover was answered: JOIN again from a second
    /// connection. It does not wait for a join slot, since the first
    /// connection must not fall silent for long.
    fn take_over(&mut self, p: usize, now: Instant) {
        if self.stopping {
            self.report.cut += 1;
            self.idle(p, now);
            return;
        }
        let line = self.join_line(p);
        match Conn::open(self.options.addr, &line, Owed::Joined) {
            Ok(successor) => {
                let peer = &mut self.peers[p];
                peer.successor = Some(successor);
                peer.phase = Phase::Takeover;
                peer.due = now + REPLY_DEADLINE + self.options.hello_timeout;
                peer.slots += 1;
                self.joins_in_flight += 1;
                if let Some(conn) = peer.conn.as_mut() {
                    conn.owed = Owed::Bye("BYE REPLACED");
                }
            }
            Err(err) => {
                let what = format!(
                    "{} could not connect for a takeover: {err}",
                    self.peers[p].name
                );
                self.broken(p, what);
            }
        }
    }

    /// A takeover is complete once the second connection joined and the
    /// first got `BYE REPLACED` and was closed.
    fn maybe_replaced(&mut self, p: usize, now: Instant) {
        let peer = &mut self.peers[p];
        let joined = peer
            .successor
            .as_ref()
            .is_some_and(|s| s.owed == Owed::Nothing);
        if peer.phase == Phase::Takeover && peer.conn.is_none() && joined {
            peer.conn = peer.successor.take();
            self.report.replaced += 1;
            // The second connection's session counts from now.
            self.begin_session(p, now);
        }
    }

    /// Reads what the server sent on peer `p`'s connection.
    pub(super) fn read_main(&mut self, p: usize, now: Instant) {
        let Some(conn) = self.peers[p].conn.as_mut() else {
            return;
        };
        let (heard, end) = conn.read(&mut self.scratch);
        for line in heard {
            if !self.hear_main(p, &line, now) {
                return;
            }
        }
        // A line may have ended the session already (a takeover cut short
        // by the stop, say); then the close is ours, not news.
        if end != ReadEnd::Closed || self.peers[p].conn.is_none() {
            return;
        }
        self.main_closed(p, now);
    }

    /// One line on peer `p`'s connection; false once the connection is
    /// gone, so that the lines after it are not read.
    fn hear_main(&mut self, p: usize, line: &[u8], now: Instant) -> bool {
        let peer = &mut self.peers[p];
        let Some(conn) = peer.conn.as_mut() else {
            return false;
        };
        let phase = peer.phase;
        let outcome = if conn.farewell {
            Heard::Wrong
        } else {
            hear(&mut conn.owed, line)
        };
        match outcome {
            Heard::Answered { offline } => {
                self.report.replies += 1;
                self.report.offline_answers += u64::from(offline);
                let took = now.duration_since(conn.sent);
                conn.owed = Owed::Nothing;
                self.answered(p, phase, took, now);
            }
            Heard::More => {}
            Heard::Farewell => conn.farewell = true,
            Heard::Wrong => return self.wrong_line(p, phase, line, now),
        }
        true
    }

    /// Peer `p`'s request in `phase` was answered after `took`.
    fn answered(&mut self, p: usize, phase: Phase, took: Duration, now: Instant) {
        match phase {
            Phase::Joining => {
                self.join.record(took.as_nanos() as u64);
                self.release_slot(p);
                self.begin_session(p, now);
            }
            Phase::Handover => self.take_over(p, now),
            _ => {}
        }
    }

    /// A line peer `p` did not wait for; false if it was a `BYE`, which
    /// ends the session.
    fn wrong_line(&mut self, p: usize, phase: Phase, line: &[u8], now: Instant) -> bool {
        let text = String::from_utf8_lossy(line).into_owned();
        let what = format!("{} in {phase:?} got {text:?}", self.peers[p].name);
        if line.starts_with(b"BYE ") {
            // The server is closing this connection; what follows is the
            // close itself.
            if let Some(conn) = self.peers[p].conn.as_mut() {
                conn.farewell = true;
            }
            self.report.broken += u64::from(phase != Phase::Joining);
            self.unexpected(what);
            self.idle(p, now);
            return false;
        }
        self.unexpected(what);
        true
    }

    /// The server closed peer `p`'s connection: the end of a session if
    /// its farewell came first, else a broken one.
    fn main_closed(&mut self, p: usize, now: Instant) {
        let peer = &mut self.peers[p];
        let farewell = peer.conn.as_ref().is_some_and(|c| c.farewell);
        match peer.phase {
            Phase::Leaving if farewell => {
                self.report.left += 1;
                self.idle(p, now);
            }
            Phase::Silent if farewell => {
                self.report.timed_out += 1;
                self.idle(p, now);
            }
            Phase::Takeover if farewell => {
                peer.conn = None;
                self.maybe_replaced(p, now);
            }
            phase => {
                let what = format!("the server closed {}'s connection in {phase:?}", peer.name);
                self.broken(p, what);
            }
        }
    }

    pub(super) fn read_successor(&mut self, p: usize, now: Instant) {
        let Some(conn) = self.peers[p].successor.as_mut() else {
            return;
        };
        let (heard, end) = conn.read(&mut self.scratch);
        for line in heard {
            let Some(conn) = self.peers[p].successor.as_mut() else {
                return;
            };
            let joining = conn.owed == Owed::Joined;
            match hear(&mut conn.owed, &line) {
                Heard::Answered { .. } if joining => {
                    self.join
                        .record(now.duration_since(conn.sent).as_nanos() as u64);
                    self.report.replies += 1;
                    conn.owed = Owed::Nothing;
                    self.release_slot(p);
                    self.maybe_replaced(p, now);
                }
                _ => {
                    let what = format!(
                        "{}'s takeover JOIN got {:?}",
                        self.peers[p].name,
                        String::from_utf8_lossy(&line)
                    );
                    self.broken(p, what);
                    return;
                }
            }
        }
        if end == ReadEnd::Closed {
            let what = format!(
                "the server closed {}'s takeover connection",
                self.peers[p].name
            );
            self.broken(p, what);
        }
    }
}
