//! `RegistryReport`: what a registry run measured, and `Driven`, what one
//! driver thread counted, which the drivers' tallies add up to. No I/O.

use std::time::{Duration, Instant};

use crate::link::Link;
use crate::{Histogram, Latency, Security};

/// What a registry run measured.
#[derive(Debug, Clone)]
pub struct RegistryReport {
    pub peers: usize,
    /// `"tls"` or `"plain"`: how the peers talked to the server.
    pub security: &'static str,
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

/// What a driver counted, and the connections of its joined peers.
#[derive(Default)]
pub(super) struct Driven {
    pub(super) joined: u64,
    pub(super) join_failures: u64,
    pub(super) first_join: Option<Instant>,
    pub(super) last_join: Option<Instant>,
    pub(super) join: Histogram,
    pub(super) hello: Histogram,
    pub(super) hello_during_joins: Histogram,
    pub(super) list: Histogram,
    pub(super) search: Histogram,
    pub(super) bad_replies: u64,
    pub(super) wrongly_offline: u64,
    pub(super) links: Vec<Link>,
}

impl Driven {
    /// The report of a run of `peers` whose drivers' tallies add up to
    /// this one; the caller fills in the memory.
    pub(super) fn report(
        &self,
        (peers, security): (usize, Security),
        final_list_rows: u64,
        server_threads: Option<u64>,
    ) -> RegistryReport {
        RegistryReport {
            peers,
            security: security.label(),
            joined: self.joined,
            join_failures: self.join_failures,
            join_time: self
                .last_join
                .zip(self.first_join)
                .map_or(Duration::ZERO, |(last, first)| last.duration_since(first)),
            join: self.join.summary(),
            hello: self.hello.summary(),
            hello_during_joins: self.hello_during_joins.summary(),
            list: self.list.summary(),
            search: self.search.summary(),
            bad_replies: self.bad_replies,
            wrongly_offline: self.wrongly_offline,
            final_list_rows,
            server_threads,
            peak_memory: None,
            memory_of: String::new(),
        }
    }

    pub(super) fn merge(&mut self, other: &Driven) {
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
