//! The churn soak test: peers join, talk, leave, crash, go silent and take
//! over their own sessions at random against a real registry server in
//! another process, while small lobbies chat on `Lobby` hubs in this one;
//! then the load stops and the server must be back where it started.
//!
//! This module owns that scenario and its report. Like the other loads it
//! drives every connection from one thread with `poll` (the lobby hubs and
//! their reader threads are the library's own), stays on loopback, and
//! bounds every wait: each step of a session or a lobby has a deadline, and
//! so does the final settling. It must never open the live server's
//! database with `Store::open`, which marks everyone offline: it reads it
//! through a read-only SQLite connection, which WAL lets run beside the
//! server's writer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::registry::{BENCH_PASSWORD, peer_name};
use super::{
    BenchError, Histogram, Latency, Lines, ReadEnd, poll_readable, pollfd, proc_status_field,
    thread_count,
};
use crate::db::DbError;
use crate::line::LineReader;
use crate::lobby::{Lobby, LobbyConfig};

/// How long any reply may take before the run gives up on it.
const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// How long one stage of a lobby (gathering, a round of messages, the
/// departures, the close) may take.
const STAGE_DEADLINE: Duration = Duration::from_secs(10);

/// The reason every bench lobby closes with.
const CLOSE_REASON: &str = "BENCH_OVER";

/// Unexpected lines kept word for word in the report; the rest are counted.
const EXAMPLES: usize = 10;

/// How a churn run is set up.
#[derive(Debug, Clone)]
pub struct ChurnOptions {
    /// Simulated peers, accounts `peer_name(0..peers)`; one more account,
    /// `peer_name(peers)`, is the watcher that checks the end state.
    pub peers: usize,
    /// How long sessions and lobbies keep starting.
    pub duration: Duration,
    pub seed: u64,
    /// The hello timeout the server runs with: active peers speak well
    /// within it, silent ones wait it out.
    pub hello_timeout: Duration,
    /// The mean length of a session, from `OK JOINED` to its end.
    pub session: Duration,
    /// The longest pause between one session's end and the next connect.
    pub pause: Duration,
    /// Lobbies open at once.
    pub lobbies: usize,
    /// JOINs in flight at once (each costs the server a password hash).
    pub join_window: usize,
    /// Print a progress line to stderr every few seconds.
    pub progress: bool,
    /// The server, already running with `hello_timeout`.
    pub addr: SocketAddr,
    pub pid: u32,
    /// Its database, read (only) to check who it says is online.
    pub db: PathBuf,
}

impl ChurnOptions {
    pub fn new(peers: usize, addr: SocketAddr, pid: u32, db: PathBuf) -> ChurnOptions {
        ChurnOptions {
            peers,
            duration: Duration::from_secs(60),
            seed: 1,
            hello_timeout: Duration::from_secs(1),
            session: Duration::from_secs(4),
            pause: Duration::from_secs(1),
            lobbies: (peers / 20).clamp(1, 50),
            join_window: 4,
            progress: false,
            addr,
            pid,
            db,
        }
    }
}

/// The accounts a churn run of `peers` needs: the peers and the watcher.
pub fn accounts(peers: usize) -> usize {
    peers + 1
}

/// One resource of one process, before, during and after the load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// After start, before any load.
    pub baseline: Option<u64>,
    pub peak: Option<u64>,
    /// After everything closed and the server settled.
    pub end: Option<u64>,
}

impl Figures {
    fn see(&mut self, value: Option<u64>) {
        if let Some(value) = value {
            self.peak = Some(self.peak.map_or(value, |peak| peak.max(value)));
        }
    }

    /// True when the end is known and equals the baseline.
    pub fn back_to_baseline(&self) -> bool {
        self.end.is_some() && self.end == self.baseline
    }
}

