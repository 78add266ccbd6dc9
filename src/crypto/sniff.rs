//! Plain text at a TLS port: the server peeks at a connection's first byte
//! (without taking it) and tells a TLS `ClientHello` from a person typing
//! with `nc`. The person gets one readable line saying what to do, and the
//! connection closes; a `ClientHello` goes on to the handshake untouched.
//!
//! It only helps a person who came with the wrong tool; it protects
//! nothing, and must never answer anything but that one line in plain text.

use std::borrow::Borrow;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::handshake::time_left;

/// A TLS record of type handshake starts with this byte; typed text never does.
const TLS_HANDSHAKE: u8 = 0x16;

/// What a connection opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// A TLS record: go on with the handshake.
    Tls,
    /// Anything else: answer `plain_text_notice` with `refuse_plain_text`.
    PlainText,
    /// The other end closed without a byte.
    Closed,
}

/// Waits until `deadline` for the first byte, without taking it. A timeout
/// is the socket's `WouldBlock` or `TimedOut` error. The socket's read
/// timeout is the caller's again afterwards.
pub fn sniff(tcp: &TcpStream, deadline: Instant) -> io::Result<Opening> {
    let timeout = tcp.read_timeout()?;
    let left = time_left(deadline).ok_or(io::ErrorKind::TimedOut)?;
    tcp.set_read_timeout(Some(left))?;
    let mut first = [0; 1];
    let peeked = loop {
        match tcp.peek(&mut first) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    tcp.set_read_timeout(timeout)?;
    Ok(match peeked? {
        0 => Opening::Closed,
        _ if first[0] == TLS_HANDSHAKE => Opening::Tls,
        _ => Opening::PlainText,
    })
}

/// The line a person who typed at a TLS port reads: how to connect instead.
/// `server` is the address they reached (the socket's local address).
/// `-quiet` matters: without it `openssl s_client` takes a typed line that
/// starts with `R` or `Q` as a command of its own, so `REGISTER` would
/// start a renegotiation (which TLS 1.3 refuses) instead of reaching us.
pub fn plain_text_notice(server: SocketAddr) -> String {
    format!(
        "this port speaks TLS: connect with `openssl s_client -quiet -connect {server}`, \
         or start both sides with --plaintext\r\n"
    )
}

/// What a person typing at a peer's chat port gets: no `openssl s_client`
/// advice there, since the port takes only peers that prove a key with a
/// client certificate of their own.
pub fn chat_port_notice() -> String {
    "this is a p2pchat peer's chat port: it speaks TLS and takes only peers \
     that prove their key; to try the protocol by hand, start the peers with --plaintext\r\n"
        .to_string()
}

/// Writes `notice` and closes. What the person typed is read and dropped
/// for up to `linger` first, so that closing does not reset the connection
/// (which could throw the notice away before they see it).
pub fn refuse_plain_text(
    tcp: impl Borrow<TcpStream>,
    notice: &str,
    linger: Duration,
) -> io::Result<()> {
    let mut tcp = tcp.borrow();
    tcp.set_write_timeout(Some(linger))?;
    tcp.write_all(notice.as_bytes())?;
    tcp.shutdown(Shutdown::Write)?;
    let until = Instant::now() + linger;
    let mut sink = [0; 1024];
    let mut drained = 0;
    while let Some(left) = time_left(until) {
        tcp.set_read_timeout(Some(left))?;
        match tcp.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
        // Someone pasting without end gets no more of our time.
        if drained > 64 * 1024 {
            break;
        }
    }
    Ok(())
}
