//! p2pchat: a peer-to-peer group chat with a central registry.
//!
//! # Layout
//!
//! - `wire`: every protocol line as a typed value; parsing and formatting, no I/O
//!   (`registry`, `chat` and `succession` grammars, `checks` for limits and `redact`).
//! - `line`: cuts any `BufRead` into lines; below the grammar.
//! - `conn`: `Conn<S, In, Out>`, the one connection type: framing, tracing, parsing, writing.
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
//! - `lobby`: the lobby a leader runs: the `Lobby` handle, its rules as a sans-IO
//!   `state` (events and the time in, effects out), the `hub` thread that drives
//!   them (sockets, flush passes, readers, the clock), and the `roster` that lets
//!   a lobby outlive its leader (credentials, who leads next).
//! - `chatlog`: one timestamped log file per lobby session, readable by its owner only.
//! - `crypto`: TLS streams, keys pinned by fingerprint, sealed private messages,
//!   seat proofs for plain-text lobbies: building blocks the others use.
//! - `sanitize`: escapes control and bidi characters in text from the network before it is shown.

pub mod chatlog;
pub mod client;
pub mod conn;
pub mod console;
pub mod crypto;
pub mod db;
pub mod line;
pub mod lobby;
mod net;
pub mod password;
pub mod peer;
pub mod registry;
pub mod sanitize;
pub mod screen;
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

/// `OPEN_MAX` from macOS's `<sys/syslimits.h>`, which the libc crate does
/// not export: the most a process's soft limit on open files may be set to.
#[cfg(target_os = "macos")]
const MACOS_OPEN_MAX: libc::rlim_t = 10_240;

/// Raises this process's soft limit on open files to its hard limit (on
/// macOS at most `OPEN_MAX`), since thousands of connections need thousands
/// of descriptors. Returns the new soft limit.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `limit` is a valid, writable `rlimit` for the whole call.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // macOS refuses a soft limit above `OPEN_MAX` (`RLIM_INFINITY`, the
        // usual hard limit there, included) with EINVAL, so the soft limit
        // goes only that far.
        #[cfg(target_os = "macos")]
        let wanted = limit.rlim_max.min(MACOS_OPEN_MAX);
        #[cfg(not(target_os = "macos"))]
        let wanted = limit.rlim_max;
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted;
            // SAFETY: `limit` is a valid `rlimit` that only raises the soft
            // limit up to the hard one, which any process may do.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(limit.rlim_cur)
    }
    #[cfg(not(unix))]
    Ok(0)
}
