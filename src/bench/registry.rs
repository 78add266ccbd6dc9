//! The registry benchmark: thousands of peers join a real registry server,
//! say HELLO on schedule, and a few LIST and SEARCH, from a handful of
//! driver threads that multiplex non-blocking sockets with `poll`.
//!
//! Each peer has at most one request in flight, so a driver only polls the
//! sockets that owe it a reply; an idle peer costs nothing but its place in
//! a timer heap. A peer the server wrongly timed out finds `BYE TIMEOUT`
//! where its next reply should be, and the final `LIST` must name everyone.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{
    BenchError, Histogram, Latency, Lines, ReadEnd, peak_memory, poll_readable, pollfd,
    reset_peak_memory, thread_count,
};
use crate::db::Store;
use crate::password::Hasher;
use crate::registry::{RegistryConfig, Server};

/// The password of every bench account: one hash serves them all.
pub const BENCH_PASSWORD: &str = "bench-password";

/// The name of bench peer `index`.
pub fn peer_name(index: usize) -> String {
    format!("bench{index:05}")
}

/// Where the server under test runs.
#[derive(Debug, Clone)]
pub enum ServerAt {
    /// Started by `run` on a thread of this process, on this database.
    InProcess(PathBuf),
    /// Already running in another process.
    Child { addr: SocketAddr, pid: u32 },
}

/// How a registry run is set up.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    pub peers: usize,
    /// How long the peers go on once all of them joined.
    pub duration: Duration,
    /// Time between one peer's requests.
    pub hello_interval: Duration,
    /// The server's hello timeout (for an in-process server).
    pub hello_timeout: Duration,
    /// The fraction of peers that send `LIST` instead of `HELLO` each
    /// interval; as many send `SEARCH`.
    pub list_fraction: f64,
    /// JOINs in flight at once, over all drivers.
    pub join_window: usize,
    /// Threads that drive the peers.
    pub drivers: usize,
    pub progress: bool,
    pub server: ServerAt,
}

impl RegistryOptions {
    pub fn new(peers: usize) -> RegistryOptions {
        RegistryOptions {
            peers,
            duration: Duration::from_secs(10),
            hello_interval: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(30),
            list_fraction: 0.01,
            join_window: 8,
            drivers: 2,
            progress: false,
            server: ServerAt::InProcess(PathBuf::from("registry.db")),
        }
    }
}

/// What a registry run measured.
#[derive(Debug, Clone)]
pub struct RegistryReport {
    pub peers: usize,
    pub joined: u64,
    pub join_failures: u64,
    /// From the first JOIN sent to the last answered.
    pub join_time: Duration,
    pub join: Latency,
    /// HELLOs sent once everyone had joined.
    pub hello: Latency,
    /// HELLOs sent while others were still joining (and hashing).
    pub hello_during_joins: Latency,
    pub list: Latency,
    pub search: Latency,
    /// Replies that were not what the request asks for.
    pub bad_replies: u64,
    /// Joined peers the server closed or timed out before the end.
    pub wrongly_offline: u64,
    /// Rows in a `LIST` sent after the run.
    pub final_list_rows: u64,
    /// The server's threads at their peak (net of the load's own threads
    /// when the server runs in this process).
    pub server_threads: Option<u64>,
    pub peak_memory: Option<u64>,
    pub memory_of: String,
}

impl RegistryReport {
    pub fn join_rate(&self) -> f64 {
        let secs = self.join_time.as_secs_f64();
        if secs > 0.0 {
            self.joined as f64 / secs
        } else {
            0.0
        }
    }
}

/// Creates the accounts `peer_name(0..peers)` with `BENCH_PASSWORD` in the
/// database at `path`, hashing the password once for all of them. Returns
/// how many were new; existing accounts are left as they are.
pub fn prepare_db(path: &Path, peers: usize) -> Result<usize, BenchError> {
    let store = Store::open(path)?;
    let hash = Hasher::new(1)
        .map_err(|err| BenchError::Setup(err.to_string()))?
        .hash(BENCH_PASSWORD)
        .map_err(BenchError::Setup)?;
    let mut created = 0;
    for index in 0..peers {
        if store.add_user(&peer_name(index), &hash)? {
            created += 1;
        }
    }
    Ok(created)
}

/// The registry a benchmark runs: on `127.0.0.1:0`, with the limits per
/// address and per user lifted, since every simulated peer comes from this
/// one machine and the point is the server's capacity, not its limits.
fn bench_config(db: &Path, hello_timeout: Duration) -> RegistryConfig {
    let mut config = RegistryConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), db);
    config.hello_timeout = hello_timeout;
    config.max_per_address = config.max_connections;
    config.max_invites_per_user = usize::MAX;
    config.registrations.max = usize::MAX;
    config
}

