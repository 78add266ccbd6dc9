//! p2pchat: a peer-to-peer group chat with a central registry.
//!
//! # Layout
//!
//! - `wire`: every protocol line as a typed value; parsing and formatting, no I/O
//!   (`registry`, `chat` and `succession` grammars, `checks` for limits and `redact`).
//! - `line`: reads and writes protocol lines on any `BufRead`/`Write`.
//! - `trace`: the `--trace` output of both binaries, passwords hidden.
//! - `db`: the registry's SQLite file: schema, migrations, every statement.
//! - `password`: argon2id hashing, at most one hash per core at a time.
//! - `registry`: the registry server: acceptor, connection threads, sweeper, hub,
//!   and its rules (`throttle`, `tickets`) as plain types.
//! - `net`: waking a blocked `accept`, and the accept loop both servers share.
//! - `client`: the peer's link to the registry: typed requests, the link thread's
//!   reconnects and HELLO (`link`), one connection and its reader (`conn`).
//! - `peer`: the interactive peer: menus, chat requests, lobby membership, and
//!   carrying a lobby on when its leader hands it over or is lost.
//! - `screen`: the lines a peer shows (`ScreenLine`) and how they look: colours, timestamps.
//! - `console`: the peer binary's keyboard and screen threads, piped or with a line editor.
//! - `testing`: `ScriptedPeer`, which drives a peer through channels for tests and the demo.
//! - `lobby`: the lobby a leader runs: the `Lobby` handle, the `hub` (its event loop,
//!   with `membership`, `flush` passes, `liveness`, `commands`, `succession`), each
//!   `member`'s output and reader, and the `roster` that lets a lobby outlive its
//!   leader (credentials, who leads next).
//! - `chatlog`: one timestamped log file per lobby session, readable by its owner only.
//! - `sanitize`: escapes control and bidi characters in text from the network before it is shown.

pub mod chatlog;
pub mod client;
pub mod db;
pub mod line;
pub mod lobby;
mod net;
pub mod password;
pub mod peer;
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
