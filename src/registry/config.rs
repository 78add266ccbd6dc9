//! How a registry server is set up: its configuration, its defaults, and
//! the errors that stop it.
//!
//! Plain data: nothing here opens a socket or a file.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::crypto::IdentityError;
use crate::db::DbError;
use crate::password::HashParams;
use crate::trace::Trace;

/// The port the registry listens on unless told otherwise (and the port a
/// peer looks for it on).
pub const DEFAULT_REGISTRY_PORT: u16 = 7777;

/// How long a registry connection may stay silent unless told otherwise.
pub const DEFAULT_REGISTRY_HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// How many connections the registry holds at once unless told otherwise:
/// each is a thread, and the machine this was sized on allows about 16,000.
pub const DEFAULT_MAX_CONNECTIONS: usize = 12_000;

/// How many connections one address may hold unless told otherwise: a
/// classroom of a hundred behind one NAT, each peer with its one registry
/// connection and a reconnect under way, stays well below it.
pub const DEFAULT_MAX_PER_ADDRESS: usize = 256;

/// How long a new connection has to JOIN unless told otherwise. Only a
/// successful JOIN lifts it: lines that do not log in do not extend it.
pub const DEFAULT_JOIN_TIMEOUT: Duration = Duration::from_secs(60);

/// How long an invitation ticket stays good unless told otherwise.
pub const DEFAULT_TICKET_TTL: Duration = Duration::from_secs(60);

/// How many unused tickets one user may hold unless told otherwise: more
/// than a lobby has members, few enough that one client cannot fill the
/// server's memory with them.
pub const DEFAULT_MAX_INVITES_PER_USER: usize = 64;

/// How failed JOINs are limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// How many REGISTERs one address may make in a window (an IPv6 client
/// counts by its /64). Each costs a password hash and makes an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationLimit {
    pub max: usize,
    pub window: Duration,
}

impl Default for RegistrationLimit {
    /// 300 in 10 minutes: a lecture hall behind one NAT registers at the
    /// start of a lab without meeting it, and a script gets one hash every
    /// two seconds, a few percent of one core.
    fn default() -> RegistrationLimit {
        RegistrationLimit {
            max: 300,
            window: Duration::from_secs(600),
        }
    }
}

/// How the registry speaks to its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryTls {
    /// TLS 1.3 with the key kept in this folder, made on first start (by
    /// default `registry-key/` beside the database, see `key_dir_beside`).
    KeyIn(PathBuf),
    /// TLS 1.3 with one's own certificate and key (`--tls-cert`, `--tls-key`).
    Files { cert: PathBuf, key: PathBuf },
    /// `--plaintext`: lines in the clear, for labs with `nc`; anyone on the
    /// network can read and change them.
    Plaintext,
}

/// Where the registry keeps its key unless told otherwise: a folder
/// `registry-key` beside the database file.
pub fn key_dir_beside(db_path: &Path) -> PathBuf {
    let dir = db_path.parent().filter(|dir| !dir.as_os_str().is_empty());
    dir.unwrap_or(Path::new(".")).join("registry-key")
}

/// How long a new connection has to finish its TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one presence write may wait for a lock held by someone else
/// (a backup tool, say) before it counts as failed and is retried later.
pub const DEFAULT_PRESENCE_BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// How a registry server is set up.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub bind: SocketAddr,
    pub db_path: PathBuf,
    /// TLS (the default) or plain text.
    pub tls: RegistryTls,
    /// How long a new connection has to finish its TLS handshake.
    pub handshake_timeout: Duration,
    /// How long a connection may send nothing before it is closed.
    pub hello_timeout: Duration,
    pub trace: Trace,
    /// Where a line goes for each registration, join and leave (the binary
    /// prints them). The hub never waits for it: a line that does not fit
    /// in the channel is dropped, so a stalled log cannot stall the server.
    pub log: Option<Sender<String>>,
    /// Connections over this number get `ERR SERVER_FULL` and are closed.
    pub max_connections: usize,
    /// Connections from one address (an IPv6 one by its /64) over this
    /// number get `ERR SERVER_FULL` and are closed.
    pub max_per_address: usize,
    /// How long a connection may stay without a successful JOIN, however
    /// busy it is, before it gets `BYE TIMEOUT`.
    pub join_timeout: Duration,
    /// How long an invitation ticket stays good.
    pub ticket_ttl: Duration,
    /// Unused tickets one user may hold; one more INVITE gets
    /// `ERR TOO_MANY_INVITES`.
    pub max_invites_per_user: usize,
    pub throttle: ThrottleConfig,
    pub registrations: RegistrationLimit,
    /// The argon2id parameters of new password hashes. Production keeps
    /// the default (`HashParams::PRODUCTION`); tests choose cheap ones.
    pub password: HashParams,
    /// How long one presence write waits for a locked database; a JOIN or
    /// LOGOUT that changes presence waits for that first try.
    pub presence_busy_timeout: Duration,
}

impl RegistryConfig {
    /// A registry on `bind` with its database in `db_path`, speaking TLS
    /// with a key kept beside the database.
    pub fn new(bind: SocketAddr, db_path: impl Into<PathBuf>) -> RegistryConfig {
        let db_path = db_path.into();
        RegistryConfig {
            bind,
            tls: RegistryTls::KeyIn(key_dir_beside(&db_path)),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            db_path,
            hello_timeout: DEFAULT_REGISTRY_HELLO_TIMEOUT,
            trace: Trace::off(),
            log: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_per_address: DEFAULT_MAX_PER_ADDRESS,
            join_timeout: DEFAULT_JOIN_TIMEOUT,
            ticket_ttl: DEFAULT_TICKET_TTL,
            max_invites_per_user: DEFAULT_MAX_INVITES_PER_USER,
            throttle: ThrottleConfig::default(),
            registrations: RegistrationLimit::default(),
            password: HashParams::PRODUCTION,
            presence_busy_timeout: DEFAULT_PRESENCE_BUSY_TIMEOUT,
        }
    }
}

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, #[source] io::Error),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("network error: {0}")]
    Io(#[from] io::Error),
    #[error("the registry's key: {0}")]
    Key(#[from] IdentityError),
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// When a log line happened, to the second, with the date: a registry
/// runs for days, and a log read later must say which day.
pub(super) fn log_stamp() -> impl std::fmt::Display {
    chrono::Local::now().format("%Y-%m-%d %H:%M:%S")
}
