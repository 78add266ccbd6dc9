//! Blocking TLS over a `TcpStream`, for a thread per connection. Once
//! `accept` or `connect` (`handshake.rs`) has finished the handshake, a
//! `TlsStream` reads and writes plaintext on its one socket (for a thread
//! that does both), or splits into a `TlsReader` and a `TlsWriter` for two
//! threads.
//!
//! The halves share one `rustls::Connection` behind a `Mutex`, and one
//! socket through an `Arc` (`&TcpStream` reads and writes): splitting costs
//! no descriptor, which a server of thousands of connections runs out of
//! before anything else. The reader never holds the lock while
//! it waits on its socket: it reads ciphertext outside the lock, then feeds
//! it to rustls under the lock (`incoming.rs`). So a read timeout surfaces as the socket's
//! `WouldBlock`/`TimedOut` with nothing lost (a partial record stays inside
//! rustls), and the writer is never held up by a reader that waits. The
//! writer is the only one that writes the socket; records rustls makes in
//! answer to what the reader fed it (an alert, a key update) go out with
//! its next write. `TlsWriter::encrypt` turns plaintext into ciphertext in
//! a buffer, for a writer that sends it later without blocking.
//!
//! It protects the bytes on the wire (confidentiality and integrity) and
//! reports which key the other end proved (`peer_fingerprint`); whether
//! that key is the right one is the caller's decision. It must never hand
//! out plaintext before the handshake is complete, and never fall back to
//! plain text.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::Connection;

use super::incoming::Incoming;
use super::keys::{Fingerprint, IdentityKey};

/// A TLS connection after its handshake, for one thread, on the one
/// socket it came with; `split` makes two halves for two threads.
#[derive(Debug)]
pub struct TlsStream {
    conn: Connection,
    tcp: Arc<TcpStream>,
    incoming: Incoming,
    peer: Peer,
}

impl TlsStream {
    /// The stream of a session whose handshake is complete.
    pub(super) fn new(tcp: Arc<TcpStream>, conn: Connection) -> TlsStream {
        let peer = Peer::of(&conn);
        TlsStream {
            conn,
            tcp,
            incoming: Incoming::new(),
            peer,
        }
    }

    /// The two halves, for a reader thread and a writer thread, sharing
    /// the one socket.
    pub fn split(self) -> io::Result<(TlsReader, TlsWriter)> {
        let shared = Arc::new(Mutex::new(self.conn));
        Ok((
            TlsReader {
                shared: Arc::clone(&shared),
                tcp: Arc::clone(&self.tcp),
                incoming: self.incoming,
                peer: self.peer,
                wait_first: false,
            },
            TlsWriter {
                shared,
                tcp: self.tcp,
                peer: self.peer,
            },
        ))
    }

    /// The fingerprint of the key the other end proved, if it presented one.
    pub fn peer_fingerprint(&self) -> Option<Fingerprint> {
        self.peer.fingerprint
    }

    /// The other end's Ed25519 key, if it presented one.
    pub fn peer_key(&self) -> Option<IdentityKey> {
        self.peer.key
    }

    /// The socket, for timeouts and addresses; reading or writing it
    /// directly would break the TLS stream.
    pub fn socket(&self) -> &TcpStream {
        &self.tcp
    }

    /// Another handle of the socket without another descriptor, for an
    /// owner that only shuts it down (the registry's hub).
    pub fn shared_socket(&self) -> Arc<TcpStream> {
        Arc::clone(&self.tcp)
    }

    /// Sends `close_notify`, so the other end reads a clean end, and shuts
    /// the socket's sending side.
    pub fn close(&mut self) -> io::Result<()> {
        close(&mut self.conn, &self.tcp)
    }
}

impl Read for TlsStream {
    /// As `TlsReader::read`.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(n) = self.incoming.plaintext(&mut self.conn, buf)? {
                return Ok(n);
            }
            self.incoming.fill(&self.tcp)?;
        }
    }
}

impl Write for TlsStream {
    /// As `TlsWriter::write`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len() + 64);
        encrypt(&mut self.conn, buf, &mut out)?;
        (&*self.tcp).write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.tcp).flush()
    }
}

/// What the other end proved in the handshake.
#[derive(Debug, Clone, Copy)]
struct Peer {
    fingerprint: Option<Fingerprint>,
    key: Option<IdentityKey>,
}

