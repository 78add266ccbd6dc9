//! p2pchat: a peer-to-peer group chat with a central registry.
//!
//! # Layout
//!
//! - `wire`: every protocol line as a typed value; parsing and formatting, no I/O.
//! - `line`: reads and writes protocol lines on any `BufRead`/`Write`.
//! - `trace`: the `--trace` output of both binaries.
//! - `lobby`: the lobby hub a leader runs: membership, relaying, slow-member protection.

pub mod line;
pub mod lobby;
pub mod trace;
pub mod wire;