/// The body of the server child process: serves on `127.0.0.1:0`, prints
/// the address on stdout, and stops when stdin closes.
pub fn serve_child(db: &Path, hello_timeout: Duration) -> Result<(), BenchError> {
    let server = Server::bind(bench_config(db, hello_timeout))?;
    let stopper = server.stopper();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", server.local_addr())?;
        out.flush()?;
    }
    // The parent's end of stdin closing (even if it crashed) stops us.
    thread::Builder::new()
        .name("bench-stdin".into())
        .spawn(move || {
            let mut sink = String::new();
            while let Ok(1..) = std::io::stdin().read_line(&mut sink) {
                sink.clear();
            }
            stopper.stop();
        })?;
    server.run()?;
    Ok(())
}

/// Runs one registry benchmark.
pub fn run(options: &RegistryOptions) -> Result<RegistryReport, BenchError> {
    if options.peers == 0 {
        return Err(BenchError::Setup("a registry benchmark needs peers".into()));
    }
    let drivers = options.drivers.clamp(1, options.peers);
    match &options.server {
        ServerAt::Child { addr, pid } => {
            let mut report = drive(options, *addr, drivers, || thread_count(Some(*pid)))?;
            report.peak_memory = peak_memory(Some(*pid));
            report.memory_of = format!("server child process {pid}");
            Ok(report)
        }
        ServerAt::InProcess(db) => {
            let baseline = thread_count(None).unwrap_or(0);
            reset_peak_memory();
            let server = Server::bind(bench_config(db, options.hello_timeout))?;
            let addr = server.local_addr();
            let stopper = server.stopper();
            let handle = thread::Builder::new()
                .name("bench-registry".into())
                .spawn(move || server.run())?;
            // The load's own threads: the drivers (the caller's thread was
            // in the baseline).
            let load = drivers as u64;
            let result = drive(options, addr, drivers, || {
                thread_count(None).map(|n| n.saturating_sub(baseline + load))
            });
            let memory = peak_memory(None);
            stopper.stop();
            let served = handle
                .join()
                .map_err(|_| BenchError::Setup("the registry server panicked".into()))?;
            served?;
            let mut report = result?;
            report.peak_memory = memory;
            report.memory_of = "bench process (hosts the server and the load)".into();
            Ok(report)
        }
    }
}

/// State the main thread and the drivers share.
struct Shared {
    /// Set once every peer has joined or failed to.
    all_joined: AtomicBool,
    /// Set when the drivers should stop sending and finish.
    stopping: AtomicBool,
    /// Set when the drivers must return at once.
    abort: AtomicBool,
    joined: AtomicU64,
    failed: AtomicU64,
    requests: AtomicU64,
}

