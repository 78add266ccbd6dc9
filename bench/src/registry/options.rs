//! `RegistryOptions`: how a registry run is set up, and where the server
//! under test runs (`ServerAt`). Plain data; nothing here opens a socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::Security;

/// Where the server under test runs.
#[derive(Debug, Clone)]
pub enum ServerAt {
    /// Started by `run` on a thread of this process, on this database,
    /// over TLS if `RegistryOptions::tls`.
    InProcess(PathBuf),
    /// Already running in another process, spoken to as `security` says.
    Child {
        addr: SocketAddr,
        pid: u32,
        security: Security,
    },
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
    /// TLS between the peers and a server `run` starts (a child's is
    /// given by `ServerAt::Child`).
    pub tls: bool,
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
            tls: false,
            progress: false,
            server: ServerAt::InProcess(PathBuf::from("registry.db")),
        }
    }
}
