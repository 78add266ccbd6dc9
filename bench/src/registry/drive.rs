//! The main thread of a registry run: starts the driver threads, waits
//! (with deadlines) for the peers to join and for the run's duration,
//! samples the server's threads, stops the drivers and adds up what they
//! counted, then asks for a final `LIST`. It never touches a peer's socket
//! while a driver owns it.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use p2pchat::wire::Request;

use super::driver::Driver;
use super::{Driven, RegistryOptions, RegistryReport};
use crate::BenchError;
use crate::wire_line;

/// State the main thread and the drivers share.
pub(super) struct Shared {
    /// Set once every peer has joined or failed to.
    pub(super) all_joined: AtomicBool,
    /// Set when the drivers should stop sending and finish.
    pub(super) stopping: AtomicBool,
    /// Set when the drivers must return at once.
    pub(super) abort: AtomicBool,
    pub(super) joined: AtomicU64,
    pub(super) failed: AtomicU64,
    pub(super) requests: AtomicU64,
}

/// Runs the load against the server at `addr` with `drivers` threads;
/// `threads` counts the server's threads now.
pub(super) fn drive(
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
    let handles = spawn_drivers(options, addr, drivers, &shared)?;
    let mut watch = Watch {
        options,
        shared: &shared,
        threads,
        peak_threads: None,
        last_progress: Instant::now(),
    };
    let joins_done = watch.await_joins(&handles);
    shared.all_joined.store(true, Ordering::SeqCst);
    watch.sample();
    if joins_done {
        watch.keep_going();
    }
    watch.sample();
    shared.stopping.store(true, Ordering::SeqCst);

    let (total, streams) = join_drivers(handles)?;
    // Ask the last-joined peer rather than the first: if the server had
    // timed anyone out, the oldest connections would be the first to go.
    let final_list_rows = match streams.last() {
        Some(stream) => final_list(stream)?,
        None => 0,
    };
    let threads_now = (watch.threads)();
    drop(streams);
    let server_threads = watch.peak_threads.or(threads_now);
    Ok(total.report(options.peers, final_list_rows, server_threads))
}

/// Waits for the drivers, and adds up what they counted; the connections
/// of their joined peers come along in the order the drivers hand them.
fn join_drivers(handles: Vec<JoinHandle<Driven>>) -> Result<(Driven, Vec<TcpStream>), BenchError> {
    let mut total = Driven::default();
    let mut streams = Vec::new();
    for handle in handles {
        let driven = handle
            .join()
            .map_err(|_| BenchError::Setup("a driver thread panicked".into()))?;
        total.merge(&driven);
        streams.extend(driven.streams);
    }
    Ok((total, streams))
}

/// Starts the driver threads, each with every `drivers`-th peer; if one
/// cannot start, stops those that did and waits for them.
fn spawn_drivers(
    options: &RegistryOptions,
    addr: SocketAddr,
    drivers: usize,
    shared: &Arc<Shared>,
) -> Result<Vec<JoinHandle<Driven>>, BenchError> {
    let window = (options.join_window / drivers).max(1);
    let mut handles: Vec<JoinHandle<Driven>> = Vec::with_capacity(drivers);
    for d in 0..drivers {
        let indices: Vec<usize> = (d..options.peers).step_by(drivers).collect();
        let mine = Arc::clone(shared);
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
    Ok(handles)
}

/// What the main thread watches while the drivers run: their progress,
/// and the server's threads at their peak.
struct Watch<'a, F> {
    options: &'a RegistryOptions,
    shared: &'a Shared,
    threads: F,
    peak_threads: Option<u64>,
    last_progress: Instant,
}

/// How often the main thread looks at the drivers' counts.
const STEP: Duration = Duration::from_millis(100);

impl<F: Fn() -> Option<u64>> Watch<'_, F> {
    fn sample(&mut self) {
        if let Some(now) = (self.threads)() {
            self.peak_threads = Some(self.peak_threads.unwrap_or(0).max(now));
        }
    }

    /// Waits until every peer joined or failed to, the drivers all ended,
    /// or the joining deadline passed; true in the first case.
    fn await_joins(&mut self, handles: &[JoinHandle<Driven>]) -> bool {
        // Joining is bounded by the password hashes: about 20 ms each per
        // core.
        let join_deadline = Instant::now()
            + Duration::from_secs(60)
            + Duration::from_millis(100) * self.options.peers as u32;
        let peers = self.options.peers as u64;
        loop {
            let joined = self.shared.joined.load(Ordering::SeqCst);
            let failed = self.shared.failed.load(Ordering::SeqCst);
            if joined + failed >= peers {
                return true;
            }
            if Instant::now() >= join_deadline || handles.iter().all(|h| h.is_finished()) {
                return false;
            }
            if self.options.progress && self.last_progress.elapsed() >= Duration::from_secs(2) {
                self.last_progress = Instant::now();
                self.sample();
                eprintln!("bench: joined {joined}/{peers} ({failed} failed)");
            }
            thread::sleep(STEP);
        }
    }

    /// Lets the joined peers go on for the run's duration.
    fn keep_going(&mut self) {
        let end = Instant::now() + self.options.duration;
        while Instant::now() < end {
            thread::sleep(STEP.min(end.saturating_duration_since(Instant::now())));
            if self.last_progress.elapsed() >= Duration::from_secs(2) {
                self.last_progress = Instant::now();
                self.sample();
                if self.options.progress {
                    eprintln!(
                        "bench: {} requests answered",
                        self.shared.requests.load(Ordering::Relaxed)
                    );
                }
            }
        }
    }
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
    (&*stream).write_all(wire_line(Request::List).as_bytes())?;
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
pub(super) struct Plan {
    pub(super) addr: SocketAddr,
    pub(super) peers: usize,
    pub(super) interval: Duration,
    pub(super) list_period: Option<u64>,
    pub(super) window: usize,
}
