//! p2pchat: a peer-to-peer group chat with a central registry.
//!
//! The library owns everything but the terminal: the wire grammar (`wire`,
//! which does no I/O), framing (`line`) and the one connection type over it
//! (`conn`), TLS, keys and sealed messages (`crypto`), the registry server
//! (`registry`, with its `db` and `password` hashing), finding it on the LAN
//! by multicast DNS (`discovery`), the peer's link to it (`client`), the
//! interactive peer (`peer`), files sent between peers (`files`) and a
//! transfer's progress bar (`progress`), the lobby a leader runs
//! (`lobby`), and how lines are shown, logged and traced (`screen`,
//! `chatlog`, `sanitize`, `trace`). It never reads the keyboard or draws the terminal: the
//! binaries in `src/bin/` do, and only they parse options and choose exit
//! codes. The map of files, threads and invariants is
//! docs/ARCHITECTURE.md, and only there.

pub mod chatlog;
pub mod client;
pub mod conn;
pub mod crypto;
pub mod db;
pub mod discovery;
pub mod files;
pub mod line;
pub mod lobby;
mod net;
pub mod password;
pub mod peer;
pub mod progress;
pub mod registry;
pub mod sanitize;
pub mod screen;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trace;
pub mod wire;

/// Kept at the crate root for the peer and the lobby, which call it there.
pub(crate) use net::wake_acceptor;

/// Parses a number of seconds, fractions allowed, for command-line options.
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Ok(secs),
        _ => Err(format!("{text} is not a positive number of seconds")),
    }
}

/// Raises this process's soft limit on open files as far as the system
/// lets it (the hard limit; on macOS also `kern.maxfilesperproc`), since
/// thousands of connections need thousands of descriptors. Returns the new
/// soft limit; where there is no such limit (Windows), `u64::MAX`.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}
