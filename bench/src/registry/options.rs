//! `RegistryOptions`: how a registry run is set up, and where the server
//! under test runs (`ServerAt`). Plain data; nothing here opens a socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the server under test runs.
#[derive(Debug, Clone)]
pub enum ServerAt {
    /// Started by `run` on a thread of this process, on this database.
    InProcess(PathBuf),
    /// Already running in another process.
    Child { addr: SocketAddr, pid: u32 },
}

/// How a registry run is set up.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    pub peers: usize,
    /// How long the peers go on once all of them joined.
    pub duration: Duration,
    /// Time between one peer's requests.
    pub hello_interval: Duration,
    /// The server's hello timeout (for an in-process server).
    pub hello_timeout: Duration,
    /// The fraction of peers that send `LIST` instead of `HELLO` each
    /// interval; as many send `SEARCH`.
    pub list_fraction: f64,
    /// JOINs in flight at once, over all drivers.
    pub join_window: usize,
    /// Threads that drive the peers.
    pub drivers: usize,
    pub progress: bool,
    pub server: ServerAt,
}

impl RegistryOptions {
    pub fn new(peers: usize) -> RegistryOptions {
        RegistryOptions {
            peers,
            duration: Duration::from_secs(10),
            hello_interval: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(30),
            list_fraction: 0.01,
            join_window: 8,
            drivers: 2,
            progress: false,
            server: ServerAt::InProcess(PathBuf::from("registry.db")),
        }
    }
}
