//! The registry server: accounts, presence, and the registry side of the
//! protocol.
//!
//! Threads: the acceptor (the caller of `Server::run`), one connection thread
//! per client, the sweeper, and the hub. The hub is the one owner of the
//! shared state (the `Store` and the map of who is online); every other thread
//! sends it an `Event` and waits for its answer. Each connection thread is the
//! only writer of its socket: when the hub has to end a connection, it sends
//! the reason to that thread and shuts the socket's read side to wake it.
//!
//! This module must never hold the store while a password is hashed (hashes
//! run on connection threads, bounded by `password::Hasher`), and never let
//! anything that came from a socket panic a thread.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, select, tick, unbounded};

use crate::db::{DbError, Store};
use crate::line::{Frame, LineReader, write_line};
use crate::password::Hasher;
use crate::trace::Trace;
use crate::wire::{ByeReason, Contact, ErrorCode, HELP_TEXT, Reply, Request};

/// The port the registry listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 7777;

/// How a registry server is set up.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub bind: SocketAddr,
    pub db_path: PathBuf,
    /// How long a connection may send nothing before it is closed.
    pub hello_timeout: Duration,
    pub trace: Trace,
    /// Print a line for each join and leave (the binary does; tests do not).
    pub log: bool,
}

impl RegistryConfig {
    pub fn new(bind: SocketAddr, db_path: impl Into<PathBuf>) -> RegistryConfig {
        RegistryConfig {
            bind,
            db_path: db_path.into(),
            hello_timeout: Duration::from_secs(30),
            trace: Trace::off(),
            log: false,
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
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => [127, 0, 0, 1].into(),
                IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        // The connection only wakes the acceptor, which sees the flag and
        // drops it; if it fails the server is already gone.
        let _ = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
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

        let hasher = Hasher::per_core();
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
                    eprintln!("accept failed: {err}");
                    continue;
                }
            };
            connections.retain(|handle| !handle.is_finished());
            next_id += 1;
            let conn = Connection {
                id: next_id,
                events: events.clone(),
                hasher: hasher.clone(),
                trace: config.trace,
            };
            match thread::Builder::new()
                .name(format!("registry-conn-{next_id}"))
                .spawn(move || conn.serve(stream))
            {
                Ok(handle) => connections.push(handle),
                Err(err) => eprintln!("cannot start a connection thread: {err}"),
            }
        }

        let _ = events.send(Event::Shutdown);
        for handle in connections {
            let _ = handle.join();
        }
        drop(sweep_stop);
        let _ = sweeper.join();
        drop(events);
        hub.join().unwrap_or(Ok(()))?;
        Ok(())
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
    /// A connection opened. `socket` is a clone the hub only shuts down.
    Connected {
        id: u64,
        addr: SocketAddr,
        socket: TcpStream,
        kick: Sender<ByeReason>,
    },
    /// A complete line arrived on a connection.
    Activity {
        id: u64,
    },
    /// Store a new account.
    Register {
        name: String,
        hash: String,
        reply: Sender<Reply>,
    },
    /// Look up the stored hash for a JOIN.
    Account {
        name: String,
        reply: Sender<Result<Option<crate::db::Account>, ()>>,
    },
    /// The password checked out: mark `name` online on this connection.
    Join {
        id: u64,
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
    /// The connection closed (after LOGOUT, an error, or a kick).
    Disconnected {
        id: u64,
    },
    /// Time to close idle connections.
    Sweep,
    /// The server is stopping.
    Shutdown,
}

struct Session {
    addr: SocketAddr,
    socket: TcpStream,
    kick: Sender<ByeReason>,
    last_active: Instant,
    /// Set once the hub has told this connection to close.
    kicked: bool,
    /// The key in `Hub::online` of the user this connection holds online.
    user: Option<String>,
}

struct Online {
    session: u64,
    contact: Contact,
}

/// The owner of the store and of presence.
struct Hub {
    store: Store,
    config: RegistryConfig,
    sessions: HashMap<u64, Session>,
    /// Keyed by the lower-case name, so LIST comes out sorted by name.
    online: BTreeMap<String, Online>,
    shutting_down: bool,
}

