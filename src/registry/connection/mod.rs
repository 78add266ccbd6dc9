//! One client connection, served on its own thread: reads request lines,
//! asks the hub (or the hashing threads) and writes the replies.
//!
//! The thread is the only reader and writer of its socket. Its phases are
//! functions: `HubLink::connect` (tell the hub, which can then shut the
//! socket, ending a handshake under way), `secure` (over TLS: the sniff
//! that answers a person typing plain text, then the handshake under a
//! deadline, on a thread that ends with it; the client's key, if it
//! presented one, is then `conn.peer_key()`), `prepare` (the timeouts),
//! `talk` (one request after another until the client leaves or the hub
//! says BYE), and the goodbye to the hub, which `HubLink` sends on every
//! way out. What each request
//! is answered with is `requests`'s. It never touches shared state except
//! through `RegistryEvent`s, and nothing a client sends may panic it.

mod requests;

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use rustls::ServerConfig;

use self::requests::{Answer, Joined, Next, Origin};
use super::accounts::AccountQueue;
use super::event::{Bye, RegistryEvent, Socket};
use super::throttle::Site;
use crate::conn::{Conn, Received, Stream};
use crate::crypto::{Opening, accept_aside, plain_text_notice, refuse_plain_text, sniff};
use crate::line::is_timeout;
use crate::password::HashQueue;
use crate::trace::Trace;
use crate::wire::{self, ErrorCode, ParseError, Reply, Request};

/// How long a person who typed plain text at the TLS port has to read the
/// one line that says what to do, before the connection closes.
const PLAIN_TEXT_LINGER: Duration = Duration::from_secs(2);

/// The read buffer of a registry connection: a few lines' worth.
const READ_BUFFER: usize = 512;

/// How often a connection thread looks for the hub's BYE reason where
/// shutting a socket's read side does not wake its reader.
#[cfg(not(unix))]
const BYE_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Tells the hub a connection is gone when dropped, on every way out of
/// the connection's thread, early returns included: a session the hub is
/// never told about would hold its user online for good.
struct HubLink<'a> {
    events: &'a Sender<RegistryEvent>,
    id: u64,
}

impl<'a> HubLink<'a> {
    /// Tells the hub about a new connection; `None` if the hub has stopped.
    fn connect(
        events: &'a Sender<RegistryEvent>,
        id: u64,
        addr: SocketAddr,
        socket: &Arc<Socket>,
    ) -> Option<HubLink<'a>> {
        let socket = socket.clone();
        events
            .send(RegistryEvent::Connected { id, addr, socket })
            .ok()?;
        Some(HubLink { events, id })
    }
}

impl Drop for HubLink<'_> {
    fn drop(&mut self) {
        let _ = self
            .events
            .send(RegistryEvent::Disconnected { id: self.id });
    }
}

/// How long a JOIN or LOGOUT waits for its presence change to be tried on
/// disk before it is answered anyway: the hub's memory is the truth, and a
/// change the disk refused is retried.
const PRESENCE_WAIT: Duration = Duration::from_secs(5);

/// Waits until the presence writer has tried this connection's change (it
/// drops the sender), so that a client told `OK JOINED` or `OK BYE` finds
/// the database agreeing, unless the disk is failing.
fn wait_for_the_database(written: &Receiver<()>) {
    let _ = written.recv_timeout(PRESENCE_WAIT);
}

fn too_long() -> Reply {
    Reply::Err(
        ErrorCode::LineTooLong,
        format!("lines are at most {} bytes; closing", wire::MAX_LINE),
    )
}

/// One client connection, served on its own thread.
pub(super) struct Connection {
    pub(super) id: u64,
    pub(super) events: Sender<RegistryEvent>,
    pub(super) hashes: HashQueue,
    pub(super) accounts: AccountQueue,
    pub(super) trace: Trace,
    pub(super) write_timeout: Duration,
    /// The TLS configuration, `None` in plain text.
    pub(super) tls: Option<Arc<ServerConfig>>,
    /// How long the client has to finish its TLS handshake.
    pub(super) handshake_timeout: Duration,
    /// Its place among the connections, given back when it is dropped.
    pub(super) _admitted: Admitted,
}

