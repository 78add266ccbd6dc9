//! p2pchat-bench: load generators for p2pchat: the lobby hub (or an IRC
//! channel) flooded by one sender, the registry under thousands of simulated
//! peers, and the churn soak test of peers and lobbies coming and going.
//!
//! # Layout
//!
//! - this file: the public surface; the shared pieces each have a file:
//!   - `error`: `BenchError`, why a run could not finish.
//!   - `histogram`: the latency `Histogram` and its `Latency` summary.
//!   - `procfs`: `/proc` readings (memory, threads).
//!   - `lines`: `Lines`, a non-blocking socket's bytes split into lines.
//!   - `poll`: `poll_readable` and the socket `Poller` (epoll on Linux).
//!   - `show`: how the tables show durations and byte counts.
//! - `lobby`: one member floods a real `Lobby` hub (or an IRC channel).
//! - `registry`: thousands of peers JOIN a registry `Server` and say HELLO.
//! - `churn`: peers and lobbies come and go; the server must end as it began.
//! - `bin/bench`: the `bench` command line over these three.
//!
//! This crate owns the load side of every benchmark and the figures it
//! reports, and uses only p2pchat's public API. It must never need a thread
//! per simulated member or peer (a few threads multiplex non-blocking
//! sockets with `poll` or epoll), never leave loopback, and never loop
//! without a bound in count and in time. It measures; it does not judge:
//! deciding what is fast enough is for the reader of the report.
//!
//! It is unix-only (`poll`, epoll, raw descriptors, `/proc`): elsewhere the
//! library is empty and the binary says so and exits.
#![cfg(unix)]

pub mod churn;
pub mod lobby;
pub mod registry;

mod error;
mod histogram;
mod lines;
mod poll;
mod procfs;
mod show;

pub use error::BenchError;
pub use histogram::{Histogram, Latency};
pub use procfs::{peak_memory, proc_status_field, reset_peak_memory, thread_count};
pub use show::{show_duration, show_mib};

use lines::{Lines, ReadEnd};

/// `message` as a protocol line, newline included. The bench writes every
/// line of p2pchat's protocol through the `wire` types, so it speaks the
/// protocol as the library does.
fn wire_line(message: impl std::fmt::Display) -> String {
    format!("{message}\n")
}
use poll::{Poller, poll_readable, pollfd};
