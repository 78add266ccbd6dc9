//! How the tables show durations and byte counts. Formatting only.

use std::time::Duration;

/// Formats a duration for a table: microseconds below 10 ms, else ms.
pub fn show_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 10_000.0 {
        format!("{micros:.0}µs")
    } else {
        format!("{:.1}ms", micros / 1000.0)
    }
}

/// Formats a byte count in MiB.
pub fn show_mib(bytes: Option<u64>) -> String {
    bytes.map_or("?".to_string(), |b| {
        format!("{:.1} MiB", b as f64 / 1048576.0)
    })
}