impl Connection {
    /// Serves `stream` until the client leaves or the hub ends it.
    pub(super) fn serve(self, stream: TcpStream) {
        let Ok(addr) = stream.peer_addr() else {
            return;
        };
        // One descriptor per connection, shared with the hub (which only
        // shuts it down) and between the connection's halves, rather than a
        // `try_clone` for each: at ten thousand clients, descriptors run
        // out before anything else.
        let tcp = Arc::new(stream);
        let socket = Arc::new(Socket::new(Arc::clone(&tcp)));
        let Some(_hub) = HubLink::connect(&self.events, self.id, addr, &socket) else {
            return;
        };
        let stream = match self.secure(tcp, addr) {
            Ok(Some(stream)) => stream,
            Ok(None) => return,
            Err(err) => {
                self.trace_error(addr, &err);
                return;
            }
        };
        if let Err(err) = self.prepare(stream.socket()) {
            self.trace_error(addr, &err);
            return;
        }
        // Lines are short, so a small buffer will do: with thousands of
        // idle connections, buffer sizes are most of the server's memory.
        let conn = Conn::with_buffer(stream, addr, self.trace, READ_BUFFER);
        let talked = conn.and_then(|mut conn| {
            self.talk(&mut conn, &socket.bye, addr)?;
            // The registry ends the talk: say so cleanly. A client that
            // left first, or a socket the hub shut, makes this fail, which
            // changes nothing.
            let _ = conn.close();
            Ok(())
        });
        if let Err(err) = talked {
            self.trace_error(addr, &err);
        }
    }

    /// The stream to talk over: the socket itself in plain text; over TLS,
    /// the session once the handshake is done. `None` when there is
    /// nothing to talk to: a person who typed plain text (they got one line
    /// saying what to do), or a client that left first.
    fn secure(&self, tcp: Arc<TcpStream>, addr: SocketAddr) -> io::Result<Option<Stream>> {
        let Some(config) = &self.tls else {
            return Ok(Some(Stream::Plain(tcp)));
        };
        let deadline = Instant::now() + self.handshake_timeout;
        match sniff(&tcp, deadline)? {
            Opening::Closed => return Ok(None),
            Opening::PlainText => {
                if self.trace.is_on() {
                    self.trace
                        .received(addr, "(plain text at the TLS port: told how to connect)");
                }
                let notice = plain_text_notice(tcp.local_addr()?);
                refuse_plain_text(&*tcp, &notice, PLAIN_TEXT_LINGER)?;
                return Ok(None);
            }
            Opening::Tls => {}
        }
        // On a thread of its own, so this thread's stack stays as shallow
        // as in plain text for as long as the client stays.
        match accept_aside(tcp, Arc::clone(config), deadline) {
            Ok(tls) => {
                if self.trace.is_on() {
                    let key = tls.peer_fingerprint();
                    let key = key.map_or("no client key".to_string(), |key| key.to_string());
                    self.trace
                        .received(addr, format_args!("(TLS handshake done; {key})"));
                }
                Ok(Some(Stream::from(tls)))
            }
            Err(err) => Err(io::Error::other(err)),
        }
    }

    fn trace_error(&self, addr: SocketAddr, err: &io::Error) {
        if self.trace.is_on() {
            self.trace
                .received(addr, format_args!("(connection error: {err})"));
        }
    }

    /// Sets the socket's timeouts.
    fn prepare(&self, stream: &TcpStream) -> io::Result<()> {
        // A client that stops reading must not hold this thread, and with
        // it a shutdown, for ever: a write that cannot finish in time ends
        // the connection.
        stream.set_write_timeout(Some(self.write_timeout))?;
        // Off unix, shutting the read side of a socket does not reliably
        // wake a thread blocked reading it (on Windows the blocked `recv`
        // may go on waiting), so there the thread reads with a timeout and
        // looks for the hub's BYE reason at each one. Linux and the BSDs
        // end the blocked read at once, and thousands of idle threads are
        // spared a wake-up each per interval.
        #[cfg(not(unix))]
        stream.set_read_timeout(Some(BYE_POLL))?;
        Ok(())
    }

