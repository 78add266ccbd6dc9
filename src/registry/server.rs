//! The registry's entry point: `Server::bind` opens the database and the
//! listener, `Server::run` starts the hub, the sweeper and the hashing
//! threads, then accepts connections on the caller's thread until a
//! `Stopper` says stop, and shuts everything down in order.
//!
//! The acceptor writes to a socket only to refuse it (`ERR SERVER_FULL`)
//! before any other thread has seen it, and never runs a TLS handshake:
//! that is the connection thread's first step, under a deadline.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded, select, tick, unbounded};
use rustls::ServerConfig;

use super::accounts::AccountWriter;
use super::admission::{Admission, Full};
use super::connection::{Admitted, Connection};
use super::event::RegistryEvent;
use super::hub::RegistryHub;
use super::presence::PresenceWriter;
use super::throttle::Site;
use super::{RegistryConfig, RegistryTls, ServerError};
use crate::conn::Conn;
use crate::crypto::{ClientAuth, Fingerprint, Identity, TlsIdentity, server_config};
use crate::db::Store;
use crate::net::{accept_until, wake_acceptor};
use crate::password::Hasher;
use crate::trace::{self, Trace};
use crate::wire::{ErrorCode, Reply, Request};

/// How many events may wait for the hub at once.
const HUB_INBOX: usize = 4096;

/// Connection threads do little (hashing runs on the hashing threads), so
/// they need far less than the default 2 MiB stack.
const CONNECTION_STACK: usize = 256 * 1024;

