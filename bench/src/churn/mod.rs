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
//!
//! # Layout
//!
//! - this file: the scenario's steps (`run`) and the deadlines all share.
//! - `options`: `ChurnOptions`, how a run is set up.
//! - `report`: `ChurnReport` and its `Figures`, and the `problems` in it.
//! - `sampler`: the server's threads, descriptors and memory, sampled.
//! - `rng`: the seeded random choices.
//! - `conn`: one registry connection and the reply it waits for (`Owed`).
//! - `load`: the running `Load` and its loop, one thread polling all.
//! - `peers`: the peers' sessions, from JOIN to their four endings.
//! - `rooms`: the lobbies, from admission through two rounds to the close.
//! - `settle`: after the load, the watcher's checks of the end state.

mod conn;
mod load;
mod options;
mod peers;
mod report;
mod rng;
mod rooms;
mod sampler;
mod settle;

use std::time::{Duration, Instant};

pub use options::{ChurnOptions, accounts};
pub use report::{ChurnReport, Figures};
pub use settle::online_in_db;

use super::registry::peer_name;
use super::{BenchError, proc_status_field, thread_count};
use load::Load;
use report::problems;
use sampler::{Sampler, server_baseline};
use settle::settle;

/// How long any reply may take before the run gives up on it.
const REPLY_DEADLINE: Duration = Duration::from_secs(10);

/// How long one stage of a lobby (gathering, a round of messages, the
/// departures, the close) may take.
const STAGE_DEADLINE: Duration = Duration::from_secs(10);

/// The reason every bench lobby closes with.
const CLOSE_REASON: &str = "BENCH_OVER";

/// Unexpected lines kept word for word in the report; the rest are counted.
const EXAMPLES: usize = 10;

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
