//! `ChurnReport`: what a churn run saw, the `Figures` of each resource,
//! and the `problems` that follow from them. It judges only what must hold
//! (back to the baseline, nobody left online, nothing lost); it does no I/O.

use std::time::Duration;

use super::EXAMPLES;
use crate::Latency;

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
    pub(super) fn see(&mut self, value: Option<u64>) {
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

pub(super) fn note(report: &mut ChurnReport, what: String) {
    if report.examples.len() < EXAMPLES {
        report.examples.push(what);
    }
}

/// What in `report` is not as it must be.
pub(super) fn problems(report: &ChurnReport, watcher: &str) -> Vec<String> {
    let mut checks = resource_checks(report);
    checks.extend(online_checks(report, watcher));
    checks.extend(traffic_checks(report));
    checks
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, what)| what)
        .collect()
}

/// One rule: whether it holds, and what to say when it does not.
type Check = (bool, String);

/// Threads and descriptors must be back at their baseline.
fn resource_checks(report: &ChurnReport) -> Vec<Check> {
    let show = |f: &Figures| {
        format!(
            "{} at the end, {} at the baseline",
            f.end.map_or("?".into(), |n| n.to_string()),
            f.baseline.map_or("?".into(), |n| n.to_string())
        )
    };
    vec![
        (
            report.server_threads.back_to_baseline(),
            format!("server threads: {}", show(&report.server_threads)),
        ),
        (
            report.server_fds.back_to_baseline(),
            format!("server descriptors: {}", show(&report.server_fds)),
        ),
        (
            report.bench_threads.back_to_baseline(),
            format!("bench threads: {}", show(&report.bench_threads)),
        ),
    ]
}

/// Only the watcher may be online while it is joined, and nobody after.
fn online_checks(report: &ChurnReport, watcher: &str) -> Vec<Check> {
    let others: Vec<&String> = report
        .settle_list
        .iter()
        .filter(|n| n.as_str() != watcher)
        .collect();
    vec![
        (
            report.settled,
            format!("LIST still showed {others:?} besides the watcher"),
        ),
        (
            report.online_settled == [watcher],
            format!(
                "the database had {:?} online while only {watcher} was",
                report.online_settled
            ),
        ),
        (
            report.online_end.is_empty(),
            format!(
                "the database had {:?} online with nobody connected",
                report.online_end
            ),
        ),
    ]
}

/// Every reply as it should be, and every lobby message delivered.
fn traffic_checks(report: &ChurnReport) -> Vec<Check> {
    vec![
        (
            report.unexpected == 0,
            format!("{} unexpected replies or closes", report.unexpected),
        ),
        (
            report.lobby_lost == 0,
            format!("{} lobby messages lost", report.lobby_lost),
        ),
        (
            report.lobby_unexpected == 0,
            format!("{} unexpected lobby lines", report.lobby_unexpected),
        ),
    ]
}
