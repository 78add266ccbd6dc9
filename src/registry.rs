//! The registry server: accounts, presence, and the registry side of the
//! protocol.
//!
//! Threads: the acceptor (the caller of `Server::run`), one connection thread
//! per client, the hashing threads, the sweeper, and the hub. The hub is the
//! one owner of the shared state (the `Store` and the map of who is online);
//! every other thread sends it `Event`s, and waits for an answer where the
//! event carries a reply channel. Each connection thread is the
//! only writer of its socket: when the hub has to end a connection, it leaves
//! the reason beside the socket and shuts the socket's read side to wake it.
//!
//! This module must never hold the store while a password is hashed (hashes
//! run on the few threads of `password::Hasher`), and never let
//! anything that came from a socket panic a thread.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, select, tick, unbounded};

use crate::db::{DbError, Store};
use crate::line::{Frame, LineReader, write_line};
use crate::password::{HashQueue, Hasher};
use crate::trace::{self, Trace};
use crate::wire::{AttemptLimit, ByeReason, Contact, ErrorCode, HELP_TEXT, Reply, Request};

/// The port the registry listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7777;

/// How long a connection may stay silent unless told otherwise.
pub const DEFAULT_HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// How many connections the server holds at once unless told otherwise:
/// each is a thread, and the machine this was sized on allows about 16,000.
pub const DEFAULT_MAX_CONNECTIONS: usize = 12_000;

/// The read buffer of a registry connection: a few lines' worth.
const READ_BUFFER: usize = 512;

/// Connection threads do little (hashing runs on the hashing threads), so
/// they need far less than the default 2 MiB stack.
const CONNECTION_STACK: usize = 256 * 1024;

/// How failed JOINs are limited.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// Failures for one name, or from one address, that start a cool-down.
    pub max_failures: usize,
    /// How far back failures count.
    pub window: Duration,
    /// How long JOINs for that name or from that address are refused.
    pub cooldown: Duration,
}

impl Default for ThrottleConfig {
    fn default() -> ThrottleConfig {
        ThrottleConfig {
            max_failures: 5,
            window: Duration::from_secs(60),
            cooldown: Duration::from_secs(60),
        }
    }
}

/// How a registry server is set up.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub bind: SocketAddr,
    pub db_path: PathBuf,
    /// How long a connection may send nothing before it is closed.
    pub hello_timeout: Duration,
    pub trace: Trace,
    /// Where a line goes for each registration, join and leave (the binary
    /// prints them). The hub never waits for it: a line that does not fit
    /// in the channel is dropped, so a stalled log cannot stall the server.
    pub log: Option<Sender<String>>,
    /// Connections over this number get `ERR SERVER_FULL` and are closed.
    pub max_connections: usize,
    /// How long an invitation ticket stays good.
    pub ticket_ttl: Duration,
    pub throttle: ThrottleConfig,
}

impl RegistryConfig {
    pub fn new(bind: SocketAddr, db_path: impl Into<PathBuf>) -> RegistryConfig {
        RegistryConfig {
            bind,
            db_path: db_path.into(),
            hello_timeout: DEFAULT_HELLO_TIMEOUT,
            trace: Trace::off(),
            log: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            ticket_ttl: Duration::from_secs(60),
            throttle: ThrottleConfig::default(),
        }
    }
}

/// Why the server could not start or run.
#[derive(Debug)]
pub enum ServerError {
    Bind(SocketAddr, io::Error),
    Db(DbError),
    Io(io::Error),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Bind(addr, err) => write!(f, "cannot listen on {addr}: {err}"),
            ServerError::Db(err) => err.fmt(f),
            ServerError::Io(err) => write!(f, "network error: {err}"),
        }
    }
}

impl std::error::Error for ServerError {}

impl From<DbError> for ServerError {
    fn from(err: DbError) -> ServerError {
        ServerError::Db(err)
    }
}

impl From<io::Error> for ServerError {
    fn from(err: io::Error) -> ServerError {
        ServerError::Io(err)
    }
}

