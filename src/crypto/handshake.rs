//! The TLS handshake, before any application byte: `accept` (the server's
//! side) and `connect` (the client's), each under a deadline, and why one
//! did not complete (`HandshakeError`). The finished session becomes a
//! `TlsStream` (`stream.rs`).
//!
//! It must never hand out a stream whose handshake is not complete, and
//! never fall back to plain text: a handshake that fails is an error.

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::stream::TlsStream;
use super::verify::KeyChanged;

/// Why a handshake did not complete.
#[derive(Debug)]
pub enum HandshakeError {
    /// The deadline passed first.
    TimedOut,
    /// The other end closed the connection first.
    Closed,
    /// The server presented another key than the one pinned.
    KeyChanged(KeyChanged),
    /// TLS refused (a bad signature, no client certificate, an alert, or
    /// plain text where TLS was expected).
    Tls(rustls::Error),
    Io(io::Error),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::TimedOut => f.write_str("the TLS handshake took too long"),
            HandshakeError::Closed => f.write_str("the other end closed during the TLS handshake"),
            HandshakeError::KeyChanged(changed) => write!(f, "{changed}"),
            HandshakeError::Tls(err) => write!(f, "TLS: {err}"),
            HandshakeError::Io(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HandshakeError::KeyChanged(changed) => Some(changed),
            HandshakeError::Tls(err) => Some(err),
            HandshakeError::Io(err) => Some(err),
            _ => None,
        }
    }
}

impl From<rustls::Error> for HandshakeError {
    fn from(err: rustls::Error) -> HandshakeError {
        match KeyChanged::within(&err) {
            Some(changed) => HandshakeError::KeyChanged(changed),
            None => HandshakeError::Tls(err),
        }
    }
}

impl From<io::Error> for HandshakeError {
    fn from(err: io::Error) -> HandshakeError {
        match err.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HandshakeError::TimedOut,
            _ => HandshakeError::Io(err),
        }
    }
}

/// The server's side: the handshake with a client that connected to us.
/// The socket may already be shared (`Arc<TcpStream>`) with an owner that
/// shuts it down, which ends a handshake under way.
pub fn accept(
    tcp: impl Into<Arc<TcpStream>>,
    config: Arc<ServerConfig>,
    deadline: Instant,
) -> Result<TlsStream, HandshakeError> {
    let conn = ServerConnection::new(config)?;
    handshake(tcp.into(), conn.into(), deadline)
}

/// `accept` on a short-lived thread of its own, for a server of thousands
/// of long-lived connection threads. The handshake's frames (certificate,
/// signature and key-exchange code) reach deeper than anything a connection
/// does after it, and a page of stack once touched stays resident for the
/// life of its thread; on a thread that ends with the handshake, the
/// connection's own stack stays as shallow as in plain text.
pub fn accept_aside(
    tcp: impl Into<Arc<TcpStream>>,
    config: Arc<ServerConfig>,
    deadline: Instant,
) -> Result<TlsStream, HandshakeError> {
    let tcp = tcp.into();
    thread::scope(|scope| {
        let handshake = thread::Builder::new()
            .name("tls-handshake".into())
            .stack_size(HANDSHAKE_STACK)
            .spawn_scoped(scope, move || accept(tcp, config, deadline))?;
        handshake.join().unwrap_or_else(|_| {
            Err(HandshakeError::Io(io::Error::other(
                "the TLS handshake's thread panicked",
            )))
        })
    })
}

/// The stack of `accept_aside`'s thread: several times what a handshake
/// touches (under 24 KiB, read from a registry's stacks), and smaller than
/// any long-lived connection thread's. The size matters: glibc keeps the
/// stacks of ended threads for new threads of about the same size, with
/// 16 KiB below their last frame still resident, so a handshake stack of a
/// connection thread's size would be handed to the next connection thread
/// with the handshake's pages in it.
const HANDSHAKE_STACK: usize = 128 * 1024;

/// The client's side: the handshake with the server `tcp` is connected to.
/// The server's name is its address: the key is checked, not the name.
pub fn connect(
    tcp: impl Into<Arc<TcpStream>>,
    config: Arc<ClientConfig>,
    deadline: Instant,
) -> Result<TlsStream, HandshakeError> {
    let tcp = tcp.into();
    let name = ServerName::IpAddress(tcp.peer_addr()?.ip().into());
    let conn = ClientConnection::new(config, name)?;
    handshake(tcp, conn.into(), deadline)
}

/// Drives `conn`'s handshake on `tcp` under `deadline`, then gives the
/// socket back its timeouts, whatever happened.
fn handshake(
    tcp: Arc<TcpStream>,
    mut conn: Connection,
    deadline: Instant,
) -> Result<TlsStream, HandshakeError> {
    let timeouts = (tcp.read_timeout()?, tcp.write_timeout()?);
    let done = drive_handshake(&tcp, &mut conn, deadline);
    let restored = tcp
        .set_read_timeout(timeouts.0)
        .and_then(|()| tcp.set_write_timeout(timeouts.1));
    done?;
    restored?;
    Ok(TlsStream::new(tcp, conn))
}

/// Writes and reads until the handshake is complete, each socket call
/// bounded by what is left before `deadline`, then sends what the handshake
/// left to send (the client's `Finished`).
fn drive_handshake(
    mut tcp: &TcpStream,
    conn: &mut Connection,
    deadline: Instant,
) -> Result<(), HandshakeError> {
    while conn.is_handshaking() {
        let left = time_left(deadline).ok_or(HandshakeError::TimedOut)?;
        tcp.set_read_timeout(Some(left))?;
        tcp.set_write_timeout(Some(left))?;
        while conn.wants_write() {
            conn.write_tls(&mut tcp)?;
        }
        if !conn.is_handshaking() {
            break;
        }
        match conn.read_tls(&mut tcp) {
            Ok(0) => return Err(HandshakeError::Closed),
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        }
        if let Err(err) = conn.process_new_packets() {
            // Tell the other end why (rustls queued an alert); it may be gone.
            while conn.wants_write() && conn.write_tls(&mut tcp).is_ok() {}
            return Err(err.into());
        }
    }
    while conn.wants_write() {
        conn.write_tls(&mut tcp)?;
    }
    Ok(())
}

/// What is left of `deadline`, if anything.
pub(super) fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}