/// What a churn run saw.
#[derive(Debug, Clone, Default)]
pub struct ChurnReport {
    pub peers: usize,
    pub seed: u64,
    /// The time sessions and lobbies kept starting.
    pub duration: Duration,
    /// The whole run: load, winding down and settling.
    pub elapsed: Duration,
    /// From sending JOIN to `OK JOINED`, takeovers included.
    pub join: Latency,
    /// Sessions that reached `OK JOINED`.
    pub sessions: u64,
    /// Sessions ended by `LOGOUT` (`OK BYE`, then the server closed).
    pub left: u64,
    /// Sessions ended by dropping the socket without a word.
    pub crashed: u64,
    /// Sessions ended by silence (`BYE TIMEOUT`, then the server closed).
    pub timed_out: u64,
    /// Sessions ended by a JOIN from a second connection (`BYE REPLACED`
    /// on the first); the second goes on as a new session.
    pub replaced: u64,
    /// Sessions still running when the load stopped, closed by dropping.
    pub cut: u64,
    /// Sessions that ended some other way (each also counted in
    /// `unexpected`).
    pub broken: u64,
    /// Replies that answered a request as it should be answered.
    pub replies: u64,
    /// Of those, `ERR OFFLINE` answers to SEARCH and INVITE.
    pub offline_answers: u64,
    /// Lines that were not what the request asks for, connections that
    /// closed or stalled when they should not have.
    pub unexpected: u64,
    /// The first few of those, as text.
    pub examples: Vec<String>,
    /// Lobbies opened, members admitted, and how members left.
    pub lobbies: u64,
    pub lobby_members: u64,
    pub lobby_leaves: u64,
    pub lobby_drops: u64,
    /// Messages owed to members that were in the lobby when they were sent.
    pub lobby_expected: u64,
    pub lobby_delivered: u64,
    pub lobby_lost: u64,
    /// Lobby lines out of order, duplicated, or not expected at all.
    pub lobby_unexpected: u64,
    pub server_threads: Figures,
    pub server_fds: Figures,
    /// `VmRSS` of the server, in bytes (for information: allocators keep
    /// memory, so it need not return to the baseline).
    pub server_memory: Figures,
    pub bench_threads: Figures,
    /// Whether a `LIST` came to show only the watcher, and how long after
    /// the load stopped.
    pub settled: bool,
    pub settle_time: Duration,
    /// The last settling `LIST`, names only.
    pub settle_list: Vec<String>,
    /// `status = 1` in the database while only the watcher was joined.
    pub online_settled: Vec<String>,
    /// `status = 1` in the database after the watcher logged out too.
    pub online_end: Vec<String>,
    /// Everything above that is not as it must be, in words.
    pub problems: Vec<String>,
}

/// Runs the scenario against the server in `options`, then checks that the
/// server and this process hold what they held before it.
pub fn run(options: &ChurnOptions) -> Result<ChurnReport, BenchError> {
    if options.peers == 0 {
        return Err(BenchError::Setup("a churn run needs peers".into()));
    }
    let started = Instant::now();
    let mut sampler = Sampler::new(options.pid);
    sampler.bench.baseline = thread_count(None);
    let (threads, fds) = server_baseline(options)?;
    sampler.threads.baseline = threads;
    sampler.fds.baseline = fds;
    sampler.memory.baseline = proc_status_field(Some(options.pid), "VmRSS");
    sampler.sample();

    let mut load = Load::new(options, sampler)?;
    load.run()?;
    let Load {
        mut report,
        mut sampler,
        join,
        ..
    } = load;
    report.join = join.summary();
    settle(options, &mut report, &mut sampler)?;
    report.server_threads = sampler.threads;
    report.server_fds = sampler.fds;
    report.server_memory = sampler.memory;
    report.bench_threads = sampler.bench;
    report.peers = options.peers;
    report.seed = options.seed;
    report.duration = options.duration;
    report.elapsed = started.elapsed();
    report.problems = problems(&report, &peer_name(options.peers));
    Ok(report)
}

/// The entries of a `/proc` directory, such as a process's `task` or `fd`.
fn entries(path: &str) -> Option<u64> {
    Some(std::fs::read_dir(path).ok()?.count() as u64)
}

/// Samples the server's threads, descriptors and memory, and this
/// process's threads, keeping the peaks.
struct Sampler {
    pid: u32,
    threads: Figures,
    fds: Figures,
    memory: Figures,
    bench: Figures,
}

impl Sampler {
    fn new(pid: u32) -> Sampler {
        Sampler {
            pid,
            threads: Figures::default(),
            fds: Figures::default(),
            memory: Figures::default(),
            bench: Figures::default(),
        }
    }

    fn server_now(&self) -> (Option<u64>, Option<u64>) {
        (
            entries(&format!("/proc/{}/task", self.pid)),
            entries(&format!("/proc/{}/fd", self.pid)),
        )
    }

    fn sample(&mut self) -> (Option<u64>, Option<u64>) {
        let (threads, fds) = self.server_now();
        self.threads.see(threads);
        self.fds.see(fds);
        self.memory.see(proc_status_field(Some(self.pid), "VmRSS"));
        self.bench.see(thread_count(None));
        (threads, fds)
    }
}

