//! The peer's link to the registry: one thread owns the registry connection,
//! sends the user's requests and the HELLO heartbeat and takes the replies;
//! a reader thread per connection reads every line as it arrives, so a
//! `BYE` the registry sends on its own is noticed at once. When the registry
//! goes away, the link reconnects with backoff and joins again.
//!
//! A `BYE` (other than `REPLACED`) that comes as the first line after a
//! request means the registry closed the connection before it read the
//! request: the link reconnects at once, joins again if it was joined, and
//! sends the request once more, so the user never sees it. A registry that is
//! down when the peer starts is retried in the background.
//!
//! This module owns the registry socket on the peer side; the link thread
//! must be the only code that writes to it, and the reader thread only reads. It knows nothing of menus or lobbies, and it
//! keeps the password of the last successful JOIN in memory only, to join
//! again after a reconnect.
//!
//! `RegistryLink` is a typed client: `register`, `join`, `list`, `search`,
//! `invite` and `check` return what was asked for or why not (`Refused`), so
//! no caller decodes `Reply` lines.

use std::fmt;
use std::io::{self, BufReader, BufWriter};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{
    Receiver, RecvTimeoutError, Sender, at, bounded, never, select, tick, unbounded,
};

use crate::line::{ConnReader, Frame, LineReader, write_line};
use crate::trace::Trace;
use crate::wire::{AttemptLimit, ByeReason, Contact, ErrorCode, Reply, Request};

/// How long to wait for the registry to answer one request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many lines the reader thread may read ahead of the link thread.
const READ_AHEAD: usize = 64;
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
    /// The registry has not been reachable since the peer started.
    NotYet,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(err) => write!(f, "cannot reach the registry: {err}"),
            ClientError::Closed(Some(reason)) => {
                let why = match reason {
                    ByeReason::Shutdown => "it is shutting down",
                    ByeReason::Timeout => "nothing was sent to it for too long",
                    ByeReason::Replaced => "this user joined from somewhere else",
                };
                write!(f, "the registry closed the connection: {why}")
            }
            ClientError::Closed(None) => f.write_str("the registry closed the connection"),
            ClientError::Protocol(line) => write!(f, "the registry sent a strange line: {line}"),
            ClientError::Offline => {
                f.write_str("the registry is unreachable; reconnecting in the background")
            }
            ClientError::NotYet => f.write_str("not connected to the registry yet"),
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
    /// The registry could not be reached at start, at these addresses for
    /// this reason; the link is retrying.
    NotYet(String),
    /// The connection failed; the link is retrying.
    Lost(String),
    /// The registry said `BYE SHUTDOWN`; the link is retrying.
    Stopped,
    /// The registry said `BYE REPLACED`: the same user joined from
    /// somewhere else, so this peer is no longer joined.
    Replaced,
    /// The link reached the registry again, or for the first time, while
    /// not joined.
    Reachable,
    /// The link reconnected and joined again as this contact.
    Back(Contact),
    /// Joining again after a reconnect failed, for this reason; the link
    /// is no longer joined.
    GaveUp(String),
}

type Replies = Result<Vec<Reply>, ClientError>;

/// Why the registry did not do what a typed request asked.
#[derive(Debug)]
pub enum Refused {
    /// `ERR TOO_MANY_ATTEMPTS`: no JOIN is taken for this many seconds,
    /// because of this limit (`None` where the reply did not say).
    TooManyAttempts {
        wait: Option<u64>,
        limit: Option<AttemptLimit>,
    },
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
            Refused::TooManyAttempts { wait, limit } => {
                f.write_str("too many failed attempts")?;
                match limit {
                    Some(AttemptLimit::Name) => f.write_str(" for this name")?,
                    Some(AttemptLimit::Address) => f.write_str(" from this address")?,
                    None => {}
                }
                if let Some(secs) = wait {
                    write!(f, "; try again in {secs} seconds")?;
                }
                Ok(())
            }
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
    server_addr: Option<SocketAddr>,
    requests: Option<Sender<(Request, Sender<Replies>)>>,
    handle: Option<JoinHandle<()>>,
}