fn internal(err: &DbError) -> Reply {
    eprintln!("{err}");
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
        if self.config.log {
            println!("{} {what}", chrono::Local::now().format("%H:%M:%S"));
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Connected {
                id,
                addr,
                socket,
                kick,
            } => {
                self.sessions.insert(
                    id,
                    Session {
                        addr,
                        socket,
                        kick,
                        last_active: Instant::now(),
                        kicked: false,
                        user: None,
                    },
                );
                if self.shutting_down {
                    self.kick(id, ByeReason::Shutdown);
                }
            }
            Event::Activity { id } => {
                if let Some(session) = self.sessions.get_mut(&id) {
                    session.last_active = Instant::now();
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
                    Err(err) => internal(&err),
                };
                let _ = reply.send(answer);
            }
            Event::Account { name, reply } => {
                let _ = reply.send(self.store.account(&name).map_err(|err| {
                    internal(&err);
                }));
            }
            Event::Join {
                id,
                name,
                port,
                reply,
            } => {
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
        let Some(session) = self.sessions.get(&id) else {
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
            return internal(&err);
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

    fn search(&self, name: &str) -> Reply {
        if let Some(online) = self.online.get(&name.to_lowercase()) {
            return Reply::Found(online.contact.clone());
        }
        match self.store.account(name) {
            Ok(Some(account)) => {
                Reply::Err(ErrorCode::Offline, format!("{} is offline", account.name))
            }
            Ok(None) => Reply::Err(ErrorCode::NotFound, format!("{name} is not registered")),
            Err(err) => internal(&err),
        }
    }

    /// If connection `id` holds a user online, that user goes offline.
    fn go_offline(&mut self, id: u64) {
        let Some(key) = self.sessions.get_mut(&id).and_then(|s| s.user.take()) else {
            return;
        };
        if let Some(online) = self.online.remove(&key) {
            if let Err(err) = self.store.set_offline(&online.contact.name) {
                eprintln!("{err}");
            }
            self.log(format_args!("{} offline", online.contact.name));
        }
    }

    /// Tells connection `id` to close with `BYE <reason>`: the reason goes
    /// to its thread, and shutting the read side wakes that thread up.
    fn kick(&mut self, id: u64, reason: ByeReason) {
        if let Some(session) = self.sessions.get_mut(&id)
            && !session.kicked
        {
            session.kicked = true;
            let _ = session.kick.try_send(reason);
            let _ = session.socket.shutdown(Shutdown::Read);
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
            .filter(|(_, s)| !s.kicked && s.last_active.elapsed() >= timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            self.kick(id, ByeReason::Timeout);
        }
    }
}

/// One client connection, served on its own thread.
struct Connection {
    id: u64,
    events: Sender<Event>,
    hasher: Hasher,
    trace: Trace,
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
        let (Ok(read_half), Ok(hub_copy)) = (stream.try_clone(), stream.try_clone()) else {
            return;
        };
        let (kick, kicked) = bounded(1);
        if self
            .events
            .send(Event::Connected {
                id: self.id,
                addr,
                socket: hub_copy,
                kick,
            })
            .is_err()
        {
            return;
        }
        let mut reader = LineReader::new(BufReader::new(read_half));
        let mut writer = BufWriter::new(stream);
        let mut joined = false;
        if let Err(err) = self.talk(&mut reader, &mut writer, &kicked, &mut joined, addr)
            && self.trace.is_on()
        {
            self.trace
                .received(addr, format_args!("(connection error: {err})"));
        }
        let _ = self.events.send(Event::Disconnected { id: self.id });
    }

    fn talk(
        &self,
        reader: &mut LineReader<BufReader<TcpStream>>,
        writer: &mut BufWriter<TcpStream>,
        kicked: &Receiver<ByeReason>,
        joined: &mut bool,
        addr: SocketAddr,
    ) -> io::Result<()> {
        loop {
            let frame = reader.next_frame();
            if let Ok(reason) = kicked.try_recv() {
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
            let _ = self.events.send(Event::Activity { id: self.id });
            let (replies, next) = self.handle(&line, joined);
            for reply in &replies {
                self.trace.sent(addr, reply);
                writer.write_all(reply.to_string().as_bytes())?;
                writer.write_all(b"\n")?;
            }
            writer.flush()?;
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
        let (tx, rx) = bounded(1);
        self.events.send(make(tx)).ok()?;
        rx.recv().ok()
    }

    fn handle(&self, line: &str, joined: &mut bool) -> (Vec<Reply>, Next) {
        let closing = || Reply::Err(ErrorCode::Internal, "the server is stopping".into());
        let request = match line.parse::<Request>() {
            Ok(request) => request,
            Err(err) => return (vec![err.into()], Next::Continue),
        };
        let needs_join = matches!(
            request,
            Request::Hello | Request::List | Request::Search { .. } | Request::Logout
        );
        if needs_join && !*joined {
            let err = Reply::Err(
                ErrorCode::NotJoined,
                "JOIN first: JOIN <name> <password> <port>".into(),
            );
            return (vec![err], Next::Continue);
        }
        let reply = match request {
            Request::Register { name, password } => match self.hasher.hash(&password) {
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
                let reply = self.join(name, &password, port).unwrap_or_else(closing);
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
            Request::Logout => return (vec![Reply::LoggedOut], Next::Close),
            Request::Help => Reply::Help(HELP_TEXT.into()),
        };
        (vec![reply], Next::Continue)
    }

    fn join(&self, name: String, password: &str, port: u16) -> Option<Reply> {
        let bad = || {
            Reply::Err(
                ErrorCode::BadCredentials,
                "wrong user name or password".into(),
            )
        };
        let account = match self.ask(|reply| Event::Account { name, reply })? {
            Ok(Some(account)) => account,
            Ok(None) => return Some(bad()),
            Err(()) => {
                return Some(Reply::Err(
                    ErrorCode::Internal,
                    "the registry database failed; try again".into(),
                ));
            }
        };
        if !self.hasher.verify(password, &account.password_hash) {
            return Some(bad());
        }
        self.ask(|reply| Event::Join {
            id: self.id,
            name: account.name,
            port,
            reply,
        })
    }
}
