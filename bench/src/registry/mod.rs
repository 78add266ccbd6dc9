//! The registry benchmark: thousands of peers join a real registry server,
//! say HELLO on schedule, and a few LIST and SEARCH, from a handful of
//! driver threads that multiplex non-blocking sockets with `poll`.
//!
//! Each peer has at most one request in flight, so a driver only polls the
//! sockets that owe it a reply; an idle peer costs nothing but its place in
//! a timer heap. A peer the server wrongly timed out finds `BYE TIMEOUT`
//! where its next reply should be, and the final `LIST` must name everyone.
//!
//! # Layout
//!
//! - this file: the bench accounts' names and password, and `run`.
//! - `options`: `RegistryOptions` and where the server runs (`ServerAt`).
//! - `report`: `RegistryReport`, and `Driven`, one driver's tally.
//! - `server`: the accounts in the database, and the server child process.
//! - `drive`: the main thread: drivers started, joins and duration waited
//!   for, tallies added up, the final `LIST`.
//! - `driver`: one driver thread and its peers.

mod drive;
mod driver;
mod options;
mod report;
mod server;

use std::path::Path;
use std::thread;

pub use options::{RegistryOptions, ServerAt};
pub use report::RegistryReport;
pub use server::{prepare_db, serve_child};

use super::{BenchError, peak_memory, reset_peak_memory, thread_count};
use drive::drive;
use p2pchat::registry::Server;
use report::Driven;

/// The password of every bench account: one hash serves them all.
pub const BENCH_PASSWORD: &str = "bench-password";

/// The name of bench peer `index`.
pub fn peer_name(index: usize) -> String {
    format!("bench{index:05}")
}

/// Runs one registry benchmark.
pub fn run(options: &RegistryOptions) -> Result<RegistryReport, BenchError> {
    if options.peers == 0 {
        return Err(BenchError::Setup("a registry benchmark needs peers".into()));
    }
    let drivers = options.drivers.clamp(1, options.peers);
    match &options.server {
        ServerAt::Child {
            addr,
            pid,
            security,
        } => {
            let target = (*addr, *security);
            let mut report = drive(options, target, drivers, || thread_count(Some(*pid)))?;
            report.peak_memory = peak_memory(Some(*pid));
            report.memory_of = format!("server child process {pid}");
            Ok(report)
        }
        ServerAt::InProcess(db) => run_in_process(options, db, drivers),
    }
}

/// Runs the load against a server on a thread of this process, then stops
/// the server and waits for it.
fn run_in_process(
    options: &RegistryOptions,
    db: &Path,
    drivers: usize,
) -> Result<RegistryReport, BenchError> {
    let baseline = thread_count(None).unwrap_or(0);
    reset_peak_memory();
    let server = Server::bind(server::bench_config(db, options.hello_timeout, options.tls))?;
    let target = (server.local_addr(), server::security_of(&server));
    let stopper = server.stopper();
    let handle = thread::Builder::new()
        .name("bench-registry".into())
        .spawn(move || server.run())?;
    // The load's own threads: the drivers (the caller's thread was in the
    // baseline).
    let load = drivers as u64;
    let result = drive(options, target, drivers, || {
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