impl RegistryLink {
    /// Starts the link and tries the registry once. If it cannot be reached
    /// yet, the link says so on `notices` and keeps trying in the
    /// background; requests meanwhile fail with `ClientError::NotYet`.
    /// Fails only if the link's thread cannot start.
    pub fn connect(
        config: LinkConfig,
        notices: Sender<LinkNotice>,
    ) -> Result<RegistryLink, ClientError> {
        let (state, server_addr) = match Conn::open(&config.addrs, config.trace) {
            Ok(conn) => {
                let addr = conn.addr;
                (State::Connected(conn), Some(addr))
            }
            Err(err) => {
                let tried: Vec<String> = config.addrs.iter().map(|a| a.to_string()).collect();
                let _ = notices.send(LinkNotice::NotYet(format!(
                    "at {} ({err})",
                    tried.join(" or ")
                )));
                let backoff = config.retry_min;
                let at = Instant::now() + backoff;
                (State::Retrying { at, backoff }, None)
            }
        };
        let (requests, requests_rx) = unbounded();
        let mut link = Link {
            ever_connected: server_addr.is_some(),
            config,
            state,
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

    /// The registry address the first connection reached, if it did.
    pub fn server_addr(&self) -> Option<SocketAddr> {
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
            Reply::Err(ErrorCode::TooManyAttempts, _) => Err(Refused::TooManyAttempts {
                wait: reply.retry_after(),
                limit: reply.attempt_limit(),
            }),
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

/// What the reader thread saw on the registry connection.
enum Incoming {
    Line(String),
    /// A line too long or not UTF-8.
    Unreadable,
    /// The connection ended or failed.
    End,
}

/// One open connection to the registry: the link thread writes it, and a
/// reader thread reads it into `lines`.
struct Conn {
    addr: SocketAddr,
    writer: BufWriter<TcpStream>,
    lines: Receiver<Incoming>,
    reader: Option<JoinHandle<()>>,
}

impl Conn {
    /// Connects to the first of `addrs` that answers, in order, so a name
    /// that resolves to `::1` first works whether the registry listens on
    /// IPv6 or on IPv4 only. The error is the last address's.
    fn open(addrs: &[SocketAddr], trace: Trace) -> io::Result<Conn> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no registry address");
        for &addr in addrs {
            match Conn::open_one(addr, trace) {
                Ok(conn) => return Ok(conn),
                Err(err) => last = err,
            }
        }
        Err(last)
    }

    fn open_one(addr: SocketAddr, trace: Trace) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, REGISTRY_CONNECT_TIMEOUT)?;
        let reader = LineReader::new(BufReader::new(stream.try_clone()?));
        let (tx, lines) = bounded(READ_AHEAD);
        let reader = thread::Builder::new()
            .name("registry-reader".into())
            .spawn(move || read_registry(reader, &tx, addr, trace))?;
        Ok(Conn {
            addr,
            writer: BufWriter::new(stream),
            lines,
            reader: Some(reader),
        })
    }

    /// The next reply, waiting until `deadline` at most.
    fn reply(&self, deadline: Instant) -> Result<Reply, ClientError> {
        let line = match self.lines.recv_deadline(deadline) {
            Ok(Incoming::Line(line)) => line,
            Ok(Incoming::Unreadable) => {
                return Err(ClientError::Protocol("(unreadable line)".into()));
            }
            Ok(Incoming::End) | Err(RecvTimeoutError::Disconnected) => {
                return Err(ClientError::Closed(None));
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(ClientError::Io(io::ErrorKind::TimedOut.into()));
            }
        };
        match line.parse::<Reply>() {
            Ok(Reply::Bye(reason)) => Err(ClientError::Closed(Some(reason))),
            Ok(reply) => Ok(reply),
            Err(_) => Err(ClientError::Protocol(line)),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Dropping the receiver ends a reader blocked on a full channel, and
        // shutting the socket down ends one blocked in a read.
        drop(std::mem::replace(&mut self.lines, never()));
        let _ = self.writer.get_ref().shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The reader thread: every line the registry sends, as it arrives.
fn read_registry(mut reader: ConnReader, lines: &Sender<Incoming>, addr: SocketAddr, trace: Trace) {
    loop {
        let incoming = match reader.next_frame() {
            Ok(Frame::Line(line)) => {
                trace.received(addr, &line);
                Incoming::Line(line)
            }
            Ok(Frame::BadEncoding) => Incoming::Unreadable,
            Ok(Frame::Eof | Frame::TooLong) | Err(_) => Incoming::End,
        };
        let end = matches!(incoming, Incoming::End);
        if lines.send(incoming).is_err() || end {
            return;
        }
    }
}

/// Where the link stands with the registry.
enum State {
    Connected(Conn),
    /// Not connected, and nothing needs a connection now: the registry
    /// closed an idle one. The next request connects.
    Idle,
    /// The registry is away; the next attempt is at `at`, and a failed one
    /// waits twice `backoff` (up to `retry_max`) before the next.
    Retrying {
        at: Instant,
        backoff: Duration,
    },
}

struct Link {
    config: LinkConfig,
    state: State,
    /// The JOIN that last succeeded, replayed after a reconnect.
    joined_as: Option<Request>,
    /// False until the registry has been reached once.
    ever_connected: bool,
    notices: Sender<LinkNotice>,
}

impl Link {
    fn run(&mut self, requests: &Receiver<(Request, Sender<Replies>)>) {
        let heartbeat = tick(self.config.hello_interval);
        loop {
            let (hellos, lines) = match &self.state {
                State::Connected(conn) if self.joined_as.is_some() => {
                    (heartbeat.clone(), conn.lines.clone())
                }
                State::Connected(conn) => (never(), conn.lines.clone()),
                State::Idle | State::Retrying { .. } => (never(), never()),
            };
            let retry = match self.state {
                State::Retrying { at: when, .. } => at(when),
                State::Connected(_) | State::Idle => never(),
            };
            select! {
                recv(requests) -> msg => match msg {
                    Ok((request, reply)) => {
                        let answer = self.request(request);
                        let _ = reply.send(answer);
                    }
                    Err(_) => break,
                },
                recv(hellos) -> _ => self.hello(),
                recv(retry) -> _ => self.retry(),
                recv(lines) -> incoming => self.unasked(incoming.unwrap_or(Incoming::End)),
            }
        }
        if self.joined_as.is_some() && matches!(self.state, State::Connected(_)) {
            let _ = self.exchange(&Request::Logout);
        }
    }

    /// A line the registry sent when nothing was asked: only `BYE` is
    /// expected, and the end of the connection.
    fn unasked(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Line(line) => {
                if let Ok(Reply::Bye(reason)) = line.parse::<Reply>() {
                    self.on_bye(reason);
                }
            }
            Incoming::Unreadable => {}
            Incoming::End => {
                self.state = State::Idle;
                if self.joined_as.is_some() {
                    self.reconnect_quietly(ClientError::Closed(None));
                }
            }
        }
    }

    /// The registry ended the connection with `reason`.
    fn on_bye(&mut self, reason: ByeReason) {
        self.state = State::Idle;
        match reason {
            ByeReason::Replaced => {
                // Someone joined as this user elsewhere; joining back would
                // only push them out in turn.
                self.joined_as = None;
                let _ = self.notices.send(LinkNotice::Replaced);
            }
            ByeReason::Shutdown => {
                let _ = self.notices.send(LinkNotice::Stopped);
                self.schedule_retry();
            }
            // An idle connection timed out: a joined peer reconnects at once
            // (its HELLOs came too late), one that is not joined connects
            // when it next needs the registry.
            ByeReason::Timeout => {
                if self.joined_as.is_some() {
                    self.reconnect_quietly(ClientError::Closed(Some(reason)));
                }
            }
        }
    }

    fn hello(&mut self) {
        if let Err(err) = self.exchange(&Request::Hello) {
            self.after_failure(err);
        }
    }

    /// After a failed exchange: a `BYE REPLACED` is final, anything else is
    /// worth one quiet reconnect before the user hears of it.
    fn after_failure(&mut self, err: ClientError) {
        match err {
            ClientError::Closed(Some(reason)) => self.on_bye(reason),
            err => self.reconnect_quietly(err),
        }
    }

    /// Connects again at once (and joins again, if joined); if that fails,
    /// says the registry is lost because of `why` and retries with backoff.
    fn reconnect_quietly(&mut self, why: ClientError) {
        match self.connect() {
            Ok(_) => {}
            Err(Some(refused)) => self.give_up(refused),
            Err(None) => {
                let _ = self.notices.send(LinkNotice::Lost(why.to_string()));
                self.schedule_retry();
            }
        }
    }

    fn schedule_retry(&mut self) {
        let backoff = self.config.retry_min;
        self.state = State::Retrying {
            at: Instant::now() + backoff,
            backoff,
        };
    }

    fn give_up(&mut self, refused: Reply) {
        self.joined_as = None;
        let _ = self.notices.send(LinkNotice::GaveUp(format!(
            "joining again failed: {refused}"
        )));
    }

    /// One attempt of the background schedule.
    fn retry(&mut self) {
        let State::Retrying { backoff, .. } = self.state else {
            return;
        };
        match self.connect() {
            Ok(contact) => self.announce(contact),
            Err(Some(refused)) => self.give_up(refused),
            Err(None) => {
                let backoff = (backoff * 2).min(self.config.retry_max);
                self.state = State::Retrying {
                    at: Instant::now() + backoff,
                    backoff,
                };
            }
        }
    }

    /// Tells the peer the registry is back after it heard it was away.
    fn announce(&self, rejoined: Option<Contact>) {
        let notice = match rejoined {
            Some(contact) => LinkNotice::Back(contact),
            None => LinkNotice::Reachable,
        };
        let _ = self.notices.send(notice);
    }

    /// Opens a connection and, if joined, joins again on it. `Ok` carries
    /// the contact of that new JOIN; `Err(Some(reply))` is a refused JOIN,
    /// `Err(None)` a connection that failed (the state is then `Idle`).
    fn connect(&mut self) -> Result<Option<Contact>, Option<Reply>> {
        self.state = State::Idle;
        let conn = Conn::open(&self.config.addrs, self.config.trace).map_err(|_| None)?;
        self.state = State::Connected(conn);
        self.ever_connected = true;
        let Some(join) = self.joined_as.clone() else {
            return Ok(None);
        };
        match self.exchange(&join) {
            Ok(replies) => match replies.into_iter().next() {
                Some(Reply::Joined(contact)) => Ok(Some(contact)),
                Some(other) => Err(Some(other)),
                None => Err(None),
            },
            Err(_) => Err(None),
        }
    }

    /// A request of the user: sent on the connection there is, or on a new
    /// one; sent once more if the registry closed the connection without
    /// acting on it.
    fn request(&mut self, request: Request) -> Replies {
        self.ensure_connected()?;
        let answer = match self.exchange(&request) {
            Err(err) if not_acted_on(&err) => {
                match self.connect() {
                    Ok(_) => {}
                    Err(Some(refused)) => {
                        self.give_up(refused);
                        return Err(err);
                    }
                    Err(None) => {
                        if self.joined_as.is_some() {
                            let _ = self.notices.send(LinkNotice::Lost(err.to_string()));
                            self.schedule_retry();
                        }
                        return Err(err);
                    }
                }
                self.exchange(&request)
            }
            answer => answer,
        };
        let answer = match answer {
            Err(ClientError::Closed(Some(ByeReason::Replaced))) => {
                self.on_bye(ByeReason::Replaced);
                return Err(ClientError::Closed(Some(ByeReason::Replaced)));
            }
            other => other?,
        };
        match (&request, answer.first()) {
            (Request::Join { .. }, Some(Reply::Joined(_))) => self.joined_as = Some(request),
            (Request::Logout, _) => self.joined_as = None,
            _ => {}
        }
        Ok(answer)
    }

    /// Makes sure there is a connection for a request, trying at once
    /// rather than waiting for the next scheduled attempt.
    fn ensure_connected(&mut self) -> Result<(), ClientError> {
        let was_retrying = match self.state {
            State::Connected(_) => return Ok(()),
            State::Idle => false,
            State::Retrying { .. } => true,
        };
        let schedule = self.state_for_retry();
        match self.connect() {
            Ok(contact) => {
                if was_retrying {
                    self.announce(contact);
                }
                Ok(())
            }
            Err(Some(refused)) => {
                self.give_up(refused);
                Err(ClientError::Offline)
            }
            Err(None) => {
                let never_reached = !self.ever_connected;
                if let Some(state) = schedule {
                    self.state = state;
                }
                Err(if never_reached {
                    ClientError::NotYet
                } else if was_retrying {
                    ClientError::Offline
                } else {
                    ClientError::Io(io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        "the registry does not answer",
                    ))
                })
            }
        }
    }

    /// The retry schedule to keep if an attempt made now fails.
    fn state_for_retry(&self) -> Option<State> {
        match self.state {
            State::Retrying { at, backoff } => Some(State::Retrying { at, backoff }),
            State::Connected(_) | State::Idle => None,
        }
    }

    /// Writes one request and reads its reply lines. A failure drops the
    /// connection: the state is then `Idle`, and the caller decides.
    fn exchange(&mut self, request: &Request) -> Replies {
        let State::Connected(conn) = &mut self.state else {
            return Err(ClientError::Closed(None));
        };
        let result = exchange_on(conn, request, self.config.trace);
        if result.is_err() {
            self.state = State::Idle;
        }
        result
    }
}

/// True for a failure that shows the registry never acted on the request:
/// the connection was closed (a `BYE` other than `REPLACED`, or no line at
/// all) or broken before the reply. A reply that is late is not one: the
/// registry may have acted on it.
fn not_acted_on(err: &ClientError) -> bool {
    match err {
        ClientError::Closed(Some(reason)) => *reason != ByeReason::Replaced,
        ClientError::Closed(None) => true,
        ClientError::Io(err) => err.kind() != io::ErrorKind::TimedOut,
        ClientError::Protocol(_) | ClientError::Offline | ClientError::NotYet => false,
    }
}

fn exchange_on(conn: &mut Conn, request: &Request, trace: Trace) -> Replies {
    trace.sent(conn.addr, request);
    write_line(&mut conn.writer, request)?;
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let first = conn.reply(deadline)?;
    let mut replies = vec![first];
    if let Reply::List(count) = replies[0] {
        for _ in 0..count {
            replies.push(conn.reply(deadline)?);
        }
    }
    Ok(replies)
}