fn drive(
    options: &RegistryOptions,
    addr: SocketAddr,
    drivers: usize,
    threads: impl Fn() -> Option<u64>,
) -> Result<RegistryReport, BenchError> {
    let shared = Arc::new(Shared {
        all_joined: AtomicBool::new(false),
        stopping: AtomicBool::new(false),
        abort: AtomicBool::new(false),
        joined: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        requests: AtomicU64::new(0),
    });
    let window = (options.join_window / drivers).max(1);
    let mut handles: Vec<JoinHandle<Driven>> = Vec::with_capacity(drivers);
    for d in 0..drivers {
        let indices: Vec<usize> = (d..options.peers).step_by(drivers).collect();
        let mine = Arc::clone(&shared);
        let plan = Plan {
            addr,
            peers: options.peers,
            interval: options.hello_interval,
            list_period: period(options.list_fraction),
            window,
        };
        let spawned = thread::Builder::new()
            .name(format!("bench-driver-{d}"))
            .spawn(move || Driver::new(plan, indices).run(&mine));
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(err) => {
                shared.abort.store(true, Ordering::SeqCst);
                for handle in handles {
                    let _ = handle.join();
                }
                return Err(err.into());
            }
        }
    }

    let mut peak_threads = None;
    let mut sample = || {
        if let Some(now) = threads() {
            peak_threads = Some(peak_threads.unwrap_or(0).max(now));
        }
    };
    // Joining is bounded by the password hashes: about 20 ms each per core.
    let join_deadline = Instant::now()
        + Duration::from_secs(60)
        + Duration::from_millis(100) * options.peers as u32;
    let mut last_progress = Instant::now();
    let step = Duration::from_millis(100);
    let peers = options.peers as u64;
    let mut joins_done = false;
    loop {
        let joined = shared.joined.load(Ordering::SeqCst);
        let failed = shared.failed.load(Ordering::SeqCst);
        if joined + failed >= peers {
            joins_done = true;
            break;
        }
        if Instant::now() >= join_deadline || handles.iter().all(|h| h.is_finished()) {
            break;
        }
        if options.progress && last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            sample();
            eprintln!("bench: joined {joined}/{peers} ({failed} failed)");
        }
        thread::sleep(step);
    }
    shared.all_joined.store(true, Ordering::SeqCst);
    sample();
    if joins_done {
        let end = Instant::now() + options.duration;
        while Instant::now() < end {
            thread::sleep(step.min(end.saturating_duration_since(Instant::now())));
            if last_progress.elapsed() >= Duration::from_secs(2) {
                last_progress = Instant::now();
                sample();
                if options.progress {
                    eprintln!(
                        "bench: {} requests answered",
                        shared.requests.load(Ordering::Relaxed)
                    );
                }
            }
        }
    }
    sample();
    shared.stopping.store(true, Ordering::SeqCst);

    let mut total = Driven::default();
    let mut streams = Vec::new();
    for handle in handles {
        let driven = handle
            .join()
            .map_err(|_| BenchError::Setup("a driver thread panicked".into()))?;
        total.merge(&driven);
        streams.extend(driven.streams);
    }
    // Ask the last-joined peer rather than the first: if the server had
    // timed anyone out, the oldest connections would be the first to go.
    let final_list_rows = match streams.last() {
        Some(stream) => final_list(stream)?,
        None => 0,
    };
    let threads_now = threads();
    drop(streams);
    Ok(RegistryReport {
        peers: options.peers,
        joined: total.joined,
        join_failures: total.join_failures,
        join_time: total
            .last_join
            .zip(total.first_join)
            .map_or(Duration::ZERO, |(last, first)| last.duration_since(first)),
        join: total.join.summary(),
        hello: total.hello.summary(),
        hello_during_joins: total.hello_during_joins.summary(),
        list: total.list.summary(),
        search: total.search.summary(),
        bad_replies: total.bad_replies,
        wrongly_offline: total.wrongly_offline,
        final_list_rows,
        server_threads: peak_threads.or(threads_now),
        peak_memory: None,
        memory_of: String::new(),
    })
}

/// Every how many intervals a peer LISTs, for a fraction of peers per
/// interval; `None` for none.
fn period(fraction: f64) -> Option<u64> {
    if fraction > 0.0 && fraction.is_finite() {
        Some((1.0 / fraction.min(0.5)).round().max(2.0) as u64)
    } else {
        None
    }
}

/// Sends `LIST` on a joined peer's connection and counts the rows.
fn final_list(stream: &TcpStream) -> Result<u64, BenchError> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream);
    (&*stream).write_all(b"LIST\n")?;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let Some(count) = line
        .trim_end()
        .strip_prefix("OK LIST ")
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return Err(BenchError::Setup(format!(
            "the final LIST got {:?}",
            line.trim_end()
        )));
    };
    let mut rows = 0;
    for _ in 0..count {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        if line.starts_with("USER ") {
            rows += 1;
        }
    }
    Ok(rows)
}

/// What every driver knows about the run.
#[derive(Clone, Copy)]
struct Plan {
    addr: SocketAddr,
    peers: usize,
    interval: Duration,
    list_period: Option<u64>,
    window: usize,
}

/// What a driver counted, and the connections of its joined peers.
#[derive(Default)]
struct Driven {
    joined: u64,
    join_failures: u64,
    first_join: Option<Instant>,
    last_join: Option<Instant>,
    join: Histogram,
    hello: Histogram,
    hello_during_joins: Histogram,
    list: Histogram,
    search: Histogram,
    bad_replies: u64,
    wrongly_offline: u64,
    streams: Vec<TcpStream>,
}

impl Driven {
    fn merge(&mut self, other: &Driven) {
        self.joined += other.joined;
        self.join_failures += other.join_failures;
        self.first_join = match (self.first_join, other.first_join) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.last_join = self.last_join.max(other.last_join);
        self.join.merge(&other.join);
        self.hello.merge(&other.hello);
        self.hello_during_joins.merge(&other.hello_during_joins);
        self.list.merge(&other.list);
        self.search.merge(&other.search);
        self.bad_replies += other.bad_replies;
        self.wrongly_offline += other.wrongly_offline;
    }
}

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

