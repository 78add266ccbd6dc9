//! Blocking TLS over a `TcpStream`, for a thread per connection. `accept`
//! and `connect` finish the handshake under a deadline, before any
//! application byte; then a `TlsStream` reads and writes plaintext on its
//! one socket (for a thread that does both), or splits into a `TlsReader`
//! and a `TlsWriter` for two threads.
//!
//! The halves share one `rustls::Connection` behind a `Mutex`, and one
//! socket through an `Arc` (`&TcpStream` reads and writes): splitting costs
//! no descriptor, which a server of thousands of connections runs out of
//! before anything else. The reader never holds the lock while
//! it waits on its socket: it reads ciphertext outside the lock, then feeds
//! it to rustls under the lock. So a read timeout surfaces as the socket's
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

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};

use super::keys::{Fingerprint, IdentityKey};
use super::verify::KeyChanged;

/// How much ciphertext the reader takes from its socket at a time: one
/// full TLS record and its overhead.
const CHUNK: usize = 16 * 1024 + 256;

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
    TlsStream::handshake(tcp.into(), conn.into(), deadline)
}

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
    TlsStream::handshake(tcp, conn.into(), deadline)
}

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
    fn handshake(
        tcp: Arc<TcpStream>,
        mut conn: Connection,
        deadline: Instant,
    ) -> Result<TlsStream, HandshakeError> {
        let timeouts = (tcp.read_timeout()?, tcp.write_timeout()?);
        let done = drive_handshake(&tcp, &mut conn, deadline);
        // The socket's timeouts are the caller's again, whatever happened.
        let restored = tcp
            .set_read_timeout(timeouts.0)
            .and_then(|()| tcp.set_write_timeout(timeouts.1));
        done?;
        restored?;
        let peer = Peer::of(&conn);
        Ok(TlsStream {
            conn,
            tcp,
            incoming: Incoming::new(),
            peer,
        })
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

/// Where the reader is with the end of the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eof {
    Open,
    /// The socket said end of file; rustls has not been told yet.
    Seen,
    /// rustls knows: it reports a clean close or a truncation.
    Told,
}

/// The reading side's ciphertext: what came from the socket and rustls
/// has not taken yet, and the buffer the socket is read into.
#[derive(Debug)]
struct Incoming {
    pending: Vec<u8>,
    chunk: Box<[u8]>,
    eof: Eof,
}

impl Incoming {
    fn new() -> Incoming {
        Incoming {
            pending: Vec::new(),
            chunk: vec![0; CHUNK].into_boxed_slice(),
            eof: Eof::Open,
        }
    }

    /// Plaintext for `buf` if rustls has some, after handing it what was
    /// read so far; `None` if the socket must be read first. `Ok(Some(0))`
    /// is the other end's `close_notify`.
    fn plaintext(&mut self, conn: &mut Connection, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if buf.is_empty() {
            return Ok(Some(0));
        }
        // An error here may come after plaintext still to be read, so that
        // goes first.
        let fed = self.feed(conn);
        match conn.reader().read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(err) => return Err(err),
        }
        fed?;
        if self.eof == Eof::Told {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(None)
    }

    /// Hands rustls the ciphertext read so far, and the end of file once seen.
    fn feed(&mut self, conn: &mut Connection) -> io::Result<()> {
        while !self.pending.is_empty() {
            let mut rest = &self.pending[..];
            // Refuses once rustls holds as much plaintext as it will.
            let taken = conn.read_tls(&mut rest)?;
            self.pending.drain(..taken);
            conn.process_new_packets()
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
            if taken == 0 {
                break;
            }
        }
        if self.eof == Eof::Seen && self.pending.is_empty() {
            conn.read_tls(&mut io::empty())?;
            self.eof = Eof::Told;
            conn.process_new_packets()
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        }
        Ok(())
    }

    /// One read of the socket. Its error (a timeout, say) is the caller's,
    /// with nothing lost: no byte was taken.
    fn fill(&mut self, mut tcp: &TcpStream) -> io::Result<()> {
        let n = tcp.read(&mut self.chunk)?;
        if n == 0 {
            self.eof = Eof::Seen;
        } else {
            self.pending.extend_from_slice(&self.chunk[..n]);
        }
        Ok(())
    }
}

/// The reading half: plaintext out, ciphertext taken from its own socket.
#[derive(Debug)]
pub struct TlsReader {
    shared: Arc<Mutex<Connection>>,
    tcp: Arc<TcpStream>,
    incoming: Incoming,
    peer: Peer,
}

impl TlsReader {
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

/// What is left of `deadline`, if anything.
pub(super) fn time_left(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}