/// The server's threads and descriptors at rest: after one request has
/// shown that it serves (its hub, sweeper and hashing threads are up), and
/// once the counts have held still for a moment.
fn server_baseline(options: &ChurnOptions) -> Result<(Option<u64>, Option<u64>), BenchError> {
    {
        let stream = TcpStream::connect(options.addr)?;
        stream.set_read_timeout(Some(REPLY_DEADLINE))?;
        (&stream).write_all(b"HELP\n")?;
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line)?;
        if !line.starts_with("OK HELP") {
            return Err(BenchError::Setup(format!(
                "the server answered HELP with {:?}",
                line.trim_end()
            )));
        }
    }
    let sampler = Sampler::new(options.pid);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = sampler.server_now();
    let mut steady = 0;
    while steady < 5 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        let now = sampler.server_now();
        steady = if now == last { steady + 1 } else { 0 };
        last = now;
    }
    Ok(last)
}

/// splitmix64: the same sequence for the same `--seed`, in ten lines
/// rather than a crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn within(&mut self, lo: Duration, hi: Duration) -> Duration {
        lo + hi.saturating_sub(lo).mul_f64(self.unit())
    }
}

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
enum Phase {
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

/// What a connection waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    Nothing,
    Joined,
    Hello,
    /// `OK LIST <n>`, then `n` rows.
    List {
        rows_left: Option<u64>,
    },
    Search,
    Invite,
    /// `OK BYE`
    LoggedOut,
    /// This exact `BYE` line.
    Bye(&'static str),
}

/// What one line did to what a connection waits for.
enum Heard {
    /// The request is answered.
    Answered {
        offline: bool,
    },
    /// More lines of the same answer are to come.
    More,
    /// The last line the server sends on this connection.
    Farewell,
    Wrong,
}

fn hear(owed: &mut Owed, line: &[u8]) -> Heard {
    let answered = Heard::Answered { offline: false };
    let offline = line.starts_with(b"ERR OFFLINE ");
    match *owed {
        Owed::Joined if line.starts_with(b"OK JOINED ") => answered,
        Owed::Hello if line == b"OK HELLO" => answered,
        Owed::List { rows_left: None } if line.starts_with(b"OK LIST ") => {
            match std::str::from_utf8(&line[8..]).map(str::parse::<u64>) {
                Ok(Ok(0)) => answered,
                Ok(Ok(n)) => {
                    *owed = Owed::List { rows_left: Some(n) };
                    Heard::More
                }
                _ => Heard::Wrong,
            }
        }
        Owed::List {
            rows_left: Some(left),
        } if line.starts_with(b"USER ") => {
            if left > 1 {
                *owed = Owed::List {
                    rows_left: Some(left - 1),
                };
                Heard::More
            } else {
                answered
            }
        }
        Owed::Search if line.starts_with(b"OK USER ") => answered,
        Owed::Invite if line.starts_with(b"OK TICKET ") => answered,
        Owed::Search | Owed::Invite if offline => Heard::Answered { offline: true },
        Owed::LoggedOut if line == b"OK BYE" => Heard::Farewell,
        Owed::Bye(bye) if line == bye.as_bytes() => Heard::Farewell,
        _ => Heard::Wrong,
    }
}

/// One connection to the registry.
struct Conn {
    stream: TcpStream,
    lines: Lines,
    owed: Owed,
    sent: Instant,
    /// The server's last line has come; only the close may follow.
    farewell: bool,
}

impl Conn {
    /// Connects and sends `line` (blocking: a loopback connect and one
    /// short line cannot wait long), then turns non-blocking.
    fn open(addr: SocketAddr, line: &str, owed: Owed) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        (&stream).write_all(line.as_bytes())?;
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            lines: Lines::default(),
            owed,
            sent: Instant::now(),
            farewell: false,
        })
    }

    /// Sends one short line on a connection with nothing in flight, whose
    /// send buffer therefore has room; false if the connection broke.
    fn send(&mut self, line: &str, owed: Owed) -> bool {
        match (&self.stream).write(line.as_bytes()) {
            Ok(n) if n == line.len() => {
                self.owed = owed;
                self.sent = Instant::now();
                true
            }
            _ => false,
        }
    }
}

