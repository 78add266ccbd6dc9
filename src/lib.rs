//! p2pchat: a peer-to-peer group chat with a central registry.
//!
//! # Layout
//!
//! - `wire`: every protocol line as a typed value; parsing and formatting, no I/O
//!   (`registry` and `chat` grammars, `checks` for limits and `redact`).
//! - `line`: reads and writes protocol lines on any `BufRead`/`Write`.
//! - `trace`: the `--trace` output of both binaries, passwords hidden.
//! - `db`: the registry's SQLite file: schema, migrations, every statement.
//! - `password`: argon2id hashing, at most one hash per core at a time.
//! - `registry`: the registry server: acceptor, connection threads, sweeper, hub.
//! - `client`: the peer's link to the registry: requests, HELLO, reconnects.
//! - `peer`: the interactive peer: menus, chat requests, lobby membership.
//! - `screen`: the lines a peer shows (`ScreenLine`) and how they look: colours, timestamps.
//! - `console`: the peer binary's keyboard and screen threads, piped or with a line editor.
//! - `testing`: `ScriptedPeer`, which drives a peer through channels for tests and the demo.
//! - `lobby`: the lobby a leader runs: the `Lobby` handle, the `hub` (membership, relaying,
//!   flush passes) and each `member`'s output and reader.
//! - `chatlog`: one timestamped log file per lobby session, readable by its owner only.
//! - `sanitize`: escapes control and bidi characters in text from the network before it is shown.

pub mod chatlog;
pub mod client;
pub mod console;
pub mod db;
pub mod line;
pub mod lobby;
pub mod password;
pub mod peer;
pub mod registry;
pub mod sanitize;
pub mod screen;
pub mod testing;
pub mod trace;
pub mod wire;

/// Wakes a thread blocked in `accept` on `addr` by connecting to it; the
/// thread then sees its stop flag and drops the connection. A listener on
/// an unspecified address (`0.0.0.0`, `::`) is reached through loopback. If
/// the connection fails, the listener is gone already.
pub(crate) fn wake_acceptor(mut addr: std::net::SocketAddr) {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let _ = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1));
}

/// Parses a number of seconds, fractions allowed, for command-line options.
pub fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e9 => Ok(secs),
        _ => Err(format!("{text} is not a positive number of seconds")),
    }
}

/// Raises this process's soft limit on open files to its hard limit, since
/// thousands of connections need thousands of descriptors. Returns the new
/// soft limit.
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
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
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
