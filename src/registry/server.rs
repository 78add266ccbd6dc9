//! The registry's entry point: `Server::bind` opens the database and the
//! listener, `Server::run` starts the hub, the sweeper and the hashing
//! threads, then accepts connections on the caller's thread until a
//! `Stopper` says stop, and shuts everything down in order.
//!
//! The acceptor writes to a socket only to refuse it (`ERR SERVER_FULL`)
//! before any other thread has seen it.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded, select, tick, unbounded};

use super::connection::Connection;
use super::hub::{RegistryEvent, RegistryHub};
use super::{RegistryConfig, ServerError};
use crate::db::Store;
use crate::line::write_line;
use crate::net::{accept_until, wake_acceptor};
use crate::password::Hasher;
use crate::trace::{self, Trace};
use crate::wire::{ErrorCode, Reply};

/// Connection threads do little (hashing runs on the hashing threads), so
/// they need far less than the default 2 MiB stack.
const CONNECTION_STACK: usize = 256 * 1024;

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
                .spawn(move || RegistryHub::new(store, config).run(events_rx))?
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

        let mut acceptor = Acceptor {
            config: &config,
            events: &events,
            hasher: &hasher,
            live: Arc::new(AtomicUsize::new(0)),
            connections: Vec::new(),
            next_id: 0,
        };
        accept_until(
            &listener,
            || stop.is_stopped(),
            |stream| acceptor.accept(stream),
        );
        let connections = acceptor.connections;

        // Clients that connect from now on are refused by the system rather
        // than left in the backlog without a goodbye.
        drop(listener);
        let _ = events.send(RegistryEvent::Shutdown);
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

/// What the accept loop needs to start a connection thread.
struct Acceptor<'a> {
    config: &'a RegistryConfig,
    events: &'a Sender<RegistryEvent>,
    hasher: &'a Hasher,
    live: Arc<AtomicUsize>,
    connections: Vec<JoinHandle<()>>,
    next_id: u64,
}

impl Acceptor<'_> {
    /// Starts a thread for `stream`, or refuses it when the server is full.
    fn accept(&mut self, stream: TcpStream) {
        let config = self.config;
        if self.live.load(Ordering::SeqCst) >= config.max_connections {
            refuse_full(stream, config.max_connections, config.trace);
            return;
        }
        self.connections.retain(|handle| !handle.is_finished());
        self.next_id += 1;
        let id = self.next_id;
        let conn = Connection {
            id,
            events: self.events.clone(),
            hashes: self.hasher.queue(),
            trace: config.trace,
            write_timeout: config.hello_timeout.min(Duration::from_secs(5)),
            _live: LiveGuard::new(&self.live),
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
pub(super) struct LiveGuard(Arc<AtomicUsize>);

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
