//! The peer's link to the registry: one thread owns the registry connection,
//! sends the user's requests and the HELLO heartbeat, reads the replies, and
//! when the registry goes away, reconnects with backoff and joins again.
//!
//! This module owns the registry socket on the peer side; it must be the
//! only code that writes to it. It knows nothing of menus or lobbies, and it
//! keeps the password of the last successful JOIN in memory only, to join
//! again after a reconnect.
//!
//! `RegistryLink` is a typed client: `register`, `join`, `list`, `search`,
//! `invite` and `check` return what was asked for or why not (`Refused`), so
//! no caller decodes `Reply` lines.

use std::fmt;
use std::io::{self, BufReader, BufWriter};
use std::net::{SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, at, bounded, never, select, tick, unbounded};

use crate::line::{ConnReader, Frame, LineReader, write_line};
use crate::trace::Trace;
use crate::wire::{ByeReason, Contact, ErrorCode, Reply, Request};

/// How long to wait for the registry to answer one request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one connection attempt may take.
const REGISTRY_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How the link behaves.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The registry's addresses, tried in order at every (re)connect.
    pub addrs: Vec<SocketAddr>,
    /// HELLO is sent this often once joined.
    pub hello_interval: Duration,
    /// The first wait before reconnecting; it doubles up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub trace: Trace,
}

/// Why a request to the registry got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// The connection failed or timed out.
    Io(io::Error),
    /// The registry closed the connection, with its `BYE` reason if it gave one.
    Closed(Option<ByeReason>),
    /// The registry answered something that is not a reply.
    Protocol(String),
    /// The link is waiting to reconnect.
    Offline,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(err) => write!(f, "cannot reach the registry: {err}"),
            ClientError::Closed(Some(reason)) => {
                write!(f, "the registry closed the connection ({reason})")
            }
            ClientError::Closed(None) => f.write_str("the registry closed the connection"),
            ClientError::Protocol(line) => write!(f, "the registry sent a strange line: {line}"),
            ClientError::Offline => f.write_str("the registry is unreachable; reconnecting"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(err: io::Error) -> ClientError {
        ClientError::Io(err)
    }
}

/// What the link tells the peer about the registry, unasked.
#[derive(Debug)]
pub enum LinkNotice {
    /// The connection failed; the link is retrying.
    Lost(String),
    /// The link reconnected and joined again as this contact.
    Back(Contact),
    /// The link stopped retrying, for this reason.
    GaveUp(String),
}

type Replies = Result<Vec<Reply>, ClientError>;

/// Why the registry did not do what a typed request asked.
#[derive(Debug)]
pub enum Refused {
    /// `ERR TOO_MANY_ATTEMPTS`: no JOIN is taken for this many seconds
    /// (`None` if the reply did not say).
    TooManyAttempts(Option<u64>),
    /// Any other `ERR <code> <text>`.
    Err(ErrorCode, String),
    /// A reply that does not answer the request.
    Unexpected(Reply),
    /// No reply: the link failed, or is reconnecting.
    Link(ClientError),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::TooManyAttempts(Some(secs)) => {
                write!(f, "too many failed attempts; try again in {secs} seconds")
            }
            Refused::TooManyAttempts(None) => f.write_str("too many failed attempts"),
            Refused::Err(_, text) => f.write_str(text),
            Refused::Unexpected(reply) => write!(f, "the registry answered strangely: {reply}"),
            Refused::Link(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for Refused {}

/// A ticket the registry vouched for: `leader` may invite `invitee`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouched {
    pub leader: String,
    pub invitee: String,
}

/// A running link to the registry.
pub struct RegistryLink {
    server_addr: SocketAddr,
    requests: Option<Sender<(Request, Sender<Replies>)>>,
    handle: Option<JoinHandle<()>>,
}

impl RegistryLink {
    /// Connects to the registry. The first connection must succeed; later
    /// losses are retried, and reported on `notices`.
    pub fn connect(
        config: LinkConfig,
        notices: Sender<LinkNotice>,
    ) -> Result<RegistryLink, ClientError> {
        let conn = Conn::open(&config.addrs)?;
        let server_addr = conn.addr;
        let (requests, requests_rx) = unbounded();
        let mut link = Link {
            config,
            state: State::Connected(conn),
            joined_as: None,
            notices,
        };
        let handle = thread::Builder::new()
            .name("registry-link".into())
            .spawn(move || link.run(&requests_rx))?;
        Ok(RegistryLink {
            server_addr,
            requests: Some(requests),
            handle: Some(handle),
        })
    }

    /// The registry address the first connection reached.
    pub fn server_addr(&self) -> SocketAddr {
        self.server_addr
    }

