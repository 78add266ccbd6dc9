//! p2pchat: a peer-to-peer group chat with a central registry.
//!
//! # Layout
//!
//! - `wire`: every protocol line as a typed value; parsing and formatting, no I/O.
//! - `line`: reads and writes protocol lines on any `BufRead`/`Write`.
//! - `trace`: the `--trace` output of both binaries.
//! - `lobby`: the lobby hub a leader runs: membership, relaying, slow-member protection.

pub mod db;
pub mod line;
pub mod lobby;
pub mod password;
pub mod registry;
pub mod trace;
pub mod wire;

/// Parses a number of seconds, fractions allowed, for command-line options.
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Ok(secs),
        _ => Err(format!("{text} is not a positive number of seconds")),
    }
}
pub mod chatlog;
pub mod client;
pub mod peer;