struct Driver {
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
    fn new(plan: Plan, indices: Vec<usize>) -> Driver {
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

    fn run(mut self, shared: &Shared) -> Driven {
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
            let wait = self
                .timers
                .peek()
                .map_or(Duration::from_millis(20), |Reverse((due, _))| {
                    due.saturating_duration_since(now)
                })
                .min(Duration::from_millis(20));
            if self.busy.is_empty() {
                // Nothing to read: wait for the next timer (or a join slot
                // to matter) without a system call on no descriptors.
                thread::sleep(wait.max(Duration::from_micros(100)));
                continue;
            }
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
            if poll_readable(&mut fds, wait).is_err() {
                break;
            }
            let ready: Vec<usize> = fds
                .iter()
                .zip(&self.busy)
                .filter(|(fd, _)| fd.revents != 0)
                .map(|(_, &p)| p)
                .collect();
            for p in ready {
                self.read(p, shared);
            }
        }
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
                (&stream).write_all(format!("JOIN {name} {BENCH_PASSWORD} 9000\n").as_bytes())?;
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
            let slot = self
                .plan
                .list_period
                .map(|period| (peer.index as u64 + peer.ticks) % period);
            let half = self.plan.list_period.map(|period| period / 2);
            let (line, waiting) = if slot == Some(0) {
                ("LIST\n".to_string(), Waiting::List { rows_left: None })
            } else if slot.is_some() && slot == half {
                let other = peer_name((peer.index + 1) % self.plan.peers);
                (format!("SEARCH {other}\n"), Waiting::Search)
            } else {
                let during_joins = !shared.all_joined.load(Ordering::Relaxed);
                ("HELLO\n".to_string(), Waiting::Hello { during_joins })
            };
            let stream = peer.stream.as_ref().expect("a joined peer is connected");
            // One short line on a socket with no request in flight always
            // fits in its send buffer; failing means the connection broke.
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
            self.timers.push(Reverse((due + self.plan.interval, p)));
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
        let peer = &mut self.peers[p];
        let took = now.duration_since(peer.sent_at).as_nanos() as u64;
        if line.starts_with(b"BYE ") {
            if peer.joined {
                self.out.wrongly_offline += 1;
            } else if peer.waiting == Waiting::Joined {
                self.join_failed(shared);
            }
            self.peers[p].waiting = Waiting::Gone;
            return;
        }
        let mut answered = true;
        match peer.waiting {
            Waiting::Joined if line.starts_with(b"OK JOINED ") => {
                peer.joined = true;
                self.joins_in_flight -= 1;
                self.out.joined += 1;
                self.out.join.record(took);
                self.out.last_join = Some(now);
                shared.joined.fetch_add(1, Ordering::SeqCst);
                // Real peers do not say HELLO in step: each starts at its
                // own point of the interval.
                let phase = self.plan.interval.mul_f64(spread(peer.index));
                self.timers.push(Reverse((now + phase, p)));
            }
            Waiting::Joined => {
                self.join_failed(shared);
                self.peers[p].waiting = Waiting::Gone;
                answered = false;
            }
            Waiting::Hello { during_joins } if line == b"OK HELLO" => {
                if during_joins {
                    self.out.hello_during_joins.record(took);
                } else {
                    self.out.hello.record(took);
                }
            }
            Waiting::List { rows_left: None } if line.starts_with(b"OK LIST ") => {
                let count = std::str::from_utf8(&line[8..])
                    .ok()
                    .and_then(|n| n.parse::<u64>().ok());
                match count {
                    Some(0) => self.out.list.record(took),
                    Some(n) => {
                        peer.waiting = Waiting::List { rows_left: Some(n) };
                        return;
                    }
                    None => self.out.bad_replies += 1,
                }
            }
            Waiting::List {
                rows_left: Some(left),
            } if line.starts_with(b"USER ") => {
                if left > 1 {
                    peer.waiting = Waiting::List {
                        rows_left: Some(left - 1),
                    };
                    return;
                }
                self.out.list.record(took);
            }
            // A peer searched for may still be joining, or be offline.
            Waiting::Search
                if line.starts_with(b"OK USER ")
                    || line.starts_with(b"ERR OFFLINE")
                    || line.starts_with(b"ERR NOT_FOUND") =>
            {
                self.out.search.record(took);
            }
            _ => {
                self.out.bad_replies += 1;
                answered = false;
            }
        }
        if answered {
            shared.requests.fetch_add(1, Ordering::Relaxed);
        }
        let peer = &mut self.peers[p];
        if peer.waiting != Waiting::Gone {
            peer.waiting = Waiting::Nothing;
        }
    }
}

/// A number in [0, 1) that spreads peer indices evenly (the golden ratio's
/// fractional part, times the index).
fn spread(index: usize) -> f64 {
    (index as f64 * 0.618_033_988_75).fract()
}