/// A bound, not yet running, registry server.
pub struct Server {
    listener: TcpListener,
    store: Store,
    config: RegistryConfig,
    stop: Stopper,
}

/// Stops a running server from another thread (or a Ctrl-C handler).
#[derive(Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl Stopper {
    /// Asks the server to shut down, and wakes its blocked `accept`.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        crate::wake_acceptor(self.addr);
    }

    fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Server {
    /// Opens the database and binds the listening socket.
    pub fn bind(config: RegistryConfig) -> Result<Server, ServerError> {
        let store = Store::open(&config.db_path)?;
        let listener =
            TcpListener::bind(config.bind).map_err(|err| ServerError::Bind(config.bind, err))?;
        let addr = listener.local_addr()?;
        Ok(Server {
            listener,
            store,
            config,
            stop: Stopper {
                flag: Arc::new(AtomicBool::new(false)),
                addr,
            },
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stop.addr
    }

    pub fn stopper(&self) -> Stopper {
        self.stop.clone()
    }

    /// Serves until stopped, then ends every connection with `BYE SHUTDOWN`,
    /// marks everyone offline and closes the database.
    pub fn run(self) -> Result<(), ServerError> {
        let Server {
            listener,
            store,
            config,
            stop,
        } = self;
        let hasher = Hasher::per_core()?;
        let (events, events_rx) = unbounded();
        let hub = {
            let config = config.clone();
            thread::Builder::new()
                .name("registry-hub".into())
                .spawn(move || Hub::new(store, config).run(events_rx))?
        };
        let (sweep_stop, sweep_stop_rx) = bounded::<()>(0);
        let sweeper = {
            let events = events.clone();
            let every =
                (config.hello_timeout / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
            thread::Builder::new()
                .name("registry-sweeper".into())
                .spawn(move || sweep(every, &events, &sweep_stop_rx))?
        };

        let live = Arc::new(AtomicUsize::new(0));
        let mut connections: Vec<JoinHandle<()>> = Vec::new();
        let mut next_id = 0u64;
        for stream in listener.incoming() {
            if stop.is_stopped() {
                break;
            }
            let stream = match stream {
                Ok(stream) => stream,
                // A client that gave up before we accepted it, or a brief
                // shortage of file descriptors: neither should stop the server.
                Err(err) => {
                    trace::err(format_args!("accept failed: {err}"));
                    // Out of descriptors, accept fails at once until a
                    // connection closes: pause rather than spin.
                    thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if live.load(Ordering::SeqCst) >= config.max_connections {
                refuse_full(stream, config.max_connections, config.trace);
                continue;
            }
            connections.retain(|handle| !handle.is_finished());
            next_id += 1;
            let conn = Connection {
                id: next_id,
                events: events.clone(),
                hashes: hasher.queue(),
                trace: config.trace,
                write_timeout: config.hello_timeout.min(Duration::from_secs(5)),
                _live: LiveGuard::new(&live),
            };
            match thread::Builder::new()
                .name(format!("registry-conn-{next_id}"))
                .stack_size(CONNECTION_STACK)
                .spawn(move || conn.serve(stream))
            {
                Ok(handle) => connections.push(handle),
                Err(err) => trace::err(format_args!("cannot start a connection thread: {err}")),
            }
        }

        // Clients that connect from now on are refused by the system rather
        // than left in the backlog without a goodbye.
        drop(listener);
        let _ = events.send(Event::Shutdown);
        for handle in connections {
            let _ = handle.join();
        }
        drop(sweep_stop);
        let _ = sweeper.join();
        drop(events);
        hub.join()
            .map_err(|_| ServerError::Io(io::Error::other("the registry hub panicked")))??;
        Ok(())
    }
}

/// Answers a connection over the cap and closes it at once. The acceptor
/// writes this one line itself: no other thread ever sees the socket.
fn refuse_full(mut stream: TcpStream, max: usize, trace: Trace) {
    let reply = Reply::Err(
        ErrorCode::ServerFull,
        format!("the server holds {max} connections already; try again later"),
    );
    if let Ok(addr) = stream.peer_addr() {
        trace.sent(addr, &reply);
    }
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = write_line(&mut stream, &reply);
}

/// Counts a live connection for as long as it exists.
struct LiveGuard(Arc<AtomicUsize>);

impl LiveGuard {
    fn new(live: &Arc<AtomicUsize>) -> LiveGuard {
        live.fetch_add(1, Ordering::SeqCst);
        LiveGuard(live.clone())
    }
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Sends the hub a `Sweep` every `every` until `stop` is dropped.
fn sweep(every: Duration, events: &Sender<Event>, stop: &Receiver<()>) {
    let ticks = tick(every);
    loop {
        select! {
            recv(ticks) -> _ => {
                if events.send(Event::Sweep).is_err() {
                    return;
                }
            }
            recv(stop) -> _ => return,
        }
    }
}

/// What connection threads and the sweeper tell the hub.
enum Event {
    /// A connection opened.
    Connected {
        id: u64,
        addr: SocketAddr,
        socket: Arc<Socket>,
    },
    /// A complete line arrived on a connection (`busy`: its answer is
    /// being worked out), or its answer went out (`busy` false).
    Activity {
        id: u64,
        busy: bool,
    },
    /// Store a new account.
    Register {
        name: String,
        hash: String,
        reply: Sender<Reply>,
    },
    /// Look up the stored hash for a JOIN from `ip`, unless JOINs for
    /// that name or from that address are cooling down. The attempt counts
    /// as a failure until the `Join` that follows a good password.
    Account {
        name: String,
        ip: IpAddr,
        reply: Sender<Result<Option<crate::db::Account>, Reply>>,
    },
    /// Issue a ticket for connection `id`'s user to invite `name`.
    Invite {
        id: u64,
        name: String,
        reply: Sender<Reply>,
    },
    /// Check and use up a ticket shown to connection `id`'s user.
    Check {
        id: u64,
        ticket: String,
        reply: Sender<Reply>,
    },
    /// The password checked out: mark `name` online on this connection.
    Join {
        id: u64,
        ip: IpAddr,
        name: String,
        port: u16,
        reply: Sender<Reply>,
    },
    List {
        reply: Sender<Vec<Reply>>,
    },
    Search {
        name: String,
        reply: Sender<Reply>,
    },
    /// The user of connection `id` logs out.
    Logout {
        id: u64,
        reply: Sender<Reply>,
    },
    /// The connection closed (after LOGOUT, an error, or a kick).
    Disconnected {
        id: u64,
    },
    /// Time to close idle connections.
    Sweep,
    /// The server is stopping.
    Shutdown,
}

/// A connection's socket, shared by its thread and the hub. The hub only
/// ever shuts it down, after leaving the reason in `bye`; the thread is its
/// only reader and writer.
struct Socket {
    stream: TcpStream,
    /// Why the hub ended the connection; the first reason given stands.
    bye: OnceLock<ByeReason>,
}

struct Session {
    addr: SocketAddr,
    socket: Arc<Socket>,
    last_active: Instant,
    /// A request of this connection is still being answered. The client
    /// spoke and is waiting, so it is not silent however long the answer
    /// takes (a JOIN queued behind other hashes on a busy machine).
    busy: bool,
    /// Set once the hub has told this connection to close.
    kicked: bool,
    /// The key in `Hub::online` of the user this connection holds online.
    user: Option<String>,
}

struct Online {
    session: u64,
    contact: Contact,
}

/// A single-use permission for `leader` to invite `invitee`.
struct Ticket {
    leader: String,
    invitee: String,
    expires: Instant,
}

/// The two counters a JOIN attempt is throttled by.
fn throttle_keys(name: &str, ip: IpAddr) -> [String; 2] {
    [format!("name:{}", name.to_lowercase()), format!("ip:{ip}")]
}

/// Recent failed JOINs for one name or one address.
#[derive(Default)]
struct Failures {
    recent: Vec<Instant>,
    blocked_until: Option<Instant>,
}

/// The owner of the store and of presence.
struct Hub {
    store: Store,
    config: RegistryConfig,
    sessions: HashMap<u64, Session>,
    /// Keyed by the lower-case name, so LIST comes out sorted by name.
    online: BTreeMap<String, Online>,
    /// Keyed by the ticket itself.
    tickets: HashMap<String, Ticket>,
    /// Keyed by `name:<lower-case name>` and `ip:<address>`.
    failures: HashMap<String, Failures>,
    shutting_down: bool,
}

/// The reply to a request the database failed; the error itself goes to
/// the log.
fn internal(err: &DbError, log: &Option<Sender<String>>) -> Reply {
    if let Some(log) = log {
        let _ = log.try_send(format!("error: {err}"));
    }
    Reply::Err(
        ErrorCode::Internal,
        "the registry database failed; try again".into(),
    )
}

impl Hub {
    fn new(store: Store, config: RegistryConfig) -> Hub {
        Hub {
            store,
            config,
            sessions: HashMap::new(),
            online: BTreeMap::new(),
            tickets: HashMap::new(),
            failures: HashMap::new(),
            shutting_down: false,
        }
    }

    fn run(mut self, events: Receiver<Event>) -> Result<(), ServerError> {
        for event in events {
            self.handle(event);
        }
        self.store.set_all_offline()?;
        Ok(())
    }

    fn log(&self, what: fmt::Arguments<'_>) {
        if let Some(log) = &self.config.log {
            let _ = log.try_send(format!(
                "{} {what}",
                chrono::Local::now().format("%H:%M:%S")
            ));
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Connected { id, addr, socket } => {
                self.sessions.insert(
                    id,
                    Session {
                        addr,
                        socket,
                        last_active: Instant::now(),
                        busy: false,
                        kicked: false,
                        user: None,
                    },
                );
                if self.shutting_down {
                    self.kick(id, ByeReason::Shutdown);
                }
            }
            Event::Activity { id, busy } => {
                if let Some(session) = self.sessions.get_mut(&id) {
                    session.last_active = Instant::now();
                    session.busy = busy;
                }
            }
            Event::Register { name, hash, reply } => {
                let answer = match self.store.add_user(&name, &hash) {
                    Ok(true) => {
                        self.log(format_args!("registered {name}"));
                        Reply::Registered(name)
                    }
                    Ok(false) => Reply::Err(
                        ErrorCode::NameTaken,
                        format!("the name {name} is taken; pick another"),
                    ),
                    Err(err) => internal(&err, &self.config.log),
                };
                let _ = reply.send(answer);
            }
            Event::Account { name, ip, reply } => {
                let answer = match self.attempt(&name, ip) {
                    Some((wait, limit)) => Err(Reply::too_many_attempts(wait, limit)),
                    None => self
                        .store
                        .account(&name)
                        .map_err(|err| internal(&err, &self.config.log)),
                };
                let _ = reply.send(answer);
            }
            Event::Invite { id, name, reply } => {
                let _ = reply.send(self.invite(id, &name));
            }
            Event::Check { id, ticket, reply } => {
                let _ = reply.send(self.check(id, &ticket));
            }
            Event::Join {
                id,
                ip,
                name,
                port,
                reply,
            } => {
                self.attempt_succeeded(&name, ip);
                let _ = reply.send(self.join(id, name, port));
            }
            Event::List { reply } => {
                let mut lines = Vec::with_capacity(self.online.len() + 1);
                lines.push(Reply::List(self.online.len()));
                lines.extend(self.online.values().map(|o| Reply::Row(o.contact.clone())));
                let _ = reply.send(lines);
            }
            Event::Search { name, reply } => {
                let _ = reply.send(self.search(&name));
            }
            Event::Logout { id, reply } => {
                self.go_offline(id);
                let _ = reply.send(Reply::LoggedOut);
            }
            Event::Disconnected { id } => {
                self.go_offline(id);
                self.sessions.remove(&id);
            }
            Event::Sweep => self.sweep(),
            Event::Shutdown => {
                self.shutting_down = true;
                let ids: Vec<u64> = self.sessions.keys().copied().collect();
                for id in ids {
                    self.kick(id, ByeReason::Shutdown);
                }
            }
        }
    }

    fn join(&mut self, id: u64, name: String, port: u16) -> Reply {
        // A connection told to close (it timed out while its password was
        // being checked, say) must not put its user online on the way out.
        let Some(session) = self.sessions.get(&id).filter(|s| !s.kicked) else {
            return Reply::Err(ErrorCode::Internal, "the connection is closing".into());
        };
        let addr = session.addr;
        let ip = addr.ip().to_canonical();
        let key = name.to_lowercase();
        if let Some(previous) = self.online.get(&key).map(|o| o.session)
            && previous != id
        {
            self.kick(previous, ByeReason::Replaced);
            if let Some(old) = self.sessions.get_mut(&previous) {
                old.user = None;
            }
        }
        if let Err(err) = self.store.set_online(&name, ip, port, addr.port()) {
            return internal(&err, &self.config.log);
        }
        let contact = Contact { name, ip, port };
        self.log(format_args!("{} online at {ip} port {port}", contact.name));
        if let Some(session) = self.sessions.get_mut(&id) {
            session.user = Some(key.clone());
        }
        self.online.insert(
            key,
            Online {
                session: id,
                contact: contact.clone(),
            },
        );
        Reply::Joined(contact)
    }

    /// Lets a JOIN for `name` from `ip` try its password, or says how many
    /// seconds are left of a cool-down. An attempt let through counts as a
    /// failure at once: guesses sent at the same moment on many connections
    /// must not all pass while the first ones are still being hashed. (The
    /// caller holds a hashing slot, so few attempts are ever pending.)
    fn attempt(&mut self, name: &str, ip: IpAddr) -> Option<(u64, AttemptLimit)> {
        let now = Instant::now();
        let keys = throttle_keys(name, ip);
        // The keys are the name's, then the address's.
        let wait = keys
            .iter()
            .zip([AttemptLimit::Name, AttemptLimit::Address])
            .filter_map(|(key, limit)| Some((self.failures.get(key)?.blocked_until?, limit)))
            .filter(|(until, _)| *until > now)
            .map(|(until, limit)| ((until - now).as_secs_f64().ceil() as u64, limit))
            // The longest wait; on a tie, the name's, the one to fix.
            .min_by_key(|(secs, _)| std::cmp::Reverse(*secs));
        if wait.is_some() {
            return wait;
        }
        let limits = self.config.throttle;
        for key in keys {
            let entry = self.failures.entry(key).or_default();
            if entry.blocked_until.take().is_some() {
                // A cool-down that has passed wipes the slate clean.
                entry.recent.clear();
            }
            entry
                .recent
                .retain(|at| now.duration_since(*at) < limits.window);
            entry.recent.push(now);
            if entry.recent.len() >= limits.max_failures {
                entry.blocked_until = Some(now + limits.cooldown);
            }
        }
        None
    }

    /// The password of an attempt was right: the name starts afresh, and
    /// the address gets back the failure its attempt was counted as.
    fn attempt_succeeded(&mut self, name: &str, ip: IpAddr) {
        let [name_key, ip_key] = throttle_keys(name, ip);
        self.failures.remove(&name_key);
        if let Some(entry) = self.failures.get_mut(&ip_key) {
            entry.recent.pop();
            if entry.recent.len() < self.config.throttle.max_failures {
                entry.blocked_until = None;
            }
        }
    }

    /// The name of the user that connection `id` holds online.
    fn user_of(&self, id: u64) -> Option<&Contact> {
        let key = self.sessions.get(&id)?.user.as_ref()?;
        self.online.get(key).map(|online| &online.contact)
    }

    fn invite(&mut self, id: u64, name: &str) -> Reply {
        let Some(leader) = self.user_of(id).map(|c| c.name.clone()) else {
            return Reply::Err(ErrorCode::NotJoined, "JOIN first".into());
        };
        let invitee = match self.search(name) {
            Reply::Found(contact) => contact.name,
            other => return other,
        };
        let mut bytes = [0u8; 16];
        if let Err(err) = getrandom::fill(&mut bytes) {
            self.log(format_args!("error: no random numbers for a ticket: {err}"));
            return Reply::Err(
                ErrorCode::Internal,
                "cannot make a ticket; try again".into(),
            );
        }
        let ticket: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.tickets.insert(
            ticket.clone(),
            Ticket {
                leader,
                invitee,
                expires: Instant::now() + self.config.ticket_ttl,
            },
        );
        Reply::Ticket(ticket)
    }

    fn check(&mut self, id: u64, ticket: &str) -> Reply {
        let bad = || {
            Reply::Err(
                ErrorCode::BadTicket,
                "that ticket is unknown, used, expired or not for you".into(),
            )
        };
        let Some(me) = self.user_of(id).map(|c| c.name.to_lowercase()) else {
            return Reply::Err(ErrorCode::NotJoined, "JOIN first".into());
        };
        match self.tickets.get(ticket) {
            Some(t) if t.expires > Instant::now() && t.invitee.to_lowercase() == me => {}
            _ => return bad(),
        }
        match self.tickets.remove(ticket) {
            Some(t) => Reply::Valid {
                leader: t.leader,
                invitee: t.invitee,
            },
            None => bad(),
        }
    }

    fn search(&self, name: &str) -> Reply {
        if let Some(online) = self.online.get(&name.to_lowercase()) {
            return Reply::Found(online.contact.clone());
        }
        match self.store.account(name) {
            Ok(Some(account)) => {
                Reply::Err(ErrorCode::Offline, format!("{} is offline", account.name))
            }
            Ok(None) => Reply::Err(ErrorCode::NotFound, format!("{name} is not registered")),
            Err(err) => internal(&err, &self.config.log),
        }
    }

    /// If connection `id` holds a user online, that user goes offline.
    fn go_offline(&mut self, id: u64) {
        let Some(key) = self.sessions.get_mut(&id).and_then(|s| s.user.take()) else {
            return;
        };
        if let Some(online) = self.online.remove(&key) {
            if let Err(err) = self.store.set_offline(&online.contact.name) {
                self.log(format_args!("error: {err}"));
            }
            self.log(format_args!("{} offline", online.contact.name));
        }
    }

    /// Tells connection `id` to close with `BYE <reason>`: the reason is left
    /// for its thread, and shutting the read side wakes that thread up.
    fn kick(&mut self, id: u64, reason: ByeReason) {
        if let Some(session) = self.sessions.get_mut(&id)
            && !session.kicked
        {
            session.kicked = true;
            let _ = session.socket.bye.set(reason);
            let _ = session.socket.stream.shutdown(Shutdown::Read);
        }
        // A replaced user stays online under the new connection; everyone
        // else goes offline at once rather than when the thread finishes.
        if reason != ByeReason::Replaced {
            self.go_offline(id);
        }
    }

    fn sweep(&mut self) {
        let timeout = self.config.hello_timeout;
        let idle: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| !s.kicked && !s.busy && s.last_active.elapsed() >= timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            self.kick(id, ByeReason::Timeout);
        }
        let now = Instant::now();
        let window = self.config.throttle.window;
        self.tickets.retain(|_, t| t.expires > now);
        self.failures.retain(|_, f| {
            f.blocked_until.is_some_and(|until| until > now)
                || f.recent
                    .last()
                    .is_some_and(|at| now.duration_since(*at) < window)
        });
    }
}

fn bad_credentials() -> Reply {
    Reply::Err(
        ErrorCode::BadCredentials,
        "wrong user name or password".into(),
    )
}

/// Asks the hub something and waits for the answer; `None` once the hub
/// has stopped.
fn ask<T>(events: &Sender<Event>, make: impl FnOnce(Sender<T>) -> Event) -> Option<T> {
    let (tx, rx) = bounded(1);
    events.send(make(tx)).ok()?;
    rx.recv().ok()
}

/// One client connection, served on its own thread.
struct Connection {
    id: u64,
    events: Sender<Event>,
    hashes: HashQueue,
    trace: Trace,
    write_timeout: Duration,
    _live: LiveGuard,
}

/// What handling one line leads to.
enum Next {
    Continue,
    Close,
}

impl Connection {
    fn serve(self, stream: TcpStream) {
        let Ok(addr) = stream.peer_addr() else {
            return;
        };
        // One descriptor per connection, shared with the hub (which only
        // shuts it down), rather than a `try_clone` for each: at ten
        // thousand clients, descriptors run out before anything else.
        let socket = Arc::new(Socket {
            stream,
            bye: OnceLock::new(),
        });
        if self
            .events
            .send(Event::Connected {
                id: self.id,
                addr,
                socket: socket.clone(),
            })
            .is_err()
        {
            return;
        }
        // A client that stops reading must not hold this thread, and with
        // it a shutdown, for ever: a write that cannot finish in time ends
        // the connection.
        let stream = &socket.stream;
        if stream.set_write_timeout(Some(self.write_timeout)).is_err() {
            return;
        }
        // Lines are short, so a small buffer will do: with thousands of
        // idle connections, buffer sizes are most of the server's memory.
        let mut reader = LineReader::new(BufReader::with_capacity(READ_BUFFER, stream));
        let mut writer = stream;
        let mut joined = false;
        if let Err(err) = self.talk(&mut reader, &mut writer, &socket.bye, &mut joined, addr)
            && self.trace.is_on()
        {
            self.trace
                .received(addr, format_args!("(connection error: {err})"));
        }
        let _ = self.events.send(Event::Disconnected { id: self.id });
    }

    fn talk(
        &self,
        reader: &mut LineReader<impl BufRead>,
        writer: &mut impl Write,
        bye: &OnceLock<ByeReason>,
        joined: &mut bool,
        addr: SocketAddr,
    ) -> io::Result<()> {
        loop {
            let frame = reader.next_frame();
            if let Some(&reason) = bye.get() {
                return self.send(writer, addr, &Reply::Bye(reason));
            }
            let line = match frame? {
                Frame::Eof => return Ok(()),
                Frame::TooLong => {
                    return self.send(
                        writer,
                        addr,
                        &Reply::Err(
                            ErrorCode::LineTooLong,
                            format!("lines are at most {} bytes; closing", crate::wire::MAX_LINE),
                        ),
                    );
                }
                Frame::BadEncoding => {
                    self.send(
                        writer,
                        addr,
                        &Reply::Err(ErrorCode::BadEncoding, "lines must be UTF-8".into()),
                    )?;
                    continue;
                }
                Frame::Line(line) => line,
            };
            self.trace.received(addr, &line);
            let _ = self.events.send(Event::Activity {
                id: self.id,
                busy: true,
            });
            let (replies, next) = self.handle(&line, joined, addr.ip().to_canonical());
            // All the lines of one answer (a LIST has one per user) go out
            // in one write.
            let mut out = Vec::new();
            for reply in &replies {
                self.trace.sent(addr, reply);
                writeln!(out, "{reply}")?;
            }
            writer.write_all(&out)?;
            // The silence the sweeper counts starts again once the answer
            // is out, however long it took.
            let _ = self.events.send(Event::Activity {
                id: self.id,
                busy: false,
            });
            if let Next::Close = next {
                return Ok(());
            }
        }
    }

    fn send(&self, writer: &mut impl Write, addr: SocketAddr, reply: &Reply) -> io::Result<()> {
        self.trace.sent(addr, reply);
        write_line(writer, reply)
    }

    /// Asks the hub something and waits for the answer.
    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Event) -> Option<T> {
        ask(&self.events, make)
    }

    fn handle(&self, line: &str, joined: &mut bool, ip: IpAddr) -> (Vec<Reply>, Next) {
        let closing = || Reply::Err(ErrorCode::Internal, "the server is stopping".into());
        let request = match line.parse::<Request>() {
            Ok(request) => request,
            Err(err) => return (vec![err.into()], Next::Continue),
        };
        let needs_join = matches!(
            request,
            Request::Hello
                | Request::List
                | Request::Search { .. }
                | Request::Invite { .. }
                | Request::Check { .. }
                | Request::Logout
        );
        if needs_join && !*joined {
            let err = Reply::Err(
                ErrorCode::NotJoined,
                "JOIN first: JOIN <name> <password> <port>".into(),
            );
            return (vec![err], Next::Continue);
        }
        let reply = match request {
            Request::Register { name, password } => match self.hashes.hash(&password) {
                Ok(hash) => self
                    .ask(|reply| Event::Register { name, hash, reply })
                    .unwrap_or_else(closing),
                Err(err) => Reply::Err(ErrorCode::Internal, err),
            },
            Request::Join {
                name,
                password,
                port,
            } => {
                if *joined {
                    let err = Reply::Err(
                        ErrorCode::AlreadyJoined,
                        "this connection has joined already".into(),
                    );
                    return (vec![err], Next::Continue);
                }
                let reply = self.join(name, &password, port, ip).unwrap_or_else(closing);
                *joined = matches!(reply, Reply::Joined(_));
                reply
            }
            Request::Hello => Reply::Hello,
            Request::List => {
                return (
                    self.ask(|reply| Event::List { reply })
                        .unwrap_or_else(|| vec![closing()]),
                    Next::Continue,
                );
            }
            Request::Search { name } => self
                .ask(|reply| Event::Search { name, reply })
                .unwrap_or_else(closing),
            Request::Invite { name } => self
                .ask(|reply| Event::Invite {
                    id: self.id,
                    name,
                    reply,
                })
                .unwrap_or_else(closing),
            Request::Check { ticket } => self
                .ask(|reply| Event::Check {
                    id: self.id,
                    ticket,
                    reply,
                })
                .unwrap_or_else(closing),
            Request::Logout => {
                // Offline first, so that whoever sees `OK BYE` can rely on it.
                let reply = self
                    .ask(|reply| Event::Logout { id: self.id, reply })
                    .unwrap_or_else(closing);
                return (vec![reply], Next::Close);
            }
            Request::Help => Reply::Help(HELP_TEXT.into()),
        };
        (vec![reply], Next::Continue)
    }

    fn join(&self, name: String, password: &str, port: u16, ip: IpAddr) -> Option<Reply> {
        // The whole JOIN runs as one job on a hashing thread. The hub counts
        // the attempt as a failure when it lets it through, and it is asked
        // only once a hashing thread has taken the job: so at most as many
        // attempts as there are hashing threads are ever undecided, and a
        // burst of guesses meets the cool-down at once. (It also keeps the
        // connection thread's own stack, thousands of them, shallow.)
        let events = self.events.clone();
        let password = password.to_string();
        let id = self.id;
        self.hashes
            .run(move |slot| {
                let account = match ask(&events, |reply| Event::Account { name, ip, reply })? {
                    Ok(Some(account)) => account,
                    Ok(None) => {
                        slot.verify_nobody(&password);
                        return Some(bad_credentials());
                    }
                    Err(refusal) => return Some(refusal),
                };
                if !slot.verify(&password, &account.password_hash) {
                    return Some(bad_credentials());
                }
                ask(&events, |reply| Event::Join {
                    id,
                    ip,
                    name: account.name,
                    port,
                    reply,
                })
            })
            .flatten()
    }
}