/// A bound, not yet running, registry server.
pub struct Server {
    listener: TcpListener,
    store: Store,
    config: RegistryConfig,
    stop: Stopper,
    /// The TLS configuration, `None` in plain text.
    tls: Option<Arc<ServerConfig>>,
    fingerprint: Option<Fingerprint>,
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
        wake_acceptor(self.addr);
    }

    fn is_stopped(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Server {
    /// Opens the database and binds the listening socket.
    pub fn bind(config: RegistryConfig) -> Result<Server, ServerError> {
        let store = Store::open(&config.db_path)?;
        let (tls, fingerprint) = match &config.tls {
            RegistryTls::Plaintext => (None, None),
            RegistryTls::KeyIn(dir) => secure(Identity::load_or_create(dir)?.tls())?,
            RegistryTls::Files { cert, key } => secure(&TlsIdentity::from_pem_files(cert, key)?)?,
        };
        let listener =
            TcpListener::bind(config.bind).map_err(|err| ServerError::Bind(config.bind, err))?;
        let addr = listener.local_addr()?;
        Ok(Server {
            listener,
            store,
            config,
            tls,
            fingerprint,
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

    /// The fingerprint of the key clients pin; `None` in plain text.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.fingerprint
    }

    /// Serves until stopped, then ends every connection with `BYE SHUTDOWN`,
    /// marks everyone offline and closes the database.
    pub fn run(self) -> Result<(), ServerError> {
        let Server {
            listener,
            store,
            config,
            stop,
            tls,
            fingerprint: _,
        } = self;
        let services = Services::start(store, &config)?;
        let mut acceptor = Acceptor::new(&config, &services, tls.as_ref());
        accept_until(
            &listener,
            || stop.is_stopped(),
            |stream| acceptor.accept(stream),
        );
        let connections = acceptor.connections;
        // Clients that connect from now on are refused by the system rather
        // than left in the backlog without a goodbye.
        drop(listener);
        services.shut_down(connections)
    }
}

/// The threads behind the connections: the hashing threads, the account
/// writer, the hub (with its presence writer) and the sweeper.
struct Services {
    hasher: Hasher,
    accounts: AccountWriter,
    events: Sender<RegistryEvent>,
    hub: HubThread,
    sweep_stop: Sender<()>,
    sweeper: JoinHandle<()>,
}

impl Services {
    fn start(store: Store, config: &RegistryConfig) -> Result<Services, ServerError> {
        let hasher = Hasher::per_core(config.password)?;
        let accounts = AccountWriter::start(
            Store::connect_for_accounts(&config.db_path)?,
            config.log.clone(),
        )?;
        let (events, hub) = start_hub(store, config)?;
        let (sweep_stop, sweeper) = start_sweeper(config, &events)?;
        Ok(Services {
            hasher,
            accounts,
            events,
            hub,
            sweep_stop,
            sweeper,
        })
    }

    /// Ends every connection with `BYE SHUTDOWN` and waits for it, then
    /// stops the other threads in the order of what they depend on, the
    /// hub last, which marks everyone offline.
    fn shut_down(self, connections: Vec<JoinHandle<()>>) -> Result<(), ServerError> {
        let Services {
            hasher,
            accounts,
            events,
            hub,
            sweep_stop,
            sweeper,
        } = self;
        let _ = events.send(RegistryEvent::Shutdown);
        for handle in connections {
            let _ = handle.join();
        }
        drop(accounts);
        drop(sweep_stop);
        let _ = sweeper.join();
        drop(events);
        hub.join()
            .map_err(|_| ServerError::Io(io::Error::other("the registry hub panicked")))??;
        drop(hasher);
        Ok(())
    }
}

/// The server's TLS configuration for `identity`: client certificates are
/// asked for but optional (a peer presents its user's key once it has one).
fn secure(
    identity: &TlsIdentity,
) -> Result<(Option<Arc<ServerConfig>>, Option<Fingerprint>), ServerError> {
    let config = server_config(identity, ClientAuth::Optional)?;
    Ok((Some(config), Some(identity.fingerprint())))
}

/// The hub's thread, which gives back what ended it.
type HubThread = JoinHandle<Result<(), ServerError>>;

/// Starts the presence writer and the hub that owns it; returns where
/// events for the hub go.
fn start_hub(
    store: Store,
    config: &RegistryConfig,
) -> Result<(Sender<RegistryEvent>, HubThread), ServerError> {
    let presence = PresenceWriter::start(
        Store::connect_for_presence(&config.db_path, config.presence_busy_timeout)?,
        config.log.clone(),
    )?;
    // Bounded, so that a client flooding requests the hub cannot keep up
    // with waits in its own connection thread (and so in TCP) instead of
    // growing the hub's inbox. The hub never waits on a connection thread,
    // so a full inbox cannot stall it.
    let (events, events_rx) = bounded(HUB_INBOX);
    let config = config.clone();
    let hub = thread::Builder::new()
        .name("registry-hub".into())
        .spawn(move || RegistryHub::new(store, presence, config).run(events_rx))?;
    Ok((events, hub))
}

/// Starts the sweeper, which runs until the returned sender is dropped.
fn start_sweeper(
    config: &RegistryConfig,
    events: &Sender<RegistryEvent>,
) -> io::Result<(Sender<()>, JoinHandle<()>)> {
    let (stop, stop_rx) = bounded::<()>(0);
    let events = events.clone();
    // Often enough for the shorter deadline: at most a quarter of it late.
    let shortest = config.hello_timeout.min(config.join_timeout);
    let every = (shortest / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
    let sweeper = thread::Builder::new()
        .name("registry-sweeper".into())
        .spawn(move || sweep(every, &events, &stop_rx))?;
    Ok((stop, sweeper))
}

/// What the accept loop needs to start a connection thread.
struct Acceptor<'a> {
    config: &'a RegistryConfig,
    events: &'a Sender<RegistryEvent>,
    hasher: &'a Hasher,
    accounts: &'a AccountWriter,
    admission: Admission,
    tls: Option<&'a Arc<ServerConfig>>,
    /// Where each connection's `Admitted` sends its site when it ends.
    gone: Sender<Site>,
    gone_rx: Receiver<Site>,
    connections: Vec<JoinHandle<()>>,
    next_id: u64,
}

impl<'a> Acceptor<'a> {
    fn new(
        config: &'a RegistryConfig,
        services: &'a Services,
        tls: Option<&'a Arc<ServerConfig>>,
    ) -> Acceptor<'a> {
        let (gone, gone_rx) = unbounded();
        Acceptor {
            config,
            events: &services.events,
            hasher: &services.hasher,
            accounts: &services.accounts,
            admission: Admission::new(config.max_connections, config.max_per_address),
            tls,
            gone,
            gone_rx,
            connections: Vec::new(),
            next_id: 0,
        }
    }

    /// Starts a thread for `stream`, or refuses it when the server, or the
    /// share of its address, is full.
    fn accept(&mut self, stream: TcpStream) {
        let Ok(addr) = stream.peer_addr() else {
            return;
        };
        for site in self.gone_rx.try_iter() {
            self.admission.release(site);
        }
        let site = Site::of(addr.ip());
        if let Err(full) = self.admission.admit(site) {
            // Over TLS a full server closes without a word: a handshake
            // here would hold up the acceptor, and plain text would reach
            // a TLS client as garbage.
            if self.tls.is_none() {
                refuse_full(stream, addr, full, self.config.trace);
            }
            return;
        }
        let admitted = Admitted::new(site, self.gone.clone());
        self.connections.retain(|handle| !handle.is_finished());
        self.next_id += 1;
        let id = self.next_id;
        let config = self.config;
        let conn = Connection {
            id,
            events: self.events.clone(),
            hashes: self.hasher.queue(),
            accounts: self.accounts.queue(),
            trace: config.trace,
            write_timeout: config.hello_timeout.min(Duration::from_secs(5)),
            tls: self.tls.cloned(),
            handshake_timeout: config.handshake_timeout,
            _admitted: admitted,
        };
        match thread::Builder::new()
            .name(format!("registry-conn-{id}"))
            .stack_size(CONNECTION_STACK)
            .spawn(move || conn.serve(stream))
        {
            Ok(handle) => self.connections.push(handle),
            Err(err) => trace::err(format_args!("cannot start a connection thread: {err}")),
        }
    }
}

/// "1 connection", "20 connections".
fn connections(n: usize) -> String {
    match n {
        1 => "1 connection".to_string(),
        n => format!("{n} connections"),
    }
}

/// Answers a connection over a cap and closes it at once. The acceptor
/// writes this one line itself: no other thread ever sees the socket.
fn refuse_full(stream: TcpStream, addr: SocketAddr, full: Full, trace: Trace) {
    let text = match full {
        Full::Server(max) => {
            format!(
                "the server holds {} already; try again later",
                connections(max)
            )
        }
        Full::Site(max) => format!(
            "your address holds {} already, the most one address may; try again later",
            connections(max)
        ),
    };
    let reply = Reply::Err(ErrorCode::ServerFull, text);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    // Over the borrowed socket, with a small buffer: at its cap, the server
    // spends as little as it can on a refusal.
    if let Ok(mut conn) = Conn::<&TcpStream, Request, Reply>::with_buffer(&stream, addr, trace, 64)
    {
        let _ = conn.send(&reply);
    }
}

/// Sends the hub a `Sweep` every `every` until `stop` is dropped.
fn sweep(every: Duration, events: &Sender<RegistryEvent>, stop: &Receiver<()>) {
    let ticks = tick(every);
    loop {
        select! {
            recv(ticks) -> _ => {
                if events.send(RegistryEvent::Sweep).is_err() {
                    return;
                }
            }
            recv(stop) -> _ => return,
        }
    }
}