impl Peer {
    fn of(conn: &Connection) -> Peer {
        let cert = conn.peer_certificates().and_then(|certs| certs.first());
        Peer {
            fingerprint: cert.and_then(|cert| Fingerprint::of_certificate(cert).ok()),
            key: cert.and_then(|cert| IdentityKey::of_certificate(cert).ok()),
        }
    }
}

/// The reading half: plaintext out, ciphertext taken from its own socket.
#[derive(Debug)]
pub struct TlsReader {
    shared: Arc<Mutex<Connection>>,
    tcp: Arc<TcpStream>,
    incoming: Incoming,
    peer: Peer,
    /// Whether each read of the socket waits for it first, for a
    /// non-blocking socket (`ReadHalf::wait_before_reads`).
    wait_first: bool,
}

impl TlsReader {
    /// From now on, wait until the socket can be read before each read of
    /// ciphertext; see `ReadHalf::wait_before_reads`.
    pub fn wait_before_reads(&mut self) {
        self.wait_first = true;
    }

    pub fn peer_fingerprint(&self) -> Option<Fingerprint> {
        self.peer.fingerprint
    }

    pub fn peer_key(&self) -> Option<IdentityKey> {
        self.peer.key
    }

    /// The socket, for its read timeout.
    pub fn socket(&self) -> &TcpStream {
        &self.tcp
    }
}

impl Read for TlsReader {
    /// Plaintext, as `Read` promises: `Ok(0)` at the other end's
    /// `close_notify`, `UnexpectedEof` if the socket ended without one, and
    /// the socket's own error (a timeout, say) with nothing lost.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(n) = self.incoming.plaintext(&mut *lock(&self.shared)?, buf)? {
                return Ok(n);
            }
            // Outside the lock: the writer goes on while this waits.
            if self.wait_first {
                crate::net::wait_readable(&self.tcp)?;
            }
            self.incoming.fill(&self.tcp)?;
        }
    }
}

/// The writing half: plaintext in, ciphertext out to its socket (or into a
/// buffer, with `encrypt`).
#[derive(Debug)]
pub struct TlsWriter {
    shared: Arc<Mutex<Connection>>,
    tcp: Arc<TcpStream>,
    peer: Peer,
}

impl TlsWriter {
    /// Appends to `out` the ciphertext of all of `plain`, and anything
    /// else rustls has to send, for a caller that sends `out` itself. The
    /// bytes must go out in order, each exactly once.
    pub fn encrypt(&self, plain: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        encrypt(&mut *lock(&self.shared)?, plain, out)
    }

    /// Sends `close_notify`, so the other end reads a clean end, and shuts
    /// the socket's sending side.
    pub fn close(&mut self) -> io::Result<()> {
        close(&mut *lock(&self.shared)?, &self.tcp)
    }

    pub fn peer_fingerprint(&self) -> Option<Fingerprint> {
        self.peer.fingerprint
    }

    pub fn peer_key(&self) -> Option<IdentityKey> {
        self.peer.key
    }

    /// The socket, for a caller that sends `encrypt`'s output itself.
    pub fn socket(&self) -> &TcpStream {
        &self.tcp
    }
}

impl Write for TlsWriter {
    /// Encrypts all of `buf` and writes it with one `write_all`, outside
    /// the lock. After an error the stream is broken (a record may be half
    /// sent): drop it.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut out = Vec::with_capacity(buf.len() + 64);
        self.encrypt(buf, &mut out)?;
        (&*self.tcp).write_all(&out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.tcp).flush()
    }
}

/// Appends to `out` the ciphertext of all of `plain` and whatever else
/// rustls has queued (an alert, a key update).
fn encrypt(conn: &mut Connection, plain: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
    let mut rest = plain;
    while !rest.is_empty() {
        let n = conn.writer().write(rest)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "the TLS connection takes no more plaintext",
            ));
        }
        rest = &rest[n..];
        while conn.wants_write() {
            conn.write_tls(out)?;
        }
    }
    while conn.wants_write() {
        conn.write_tls(out)?;
    }
    Ok(())
}

/// Queues `close_notify`, sends everything queued, shuts the sending side.
fn close(conn: &mut Connection, mut tcp: &TcpStream) -> io::Result<()> {
    conn.send_close_notify();
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out)?;
    }
    tcp.write_all(&out)?;
    tcp.shutdown(Shutdown::Write)
}

fn lock(shared: &Mutex<Connection>) -> io::Result<MutexGuard<'_, Connection>> {
    shared
        .lock()
        .map_err(|_| io::Error::other("the other half of the TLS connection panicked"))
}