    /// Answers one request after another until the client leaves, a line
    /// cannot be framed, or the hub leaves a reason to say `BYE`.
    fn talk(
        &self,
        conn: &mut Conn<Stream, Request, Reply>,
        bye: &OnceLock<Bye>,
        addr: SocketAddr,
    ) -> io::Result<()> {
        let mut joined = Joined::No;
        loop {
            let received = conn.recv();
            if let Some(bye) = bye.get() {
                wait_for_the_database(&bye.written);
                return conn.send(&Reply::Bye(bye.reason));
            }
            let request = match heard(conn, received)? {
                Heard::Request(request) => request,
                Heard::Nothing => continue,
                Heard::End => return Ok(()),
            };
            if let Next::Close = self.answer(conn, request, &mut joined, bye, addr)? {
                return Ok(());
            }
        }
    }

    /// Works out the answer to one request (or the error of a line that is
    /// not one) and writes it, telling the hub the connection is busy
    /// meanwhile.
    fn answer(
        &self,
        conn: &mut Conn<Stream, Request, Reply>,
        request: Result<Request, ParseError>,
        joined: &mut Joined,
        bye: &OnceLock<Bye>,
        addr: SocketAddr,
    ) -> io::Result<Next> {
        self.busy(true);
        let answer = match request {
            Ok(request) => {
                let origin = Origin {
                    ip: addr.ip().to_canonical(),
                    certificate: conn.peer_key(),
                };
                self.handle(request, joined, origin)
            }
            Err(err) => Answer::Reply(vec![err.into()]),
        };
        let (replies, next) = answer.into_replies(bye);
        // All the lines of one answer (a LIST has one per user) go out in
        // one write.
        conn.send_all(&replies)?;
        // The silence the sweeper counts starts again once the answer is
        // out, however long it took.
        self.busy(false);
        Ok(next)
    }

    /// Tells the hub a request is being answered (`busy`), or its answer
    /// went out.
    fn busy(&self, busy: bool) {
        let _ = self
            .events
            .send(RegistryEvent::Activity { id: self.id, busy });
    }
}

/// What one read from the client comes to.
enum Heard {
    /// A request, or the error of a line that is not one.
    Request(Result<Request, ParseError>),
    /// Nothing to answer: read again.
    Nothing,
    /// The connection is over.
    End,
}

/// What `received` comes to, once a line that cannot be answered as a
/// request has had its own reply.
fn heard(
    conn: &mut Conn<Stream, Request, Reply>,
    received: io::Result<Received<Request>>,
) -> io::Result<Heard> {
    match received {
        // Only with the read timeout that stands in for the hub's wake-up
        // where shutting the read side does not wake us.
        Err(err) if is_timeout(&err) => Ok(Heard::Nothing),
        Err(err) => Err(err),
        Ok(Received::End) => Ok(Heard::End),
        Ok(Received::TooLong) => {
            conn.send(&too_long())?;
            Ok(Heard::End)
        }
        Ok(Received::BadEncoding) => {
            conn.send(&Reply::Err(
                ErrorCode::BadEncoding,
                "lines must be UTF-8".into(),
            ))?;
            Ok(Heard::Nothing)
        }
        Ok(Received::Line(request)) => Ok(Heard::Request(Ok(request))),
        Ok(Received::Malformed { err, .. }) => Ok(Heard::Request(Err(err))),
    }
}

/// Holds a connection's place in the acceptor's `Admission` for as long as
/// the connection exists, and gives it back when dropped. It lives here,
/// beside the connection that holds it, so the connection imports nothing
/// from the acceptor that starts it.
pub(super) struct Admitted {
    site: Site,
    gone: Sender<Site>,
}

impl Admitted {
    pub(super) fn new(site: Site, gone: Sender<Site>) -> Admitted {
        Admitted { site, gone }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        // Once the acceptor has stopped, nobody counts places any more.
        let _ = self.gone.send(self.site);
    }
}