    /// Sends `request` and waits for its reply lines (several for LIST).
    fn request(&self, request: Request) -> Replies {
        let (tx, rx) = bounded(1);
        let Some(requests) = &self.requests else {
            return Err(ClientError::Closed(None));
        };
        if requests.send((request, tx)).is_err() {
            return Err(ClientError::Closed(None));
        }
        rx.recv().unwrap_or(Err(ClientError::Closed(None)))
    }

    /// Creates an account; returns the name as the registry wrote it.
    pub fn register(&self, name: &str, password: &str) -> Result<String, Refused> {
        let request = Request::Register {
            name: name.into(),
            password: password.into(),
        };
        match self.first(request)? {
            Reply::Registered(name) => Ok(name),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// Logs in with the chat port others reach us on; returns our contact
    /// as the registry sees it. After this the link sends `HELLO`, and
    /// joins again by itself after a reconnect.
    pub fn join(&self, name: &str, password: &str, port: u16) -> Result<Contact, Refused> {
        let request = Request::Join {
            name: name.into(),
            password: password.into(),
            port,
        };
        match self.first(request)? {
            Reply::Joined(contact) => Ok(contact),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// Everyone online, in the registry's order.
    pub fn list(&self) -> Result<Vec<Contact>, Refused> {
        let replies = self.request(Request::List).map_err(Refused::Link)?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                Reply::Row(contact) => Some(contact),
                _ => None,
            })
            .collect())
    }

    /// Where `name` is online; `Refused::Err(ErrorCode::Offline | NotFound, ..)`
    /// if nowhere.
    pub fn search(&self, name: &str) -> Result<Contact, Refused> {
        match self.first(Request::Search { name: name.into() })? {
            Reply::Found(contact) => Ok(contact),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// A ticket that proves to `name` that this chat request is ours.
    pub fn invite(&self, name: &str) -> Result<String, Refused> {
        match self.first(Request::Invite { name: name.into() })? {
            Reply::Ticket(ticket) => Ok(ticket),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// Whom `ticket` was issued for.
    pub fn check(&self, ticket: &str) -> Result<Vouched, Refused> {
        let request = Request::Check {
            ticket: ticket.into(),
        };
        match self.first(request)? {
            Reply::Valid { leader, invitee } => Ok(Vouched { leader, invitee }),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// Sends `request` and returns its first reply, an `ERR` as `Refused`.
    fn first(&self, request: Request) -> Result<Reply, Refused> {
        let replies = self.request(request).map_err(Refused::Link)?;
        // `exchange_on` returns at least one reply, or an error.
        let Some(reply) = replies.into_iter().next() else {
            return Err(Refused::Link(ClientError::Closed(None)));
        };
        match reply {
            Reply::Err(ErrorCode::TooManyAttempts, _) => {
                Err(Refused::TooManyAttempts(reply.retry_after()))
            }
            Reply::Err(code, text) => Err(Refused::Err(code, text)),
            reply => Ok(reply),
        }
    }

    /// Logs out if joined, then closes the connection and joins the thread.
    pub fn close(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        drop(self.requests.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for RegistryLink {
    fn drop(&mut self) {
        self.shut();
    }
}

/// One open connection to the registry.
struct Conn {
    addr: SocketAddr,
    reader: ConnReader,
    writer: BufWriter<TcpStream>,
}

impl Conn {
    /// Connects to the first of `addrs` that answers, in order, so a name
    /// that resolves to `::1` first works whether the registry listens on
    /// IPv6 or on IPv4 only. The error is the last address's.
    fn open(addrs: &[SocketAddr]) -> io::Result<Conn> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no registry address");
        for &addr in addrs {
            match Conn::open_one(addr) {
                Ok(conn) => return Ok(conn),
                Err(err) => last = err,
            }
        }
        Err(last)
    }

    fn open_one(addr: SocketAddr) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, REGISTRY_CONNECT_TIMEOUT)?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        Ok(Conn {
            addr,
            reader: LineReader::new(BufReader::new(stream.try_clone()?)),
            writer: BufWriter::new(stream),
        })
    }
}

/// Where the link stands with the registry.
enum State {
    Connected(Conn),
    /// The connection was lost; the next attempt is at `at`, and a failed
    /// one waits twice `backoff` (up to `retry_max`) before the next.
    Retrying {
        at: Instant,
        backoff: Duration,
    },
    /// The link stopped retrying for good (after `BYE REPLACED`).
    GaveUp,
}

struct Link {
    config: LinkConfig,
    state: State,
    /// The JOIN that last succeeded, replayed after a reconnect.
    joined_as: Option<Request>,
    notices: Sender<LinkNotice>,
}

impl Link {
    fn run(&mut self, requests: &Receiver<(Request, Sender<Replies>)>) {
        let heartbeat = tick(self.config.hello_interval);
        loop {
            let connected = matches!(self.state, State::Connected(_));
            let hellos = if self.joined_as.is_some() && connected {
                heartbeat.clone()
            } else {
                never()
            };
            let retry = match self.state {
                State::Retrying { at: when, .. } => at(when),
                State::Connected(_) | State::GaveUp => never(),
            };
            select! {
                recv(requests) -> msg => match msg {
                    Ok((request, reply)) => {
                        let answer = self.request(request);
                        let _ = reply.send(answer);
                    }
                    Err(_) => break,
                },
                recv(hellos) -> _ => {
                    let _ = self.exchange(&Request::Hello);
                }
                recv(retry) -> _ => self.reconnect(),
            }
        }
        if self.joined_as.is_some() && matches!(self.state, State::Connected(_)) {
            let _ = self.exchange(&Request::Logout);
        }
    }

    fn request(&mut self, request: Request) -> Replies {
        let answer = self.exchange(&request)?;
        match (&request, answer.first()) {
            (Request::Join { .. }, Some(Reply::Joined(_))) => self.joined_as = Some(request),
            (Request::Logout, _) => self.joined_as = None,
            _ => {}
        }
        Ok(answer)
    }

    /// Writes one request and reads its reply lines. A failure drops the
    /// connection and starts the reconnect schedule.
    fn exchange(&mut self, request: &Request) -> Replies {
        let conn = match &mut self.state {
            State::Connected(conn) => conn,
            State::Retrying { .. } => return Err(ClientError::Offline),
            State::GaveUp => return Err(ClientError::Closed(None)),
        };
        let result = exchange_on(conn, request, self.config.trace);
        if let Err(err) = &result {
            if let ClientError::Closed(Some(ByeReason::Replaced)) = err {
                // Someone joined as this user elsewhere; joining back would
                // only push them out in turn.
                self.state = State::GaveUp;
                self.joined_as = None;
                let _ = self.notices.send(LinkNotice::GaveUp(
                    "this user joined from somewhere else".into(),
                ));
            } else {
                let _ = self.notices.send(LinkNotice::Lost(err.to_string()));
                let backoff = self.config.retry_min;
                self.state = State::Retrying {
                    at: Instant::now() + backoff,
                    backoff,
                };
            }
        }
        result
    }

    fn reconnect(&mut self) {
        let State::Retrying { backoff, .. } = self.state else {
            return;
        };
        let conn = match Conn::open(&self.config.addrs) {
            Ok(conn) => conn,
            Err(_) => {
                let backoff = (backoff * 2).min(self.config.retry_max);
                self.state = State::Retrying {
                    at: Instant::now() + backoff,
                    backoff,
                };
                return;
            }
        };
        self.state = State::Connected(conn);
        let Some(join) = self.joined_as.clone() else {
            return;
        };
        // If the connection fails again, exchange has scheduled a retry.
        if let Ok(replies) = self.exchange(&join) {
            match replies.into_iter().next() {
                Some(Reply::Joined(contact)) => {
                    let _ = self.notices.send(LinkNotice::Back(contact));
                }
                Some(other) => {
                    self.joined_as = None;
                    let _ = self
                        .notices
                        .send(LinkNotice::GaveUp(format!("joining again failed: {other}")));
                }
                None => {}
            }
        }
    }
}

fn exchange_on(conn: &mut Conn, request: &Request, trace: Trace) -> Replies {
    let addr = conn.addr;
    trace.sent(addr, request);
    write_line(&mut conn.writer, request)?;
    let first = read_reply(conn, addr, trace)?;
    let mut replies = vec![first];
    if let Reply::List(count) = replies[0] {
        for _ in 0..count {
            replies.push(read_reply(conn, addr, trace)?);
        }
    }
    Ok(replies)
}

fn read_reply(conn: &mut Conn, addr: SocketAddr, trace: Trace) -> Result<Reply, ClientError> {
    let line = match conn.reader.next_frame()? {
        Frame::Line(line) => line,
        Frame::Eof => return Err(ClientError::Closed(None)),
        Frame::TooLong | Frame::BadEncoding => {
            return Err(ClientError::Protocol("(unreadable line)".into()));
        }
    };
    trace.received(addr, &line);
    match line.parse::<Reply>() {
        Ok(Reply::Bye(reason)) => Err(ClientError::Closed(Some(reason))),
        Ok(reply) => Ok(reply),
        Err(_) => Err(ClientError::Protocol(line)),
    }
}
