//! `Driver`: one thread's share of the peers. It joins them a window at a
//! time, fires each joined peer's request from a timer heap, and polls only
//! the sockets that owe it a reply. It never blocks on a socket and never
//! has more than one request in flight per peer.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use p2pchat::wire::Request;

use super::drive::{Plan, Shared};
use super::{BENCH_PASSWORD, Driven, peer_name};
use crate::wire_line;
use crate::{Lines, ReadEnd, poll_readable, pollfd};

/// What a peer is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    Nothing,
    Joined,
    Hello {
        during_joins: bool,
    },
    /// The `OK LIST <n>` line, then `n` rows.
    List {
        rows_left: Option<u64>,
    },
    Search,
    /// The connection is over.
    Gone,
}

struct Peer {
    index: usize,
    stream: Option<TcpStream>,
    lines: Lines,
    waiting: Waiting,
    sent_at: Instant,
    /// Requests sent after joining, to rotate LIST and SEARCH among peers.
    ticks: u64,
    joined: bool,
}

pub(super) struct Driver {
    plan: Plan,
    peers: Vec<Peer>,
    /// The next peer (by position in `peers`) to join.
    next_join: usize,
    joins_in_flight: usize,
    /// When each joined peer sends its next request.
    timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Positions of the peers that owe us a reply.
    busy: Vec<usize>,
    out: Driven,
    scratch: Vec<u8>,
}

impl Driver {
    pub(super) fn new(plan: Plan, indices: Vec<usize>) -> Driver {
        let now = Instant::now();
        Driver {
            plan,
            peers: indices
                .into_iter()
                .map(|index| Peer {
                    index,
                    stream: None,
                    lines: Lines::default(),
                    waiting: Waiting::Nothing,
                    sent_at: now,
                    ticks: 0,
                    joined: false,
                })
                .collect(),
            next_join: 0,
            joins_in_flight: 0,
            timers: BinaryHeap::new(),
            busy: Vec::new(),
            out: Driven::default(),
            scratch: vec![0u8; 256 * 1024],
        }
    }

    pub(super) fn run(mut self, shared: &Shared) -> Driven {
        // A run that never stops itself is bounded by the main thread's
        // `stopping`; this is the bound on finishing after that.
        let mut finish_by = None;
        while !shared.abort.load(Ordering::Relaxed) {
            let now = Instant::now();
            let stopping = shared.stopping.load(Ordering::Relaxed);
            if stopping {
                let deadline = *finish_by.get_or_insert(now + Duration::from_secs(30));
                if self.busy.is_empty() || now >= deadline {
                    break;
                }
            } else {
                self.start_joins(shared);
                self.fire_timers(now, shared);
            }
            let wait = self.wait_time(now);
            if self.busy.is_empty() {
                // Nothing to read: wait for the next timer (or a join slot
                // to matter) without a system call on no descriptors.
                thread::sleep(wait.max(Duration::from_micros(100)));
                continue;
            }
            if self.read_busy(wait, shared).is_err() {
                break;
            }
        }
        self.into_driven()
    }

    /// How long to wait for a reply: until the next timer, at most 20 ms.
    fn wait_time(&self, now: Instant) -> Duration {
        self.timers
            .peek()
            .map_or(Duration::from_millis(20), |Reverse((due, _))| {
                due.saturating_duration_since(now)
            })
            .min(Duration::from_millis(20))
    }

    /// Waits at most `wait` for the peers that owe a reply, and reads
    /// those that have something.
    fn read_busy(&mut self, wait: Duration, shared: &Shared) -> io::Result<()> {
        let mut fds: Vec<libc::pollfd> = self
            .busy
            .iter()
            .map(|&p| {
                pollfd(
                    self.peers[p]
                        .stream
                        .as_ref()
                        .expect("a busy peer is connected"),
                )
            })
            .collect();
        poll_readable(&mut fds, wait)?;
        let ready: Vec<usize> = fds
            .iter()
            .zip(&self.busy)
            .filter(|(fd, _)| fd.revents != 0)
            .map(|(_, &p)| p)
            .collect();
        for p in ready {
            self.read(p, shared);
        }
        Ok(())
    }

    /// What this driver counted, with the connections of the peers still
    /// joined, for the final `LIST`.
    fn into_driven(mut self) -> Driven {
        self.out.streams = self
            .peers
            .iter_mut()
            .filter(|p| p.joined && p.waiting != Waiting::Gone)
            .filter_map(|p| p.stream.take())
            .collect();
        self.out
    }