struct Peer {
    index: usize,
    name: String,
    phase: Phase,
    conn: Option<Conn>,
    /// The second connection of a takeover.
    successor: Option<Conn>,
    /// When the phase's next step is due, or its deadline.
    due: Instant,
    end_at: Instant,
    /// Sessions begun, which picks the next ending.
    sessions: usize,
    /// How many join slots this peer holds (its JOIN, its successor's).
    slots: usize,
}

/// Where a lobby is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
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

struct Member {
    name: String,
    stream: Option<TcpStream>,
    lines: Lines,
    /// Stays to the end, or leaves during `Departing`.
    stays: bool,
    /// Sent `LEAVE` and waits for the hub to close the connection.
    leaving: bool,
    ready: bool,
    /// The next sequence number expected from each sender this round.
    next: HashMap<String, u64>,
    got: u64,
    expected: u64,
    lefts: usize,
    closed: bool,
}

struct Room {
    lobby: Option<Lobby>,
    leader: String,
    members: Vec<Member>,
    stage: Stage,
    due: Instant,
    round: u32,
    leavers: usize,
}

/// Which connection a `pollfd` stands for.
#[derive(Clone, Copy)]
enum Target {
    Main(usize),
    Successor(usize),
    Member(usize, usize),
}

/// The running load: every peer and lobby, driven from one thread.
struct Load<'a> {
    options: &'a ChurnOptions,
    rng: Rng,
    peers: Vec<Peer>,
    rooms: Vec<Room>,
    /// Where lobby members connect, to be admitted to a hub.
    listener: TcpListener,
    joins_in_flight: usize,
    stopping: bool,
    scratch: Vec<u8>,
    join: Histogram,
    report: ChurnReport,
    sampler: Sampler,
}

