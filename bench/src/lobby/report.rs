//! `LobbyReport`: what a lobby run measured, and `Tally`, what one reader
//! thread counted, which the readers' tallies add up to. No I/O.

use std::time::Duration;

use crate::{Histogram, Latency};

/// What a lobby run measured.
#[derive(Debug, Clone)]
pub struct LobbyReport {
    pub target: String,
    pub members: usize,
    pub messages: u64,
    pub rate: f64,
    pub size: usize,
    /// `(members - 1) × messages`.
    pub expected: u64,
    /// Messages received, each once, whatever their order.
    pub delivered: u64,
    /// Expected deliveries that never came.
    pub lost: u64,
    /// Messages that came with a sequence number other than the next one.
    pub out_of_order: u64,
    /// Receivers whose connection closed before the end.
    pub disconnected: u64,
    /// From the first send to the last delivery.
    pub elapsed: Duration,
    /// From the first send to the last send.
    pub send_time: Duration,
    /// Per delivery, from send to receipt.
    pub latency: Latency,
    pub bytes_received: u64,
    pub lines_received: u64,
    /// `"tls"` or `"plain"`: how the members talked to the server.
    pub security: &'static str,
    /// The peak resident memory (`VmHWM`) of the process that relays, in
    /// bytes.
    pub peak_memory: Option<u64>,
    /// Its resident memory (`VmRSS`) before the first member connected.
    pub baseline_memory: Option<u64>,
    /// Which process `peak_memory` is of.
    pub memory_of: String,
    /// Whether the IRC sender got flood protection lifted (`None` for the hub).
    pub flood_exempt: Option<bool>,
}

impl LobbyReport {
    pub fn deliveries_per_sec(&self) -> f64 {
        per_sec(self.delivered, self.elapsed)
    }

    /// What each member added to the relay's peak memory:
    /// (peak − baseline) / members, in bytes.
    pub fn memory_per_member(&self) -> Option<u64> {
        let grown = self.peak_memory?.checked_sub(self.baseline_memory?)?;
        Some(grown / self.members.max(1) as u64)
    }

    /// Messages relayed to everyone per second.
    pub fn messages_per_sec(&self) -> f64 {
        per_sec(self.messages, self.elapsed)
    }
}

fn per_sec(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// What one reader thread counted.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) latency: Histogram,
    pub(super) delivered: u64,
    pub(super) out_of_order: u64,
    pub(super) disconnected: u64,
    pub(super) bytes: u64,
    pub(super) lines: u64,
    /// Nanoseconds since the origin of the last delivery.
    pub(super) last_delivery: u64,
}

impl Tally {
    pub(super) fn merge(&mut self, other: &Tally) {
        self.latency.merge(&other.latency);
        self.delivered += other.delivered;
        self.out_of_order += other.out_of_order;
        self.disconnected += other.disconnected;
        self.bytes += other.bytes;
        self.lines += other.lines;
        self.last_delivery = self.last_delivery.max(other.last_delivery);
    }
}