    fn start_joins(&mut self, shared: &Shared) {
        while self.joins_in_flight < self.plan.window && self.next_join < self.peers.len() {
            let p = self.next_join;
            self.next_join += 1;
            let name = peer_name(self.peers[p].index);
            let connected = TcpStream::connect(self.plan.addr).and_then(|stream| {
                stream.set_nodelay(true)?;
                // The port is what the registry records; any valid one does.
                let join = Request::Join {
                    name,
                    password: BENCH_PASSWORD.into(),
                    port: 9000,
                    key: None,
                };
                (&stream).write_all(wire_line(join).as_bytes())?;
                stream.set_nonblocking(true)?;
                Ok(stream)
            });
            let peer = &mut self.peers[p];
            match connected {
                Ok(stream) => {
                    peer.stream = Some(stream);
                    peer.waiting = Waiting::Joined;
                    peer.sent_at = Instant::now();
                    self.out.first_join.get_or_insert(peer.sent_at);
                    self.joins_in_flight += 1;
                    self.busy.push(p);
                }
                Err(_) => {
                    peer.waiting = Waiting::Gone;
                    self.out.join_failures += 1;
                    shared.failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }

    /// Sends the requests whose time has come, each peer's next one an
    /// interval later.
    fn fire_timers(&mut self, now: Instant, shared: &Shared) {
        while let Some(&Reverse((due, p))) = self.timers.peek() {
            if due > now {
                return;
            }
            self.timers.pop();
            let peer = &mut self.peers[p];
            if peer.waiting == Waiting::Gone {
                continue;
            }
            if peer.waiting != Waiting::Nothing {
                // Still waiting for the last reply: try again shortly.
                self.timers
                    .push(Reverse((now + Duration::from_millis(1), p)));
                continue;
            }
            peer.ticks += 1;
            let (line, waiting) = self.next_request(p, shared);
            self.send(p, &line, waiting);
            self.timers.push(Reverse((due + self.plan.interval, p)));
        }
    }

    /// Peer `p`'s next request: `LIST` and `SEARCH` each once per list
    /// period, at a point of its own; `HELLO` otherwise.
    fn next_request(&self, p: usize, shared: &Shared) -> (String, Waiting) {
        let peer = &self.peers[p];
        let slot = self
            .plan
            .list_period
            .map(|period| (peer.index as u64 + peer.ticks) % period);
        let half = self.plan.list_period.map(|period| period / 2);
        if slot == Some(0) {
            (wire_line(Request::List), Waiting::List { rows_left: None })
        } else if slot.is_some() && slot == half {
            let other = peer_name((peer.index + 1) % self.plan.peers);
            (wire_line(Request::Search { name: other }), Waiting::Search)
        } else {
            let during_joins = !shared.all_joined.load(Ordering::Relaxed);
            (wire_line(Request::Hello), Waiting::Hello { during_joins })
        }
    }

    /// Sends `line` for joined peer `p`, which then waits for `waiting`.
    fn send(&mut self, p: usize, line: &str, waiting: Waiting) {
        let peer = &mut self.peers[p];
        let stream = peer.stream.as_ref().expect("a joined peer is connected");
        // One short line on a socket with no request in flight always fits
        // in its send buffer; failing means the connection broke.
        match (&*stream).write(line.as_bytes()) {
            Ok(n) if n == line.len() => {
                peer.waiting = waiting;
                peer.sent_at = Instant::now();
                self.busy.push(p);
            }
            _ => {
                peer.waiting = Waiting::Gone;
                self.out.wrongly_offline += 1;
            }
        }
    }

    fn read(&mut self, p: usize, shared: &Shared) {
        let peer = &mut self.peers[p];
        let Some(stream) = peer.stream.as_ref() else {
            return;
        };
        let mut replies: Vec<Vec<u8>> = Vec::new();
        let (_, end) = peer.lines.read(stream, &mut self.scratch, |line| {
            replies.push(line.to_vec())
        });
        let now = Instant::now();
        for line in &replies {
            self.reply(p, line, now, shared);
        }
        let peer = &mut self.peers[p];
        if end == ReadEnd::Closed && peer.waiting != Waiting::Gone {
            if peer.joined {
                self.out.wrongly_offline += 1;
            } else {
                self.join_failed(shared);
            }
            self.peers[p].waiting = Waiting::Gone;
        }
        if matches!(self.peers[p].waiting, Waiting::Nothing | Waiting::Gone) {
            self.busy.retain(|&b| b != p);
        }
    }

    fn join_failed(&mut self, shared: &Shared) {
        self.joins_in_flight -= 1;
        self.out.join_failures += 1;
        shared.failed.fetch_add(1, Ordering::SeqCst);
    }

    /// Handles one line the server sent peer `p`.
    fn reply(&mut self, p: usize, line: &[u8], now: Instant, shared: &Shared) {
        let peer = &self.peers[p];
        let took = now.duration_since(peer.sent_at).as_nanos() as u64;
        if line.starts_with(b"BYE ") {
            self.bye(p, shared);
            return;
        }
        let answered = match peer.waiting {
            Waiting::Joined => self.join_reply(p, line, now, took, shared),
            Waiting::Hello { during_joins } if line == b"OK HELLO" => {
                if during_joins {
                    self.out.hello_during_joins.record(took);
                } else {
                    self.out.hello.record(took);
                }
                true
            }
            Waiting::List { rows_left } => match self.list_reply(p, rows_left, line, took) {
                Some(answered) => answered,
                // More rows are to come.
                None => return,
            },
            // A peer searched for may still be joining, or be offline.
            Waiting::Search
                if line.starts_with(b"OK USER ")
                    || line.starts_with(b"ERR OFFLINE")
                    || line.starts_with(b"ERR NOT_FOUND") =>
            {
                self.out.search.record(took);
                true
            }
            _ => {
                self.out.bad_replies += 1;
                false
            }
        };
        if answered {
            shared.requests.fetch_add(1, Ordering::Relaxed);
        }
        let peer = &mut self.peers[p];
        if peer.waiting != Waiting::Gone {
            peer.waiting = Waiting::Nothing;
        }
    }

    /// The server said `BYE` to peer `p`: a joined peer was wrongly put
    /// offline, a joining one failed to join.
    fn bye(&mut self, p: usize, shared: &Shared) {
        let peer = &self.peers[p];
        if peer.joined {
            self.out.wrongly_offline += 1;
        } else if peer.waiting == Waiting::Joined {
            self.join_failed(shared);
        }
        self.peers[p].waiting = Waiting::Gone;
    }

    /// The answer to peer `p`'s JOIN; true if it joined, when its first
    /// request is scheduled.
    fn join_reply(
        &mut self,
        p: usize,
        line: &[u8],
        now: Instant,
        took: u64,
        shared: &Shared,
    ) -> bool {
        if !line.starts_with(b"OK JOINED ") {
            self.join_failed(shared);
            self.peers[p].waiting = Waiting::Gone;
            return false;
        }
        let peer = &mut self.peers[p];
        peer.joined = true;
        self.joins_in_flight -= 1;
        self.out.joined += 1;
        self.out.join.record(took);
        self.out.last_join = Some(now);
        shared.joined.fetch_add(1, Ordering::SeqCst);
        // Real peers do not say HELLO in step: each starts at its own point
        // of the interval.
        let phase = self.plan.interval.mul_f64(spread(peer.index));
        self.timers.push(Reverse((now + phase, p)));
        true
    }

    /// A line of the answer to peer `p`'s `LIST`, with `rows_left` still
    /// owed after the `OK LIST` line: `None` while more are to come, else
    /// whether the request counts as answered. A count that does not parse
    /// is a bad reply, yet ends the request as answered.
    fn list_reply(
        &mut self,
        p: usize,
        rows_left: Option<u64>,
        line: &[u8],
        took: u64,
    ) -> Option<bool> {
        match rows_left {
            None if line.starts_with(b"OK LIST ") => {
                let count = std::str::from_utf8(&line[8..])
                    .ok()
                    .and_then(|n| n.parse::<u64>().ok());
                match count {
                    Some(0) => self.out.list.record(took),
                    Some(n) => {
                        self.peers[p].waiting = Waiting::List { rows_left: Some(n) };
                        return None;
                    }
                    None => self.out.bad_replies += 1,
                }
            }
            Some(left) if line.starts_with(b"USER ") => {
                if left > 1 {
                    self.peers[p].waiting = Waiting::List {
                        rows_left: Some(left - 1),
                    };
                    return None;
                }
                self.out.list.record(took);
            }
            _ => {
                self.out.bad_replies += 1;
                return Some(false);
            }
        }
        Some(true)
    }
}

/// A number in [0, 1) that spreads peer indices evenly (the golden ratio's
/// fractional part, times the index).
fn spread(index: usize) -> f64 {
    (index as f64 * 0.618_033_988_75).fract()
}