impl<'a> Load<'a> {
    fn new(options: &'a ChurnOptions, sampler: Sampler) -> Result<Load<'a>, BenchError> {
        let mut rng = Rng(options.seed);
        let now = Instant::now();
        // Peers start spread over the first pause, not all at once.
        let peers = (0..options.peers)
            .map(|index| Peer {
                index,
                name: peer_name(index),
                phase: Phase::Idle,
                conn: None,
                successor: None,
                due: now + rng.within(Duration::ZERO, options.pause),
                end_at: now,
                sessions: index % ENDINGS.len(),
                slots: 0,
            })
            .collect();
        let rooms = (0..options.lobbies)
            .map(|_| Room {
                lobby: None,
                leader: String::new(),
                members: Vec::new(),
                stage: Stage::Waiting,
                due: now + rng.within(Duration::ZERO, options.pause),
                round: 0,
                leavers: 0,
            })
            .collect();
        Ok(Load {
            options,
            rng,
            peers,
            rooms,
            listener: TcpListener::bind("127.0.0.1:0")?,
            joins_in_flight: 0,
            stopping: false,
            scratch: vec![0u8; 64 * 1024],
            join: Histogram::new(),
            report: ChurnReport::default(),
            sampler,
        })
    }

    fn run(&mut self) -> Result<(), BenchError> {
        let start = Instant::now();
        let stop_at = start + self.options.duration;
        let mut finish_by = None;
        let mut next_sample = start;
        let mut next_progress = start + Duration::from_secs(5);
        loop {
            let now = Instant::now();
            if !self.stopping && now >= stop_at {
                self.stopping = true;
                // Silent sessions need the hello timeout (and a sweep) to
                // end; everything else needs a reply or two.
                finish_by =
                    Some(now + REPLY_DEADLINE + STAGE_DEADLINE + self.options.hello_timeout * 3);
            }
            if self.stopping && self.quiet() {
                break;
            }
            if finish_by.is_some_and(|by| now >= by) {
                self.abandon();
                break;
            }
            if now >= next_sample {
                self.sampler.sample();
                next_sample = now + Duration::from_millis(100);
            }
            if self.options.progress && now >= next_progress {
                next_progress = now + Duration::from_secs(5);
                self.progress(now.duration_since(start));
            }
            for p in 0..self.peers.len() {
                self.tick_peer(p, now);
            }
            for r in 0..self.rooms.len() {
                self.tick_room(r, now);
            }
            self.poll_once()?;
        }
        self.sampler.sample();
        Ok(())
    }

    fn progress(&self, elapsed: Duration) {
        let joined = self
            .peers
            .iter()
            .filter(|p| !matches!(p.phase, Phase::Idle | Phase::Joining))
            .count();
        let open = self
            .rooms
            .iter()
            .filter(|r| !matches!(r.stage, Stage::Waiting | Stage::Done))
            .count();
        let (threads, fds) = self.sampler.server_now();
        let show = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
        eprintln!(
            "bench: churn {:.0} s: {} sessions, {joined} joined now, {open} lobbies open, server {} threads {} fds, {} unexpected",
            elapsed.as_secs_f64(),
            self.report.sessions,
            show(threads),
            show(fds),
            self.report.unexpected,
        );
    }

    /// True once every peer is disconnected and every lobby is over.
    fn quiet(&self) -> bool {
        self.peers.iter().all(|p| p.phase == Phase::Idle)
            && self.rooms.iter().all(|r| r.stage == Stage::Done)
    }

    /// The finishing deadline passed: whatever is still open is dropped
    /// and reported.
    fn abandon(&mut self) {
        for p in 0..self.peers.len() {
            if self.peers[p].phase != Phase::Idle {
                let what = format!(
                    "{} still in {:?} when the run had to end",
                    self.peers[p].name, self.peers[p].phase
                );
                self.broken(p, what);
            }
        }
        for room in &mut self.rooms {
            if room.stage != Stage::Done {
                self.report.lobby_unexpected += 1;
                note(
                    &mut self.report,
                    format!(
                        "lobby of {} still in {:?} at the end",
                        room.leader, room.stage
                    ),
                );
            }
            if let Some(lobby) = room.lobby.take() {
                lobby.close(CLOSE_REASON);
            }
            room.members.clear();
            room.stage = Stage::Done;
        }
    }

    fn unexpected(&mut self, what: String) {
        self.report.unexpected += 1;
        note(&mut self.report, what);
    }

    /// Ends peer `p`'s session in a way it should not have ended.
    fn broken(&mut self, p: usize, what: String) {
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
        format!(
            "JOIN {} {BENCH_PASSWORD} {}\n",
            peer.name,
            9000 + peer.index % 1000
        )
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

    fn tick_peer(&mut self, p: usize, now: Instant) {
        let peer = &self.peers[p];
        let owed = peer.conn.as_ref().map(|c| (c.owed, c.sent));
        match peer.phase {
            Phase::Idle => {
                if self.stopping
                    || now < peer.due
                    || self.joins_in_flight >= self.options.join_window.max(1)
                {
                    return;
                }
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
            Phase::Active => match owed {
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
            },
            Phase::Joining | Phase::Leaving | Phase::Silent | Phase::Handover | Phase::Takeover => {
                if now >= peer.due {
                    let what = format!("{} waited too long in {:?}", peer.name, peer.phase);
                    self.broken(p, what);
                }
            }
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
            0 => ("LIST\n".to_string(), Owed::List { rows_left: None }),
            1 => (format!("SEARCH {other}\n"), Owed::Search),
            2 => (format!("INVITE {other}\n"), Owed::Invite),
            _ => ("HELLO\n".to_string(), Owed::Hello),
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
                conn.send("LOGOUT\n", Owed::LoggedOut)
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
                conn.send("HELLO\n", Owed::Hello)
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

    fn poll_once(&mut self) -> Result<(), BenchError> {
        let mut targets = Vec::new();
        let mut fds = Vec::new();
        for (p, peer) in self.peers.iter().enumerate() {
            if let Some(conn) = &peer.conn {
                targets.push(Target::Main(p));
                fds.push(pollfd(&conn.stream));
            }
            if let Some(conn) = &peer.successor {
                targets.push(Target::Successor(p));
                fds.push(pollfd(&conn.stream));
            }
        }
        for (r, room) in self.rooms.iter().enumerate() {
            for (m, member) in room.members.iter().enumerate() {
                if let Some(stream) = &member.stream {
                    targets.push(Target::Member(r, m));
                    fds.push(pollfd(stream));
                }
            }
        }
        let wait = Duration::from_millis(5);
        if fds.is_empty() {
            thread::sleep(wait);
            return Ok(());
        }
        poll_readable(&mut fds, wait)?;
        let now = Instant::now();
        for (fd, target) in fds.iter().zip(targets) {
            if fd.revents == 0 {
                continue;
            }
            match target {
                Target::Main(p) => self.read_main(p, now),
                Target::Successor(p) => self.read_successor(p, now),
                Target::Member(r, m) => self.read_member(r, m),
            }
        }
        Ok(())
    }

    fn read_main(&mut self, p: usize, now: Instant) {
        let Some(conn) = self.peers[p].conn.as_mut() else {
            return;
        };
        let mut heard = Vec::new();
        let (_, end) = conn.lines.read(&conn.stream, &mut self.scratch, |line| {
            heard.push(line.to_vec())
        });
        for line in heard {
            let peer = &mut self.peers[p];
            let Some(conn) = peer.conn.as_mut() else {
                return;
            };
            let phase = peer.phase;
            let outcome = if conn.farewell {
                Heard::Wrong
            } else {
                hear(&mut conn.owed, &line)
            };
            match outcome {
                Heard::Answered { offline } => {
                    self.report.replies += 1;
                    self.report.offline_answers += u64::from(offline);
                    let took = now.duration_since(conn.sent);
                    conn.owed = Owed::Nothing;
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
                Heard::More => {}
                Heard::Farewell => conn.farewell = true,
                Heard::Wrong => {
                    let text = String::from_utf8_lossy(&line).into_owned();
                    let name = peer.name.clone();
                    if line.starts_with(b"BYE ") {
                        // The server is closing this connection; what
                        // follows is the close itself.
                        conn.farewell = true;
                        self.report.broken += u64::from(phase != Phase::Joining);
                        self.unexpected(format!("{name} in {phase:?} got {text:?}"));
                        self.idle(p, now);
                        return;
                    }
                    self.unexpected(format!("{name} in {phase:?} got {text:?}"));
                }
            }
        }
        // A line may have ended the session already (a takeover cut short
        // by the stop, say); then the close is ours, not news.
        if end != ReadEnd::Closed || self.peers[p].conn.is_none() {
            return;
        }
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

    fn read_successor(&mut self, p: usize, now: Instant) {
        let Some(conn) = self.peers[p].successor.as_mut() else {
            return;
        };
        let mut heard = Vec::new();
        let (_, end) = conn.lines.read(&conn.stream, &mut self.scratch, |line| {
            heard.push(line.to_vec())
        });
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

    fn tick_room(&mut self, r: usize, now: Instant) {
        let room = &self.rooms[r];
        match room.stage {
            Stage::Waiting => {
                if self.stopping {
                    self.rooms[r].stage = Stage::Done;
                } else if now >= room.due
                    && let Err(err) = self.open_room(r, now)
                {
                    self.report.lobby_unexpected += 1;
                    note(&mut self.report, format!("a lobby could not open: {err}"));
                    self.end_room(r, now);
                }
            }
            Stage::Gathering => {
                if room.members.iter().all(|m| m.ready) {
                    self.chat(r, now);
                } else if now >= room.due {
                    self.room_stalled(r, now);
                }
            }
            Stage::Chatting => {
                let heard_all = room
                    .members
                    .iter()
                    .filter(|m| m.stream.is_some() && (room.round == 1 || m.stays))
                    .all(|m| m.got >= m.expected);
                if heard_all || now >= room.due {
                    self.count_round(r);
                    if self.rooms[r].round == 1 {
                        self.depart(r, now);
                    } else {
                        self.close_room(r, now);
                    }
                }
            }
            Stage::Departing => {
                let done = room.members.iter().all(|m| {
                    if m.stays {
                        m.lefts >= room.leavers
                    } else {
                        m.stream.is_none()
                    }
                });
                if done {
                    self.chat(r, now);
                } else if now >= room.due {
                    self.room_stalled(r, now);
                }
            }
            Stage::Closing => {
                if room.members.iter().all(|m| m.stream.is_none()) {
                    self.end_room(r, now);
                } else if now >= room.due {
                    self.room_stalled(r, now);
                }
            }
            Stage::Done => {}
        }
    }

    /// Opens lobby `r`: a hub led by one peer, and two to four members
    /// admitted over loopback as a leader admits them.
    fn open_room(&mut self, r: usize, now: Instant) -> Result<(), BenchError> {
        let size = 2 + self.rng.below(3) as usize;
        // Names are only labels here; five distinct ones are always there.
        let pool = self.options.peers.max(size + 1) as u64;
        let mut names: Vec<String> = Vec::with_capacity(size + 1);
        while names.len() < size + 1 {
            let name = peer_name(self.rng.below(pool) as usize);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let leader = names.remove(0);
        let (notices, _) = crossbeam_channel::unbounded();
        let lobby = Lobby::start(LobbyConfig::new(leader.clone()), notices)?;
        let addr = self.listener.local_addr()?;
        let mut members = Vec::with_capacity(size);
        for name in names {
            let client = TcpStream::connect(addr)?;
            let (server, from) = self.listener.accept()?;
            if from != client.local_addr()? {
                return Err(BenchError::Setup(
                    "a stranger connected to the lobby listener".into(),
                ));
            }
            let reader = LineReader::new(BufReader::new(server.try_clone()?));
            lobby.admit(name.clone(), reader, server);
            client.set_nonblocking(true)?;
            client.set_nodelay(true)?;
            members.push(Member {
                name,
                stream: Some(client),
                lines: Lines::default(),
                stays: true,
                leaving: false,
                ready: false,
                next: HashMap::new(),
                got: 0,
                expected: 0,
                lefts: 0,
                closed: false,
            });
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
            member.next.clear();
            member.got = 0;
            // The other members and the leader.
            member.expected = present * count;
            let Some(stream) = &member.stream else {
                continue;
            };
            let mut lines = String::new();
            for seq in 0..count {
                lines.push_str(&format!("MSG r{round} {seq}\n"));
            }
            // A few short lines fit in an idle socket's send buffer.
            if !matches!((&*stream).write(lines.as_bytes()), Ok(n) if n == lines.len()) {
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
                let sent = member
                    .stream
                    .as_ref()
                    .is_some_and(|s| matches!((&*s).write(b"LEAVE\n"), Ok(6)));
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

    fn read_member(&mut self, r: usize, m: usize) {
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
            if member.leaving || line == b"HELLO" || line.starts_with(b"JOINED ") {
                continue;
            }
            if line.starts_with(b"MEMBERS ") {
                if member.ready {
                    wrong.push(line);
                }
                member.ready = true;
            } else if line.starts_with(b"LEFT ") {
                member.lefts += 1;
            } else if line == format!("CLOSED {CLOSE_REASON}").as_bytes() {
                member.closed = true;
            } else if !hear_msg(member, round, &line) {
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

fn note(report: &mut ChurnReport, what: String) {
    if report.examples.len() < EXAMPLES {
        report.examples.push(what);
    }
}

/// After the load: joins as the watcher and LISTs until only the watcher is
/// online, reads the database, logs out, reads it again, and waits (with a
/// deadline) for the server's threads and descriptors to come back down.
fn settle(
    options: &ChurnOptions,
    report: &mut ChurnReport,
    sampler: &mut Sampler,
) -> Result<(), BenchError> {
    let start = Instant::now();
    let deadline = start + REPLY_DEADLINE + options.hello_timeout * 3;
    let watcher = peer_name(options.peers);
    let stream = TcpStream::connect(options.addr)?;
    stream.set_read_timeout(Some(REPLY_DEADLINE))?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    (&stream).write_all(format!("JOIN {watcher} {BENCH_PASSWORD} 9999\n").as_bytes())?;
    reader.read_line(&mut line)?;
    if !line.starts_with("OK JOINED ") {
        return Err(BenchError::Setup(format!(
            "the watcher's JOIN got {:?}",
            line.trim_end()
        )));
    }
    loop {
        (&stream).write_all(b"LIST\n")?;
        line.clear();
        reader.read_line(&mut line)?;
        let Some(count) = line
            .trim_end()
            .strip_prefix("OK LIST ")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            return Err(BenchError::Setup(format!(
                "the watcher's LIST got {:?}",
                line.trim_end()
            )));
        };
        let mut names = Vec::with_capacity(count);
        for _ in 0..count {
            line.clear();
            reader.read_line(&mut line)?;
            if let Some(name) = line.strip_prefix("USER ").and_then(|r| r.split(' ').next()) {
                names.push(name.to_string());
            }
        }
        report.settle_list = names;
        report.settled = report.settle_list == [watcher.clone()];
        if report.settled || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    report.settle_time = start.elapsed();
    // The database follows the registry's memory (LIST) a moment later: a
    // writer thread brings it up to date off the hub's path.
    loop {
        report.online_settled = online_in_db(&options.db)?;
        if report.online_settled == [watcher.clone()] || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    (&stream).write_all(b"LOGOUT\n")?;
    line.clear();
    reader.read_line(&mut line)?;
    if line.trim_end() != "OK BYE" {
        return Err(BenchError::Setup(format!(
            "the watcher's LOGOUT got {:?}",
            line.trim_end()
        )));
    }
    // The server closes the connection after `OK BYE`.
    line.clear();
    let _ = reader.read_line(&mut line);
    drop(reader);
    drop(stream);
    // `OK BYE` comes after the user went offline, so the database already
    // says so.
    report.online_end = online_in_db(&options.db)?;

    // The connection threads of the last closes may still be on their way
    // out; wait for them, but not for ever.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut threads, mut fds) = sampler.sample();
    while (threads != sampler.threads.baseline || fds != sampler.fds.baseline)
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(20));
        (threads, fds) = sampler.sample();
    }
    sampler.threads.end = threads;
    sampler.fds.end = fds;
    sampler.memory.end = proc_status_field(Some(sampler.pid), "VmRSS");
    sampler.bench.end = thread_count(None);
    Ok(())
}

/// The users the database marks online, from a read-only connection of our
/// own (`Store::open` would mark everyone offline under the live server).
pub fn online_in_db(path: &Path) -> Result<Vec<String>, BenchError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(DbError::from)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(DbError::from)?;
    let mut stmt = conn
        .prepare("SELECT user_name FROM users WHERE status = 1 ORDER BY user_name")
        .map_err(DbError::from)?;
    let names = stmt
        .query_map([], |row| row.get(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .map_err(DbError::from)?;
    Ok(names)
}

/// What in `report` is not as it must be.
fn problems(report: &ChurnReport, watcher: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut check = |ok: bool, what: String| {
        if !ok {
            problems.push(what);
        }
    };
    let show = |f: &Figures| {
        format!(
            "{} at the end, {} at the baseline",
            f.end.map_or("?".into(), |n| n.to_string()),
            f.baseline.map_or("?".into(), |n| n.to_string())
        )
    };
    check(
        report.server_threads.back_to_baseline(),
        format!("server threads: {}", show(&report.server_threads)),
    );
    check(
        report.server_fds.back_to_baseline(),
        format!("server descriptors: {}", show(&report.server_fds)),
    );
    check(
        report.bench_threads.back_to_baseline(),
        format!("bench threads: {}", show(&report.bench_threads)),
    );
    check(
        report.settled,
        format!(
            "LIST still showed {:?} besides the watcher",
            report
                .settle_list
                .iter()
                .filter(|n| n.as_str() != watcher)
                .collect::<Vec<_>>()
        ),
    );
    check(
        report.online_settled == [watcher],
        format!(
            "the database had {:?} online while only {watcher} was",
            report.online_settled
        ),
    );
    check(
        report.online_end.is_empty(),
        format!(
            "the database had {:?} online with nobody connected",
            report.online_end
        ),
    );
    check(
        report.unexpected == 0,
        format!("{} unexpected replies or closes", report.unexpected),
    );
    check(
        report.lobby_lost == 0,
        format!("{} lobby messages lost", report.lobby_lost),
    );
    check(
        report.lobby_unexpected == 0,
        format!("{} unexpected lobby lines", report.lobby_unexpected),
    );
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(mut owed: Owed, before: &[&str], last: &str, expected: &str) {
        for line in before {
            assert!(
                matches!(hear(&mut owed, line.as_bytes()), Heard::More),
                "{line}"
            );
        }
        let got = match hear(&mut owed, last.as_bytes()) {
            Heard::Answered { offline: false } => "answered",
            Heard::Answered { offline: true } => "offline",
            Heard::More => "more",
            Heard::Farewell => "farewell",
            Heard::Wrong => "wrong",
        };
        assert_eq!(got, expected, "{owed:?} {last}");
    }

    #[test]
    fn replies() {
        check(Owed::Hello, &[], "OK HELLO", "answered");
        check(
            Owed::Joined,
            &[],
            "OK JOINED bench00001 127.0.0.1 9001",
            "answered",
        );
        check(Owed::List { rows_left: None }, &[], "OK LIST 0", "answered");
        check(
            Owed::List { rows_left: None },
            &["OK LIST 2", "USER a 127.0.0.1 1"],
            "USER b 127.0.0.1 2",
            "answered",
        );
        check(
            Owed::Search,
            &[],
            "ERR OFFLINE bench00002 is offline",
            "offline",
        );
        check(Owed::Invite, &[], "OK TICKET 00ff", "answered");
        check(Owed::LoggedOut, &[], "OK BYE", "farewell");
        check(Owed::Bye("BYE REPLACED"), &[], "BYE REPLACED", "farewell");
        check(Owed::Bye("BYE REPLACED"), &[], "BYE TIMEOUT", "wrong");
        check(Owed::Hello, &[], "BYE TIMEOUT", "wrong");
        check(Owed::Search, &[], "ERR NOT_JOINED JOIN first", "wrong");
        check(Owed::Nothing, &[], "OK HELLO", "wrong");
    }

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
