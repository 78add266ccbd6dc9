//! A registry server on its own thread, on `127.0.0.1:0`, with its database
//! in a temporary directory, and databases of accounts made outside any
//! server. Nothing here speaks the protocol; `client` and `accounts` do.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use p2pchat::crypto::Fingerprint;
use p2pchat::db::Store;
use p2pchat::password::{HashParams, Hasher};
use p2pchat::registry::{
    RegistryConfig, RegistryTls, Server, ServerError, Stopper, key_dir_beside,
};
use tempfile::TempDir;

use super::{Client, any_port, temp_dir};

/// The cheapest argon2id parameters argon2 accepts: every test registry
/// hashes with them, so a test that registers hundreds of users spends
/// microseconds per hash instead of the production parameters' tens of
/// milliseconds. `password::tests` checks the production parameters.
pub const FAST_HASHES: HashParams = HashParams {
    memory_kib: 8,
    iterations: 1,
    lanes: 1,
};

/// A registry server running on its own thread, on `127.0.0.1:0`.
///
/// Dropping it stops the server and waits for it, so a failing test does not
/// leave a server behind.
pub struct TestServer {
    addr: SocketAddr,
    fingerprint: Option<Fingerprint>,
    db_path: PathBuf,
    stopper: Stopper,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
    /// The directory of the database, when this server owns it.
    _dir: Option<TempDir>,
}

impl TestServer {
    /// A server with a fresh database and the default hello timeout.
    pub fn start() -> TestServer {
        TestServer::with_timeout(default_hello_timeout())
    }

    /// A server with a fresh database that closes connections silent for
    /// `hello_timeout`.
    pub fn with_timeout(hello_timeout: Duration) -> TestServer {
        let dir = temp_dir();
        let mut server = TestServer::start_at(dir.path().join("registry.db"), hello_timeout);
        server._dir = Some(dir);
        server
    }

    /// A server with the default hello timeout on `dir/registry.db`, in a
    /// directory the caller keeps: the database outlives the server.
    pub fn start_in(dir: &Path) -> TestServer {
        TestServer::start_at(dir.join("registry.db"), default_hello_timeout())
    }

    /// A server on the database file `db_path`, which the caller keeps (so a
    /// test can stop the server, look at the file, and start another one).
    pub fn start_at(db_path: impl Into<PathBuf>, hello_timeout: Duration) -> TestServer {
        let mut config = test_config(db_path.into());
        config.hello_timeout = hello_timeout;
        TestServer::run(config)
    }

    /// A server with a fresh database on `127.0.0.1:0`, with whatever
    /// `configure` changes in its configuration (the ticket lifetime, the
    /// throttle, the connection cap).
    pub fn with_config(configure: impl FnOnce(&mut RegistryConfig)) -> TestServer {
        let dir = temp_dir();
        let mut config = test_config(dir.path().join("registry.db"));
        configure(&mut config);
        let mut server = TestServer::run(config);
        server._dir = Some(dir);
        server
    }

    /// A server on the database file `db_path`, which the caller keeps,
    /// with whatever `configure` changes in its configuration.
    pub fn start_at_with(
        db_path: impl Into<PathBuf>,
        configure: impl FnOnce(&mut RegistryConfig),
    ) -> TestServer {
        let mut config = test_config(db_path.into());
        configure(&mut config);
        TestServer::run(config)
    }

    fn run(config: RegistryConfig) -> TestServer {
        let db_path = config.db_path.clone();
        let server = Server::bind(config).expect("the test server binds to 127.0.0.1:0");
        let addr = server.local_addr();
        let fingerprint = server.fingerprint();
        let stopper = server.stopper();
        let thread = thread::Builder::new()
            .name("test-registry".into())
            .spawn(move || server.run())
            .expect("the test server thread starts");
        TestServer {
            addr,
            fingerprint,
            db_path,
            stopper,
            thread: Some(thread),
            _dir: None,
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A server speaking TLS, with its key made beside a fresh database.
    pub fn tls() -> TestServer {
        TestServer::with_config(|config| {
            config.tls = RegistryTls::KeyIn(key_dir_beside(&config.db_path));
        })
    }

    /// The fingerprint of its key; `None` in plain text.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.fingerprint
    }

    /// The server's SQLite file.
    pub fn db_path(&self) -> &Path {
        &self.db_path
    }

    /// A new client connected to this server.
    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Stops the server and waits until `run()` has returned, giving back
    /// what it returned.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), ServerError> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.stopper.stop();
        thread.join().expect("the registry thread does not panic")
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stopper.stop();
            // A panic here would hide the failure that got us here.
            let _ = thread.join();
        }
    }
}

/// A registry's configuration on `127.0.0.1:0`, with cheap hashes, in
/// plain text: most tests speak raw lines to it, as a person with `nc`
/// would. `TestServer::with_config` turns TLS back on where a test needs it.
fn test_config(db_path: PathBuf) -> RegistryConfig {
    let mut config = RegistryConfig::new(any_port(), db_path);
    config.password = FAST_HASHES;
    config.tls = RegistryTls::Plaintext;
    config
}

/// The hello timeout a server has unless a test sets one.
pub fn default_hello_timeout() -> Duration {
    RegistryConfig::new(any_port(), "").hello_timeout
}

/// Creates the database `dir/registry.db` holding `users` (name, password),
/// all offline, and returns its path. This hashes outside any server, so a
/// test of timing can start with accounts in place. The hashes are cheap
/// (`FAST_HASHES`), and so is every JOIN that checks them.
pub fn db_with_users(dir: &Path, users: &[(&str, &str)]) -> PathBuf {
    db_with_users_hashed(dir, users, FAST_HASHES)
}

/// `db_with_users` with hashes of the production parameters, so every
/// JOIN costs a real registry's check: for the tests of JOINs queued
/// behind each other's hashes. Each password is hashed once, whoever
/// else shares it, since only checking them has to be slow.
pub fn db_with_slow_users(dir: &Path, users: &[(&str, &str)]) -> PathBuf {
    db_with_users_hashed(dir, users, HashParams::PRODUCTION)
}

fn db_with_users_hashed(dir: &Path, users: &[(&str, &str)], params: HashParams) -> PathBuf {
    let path = dir.join("registry.db");
    let store = Store::open(&path).expect("the test database opens");
    let hasher = Hasher::new(1, params).unwrap();
    let mut hashes = std::collections::HashMap::new();
    for (name, password) in users {
        let hash = hashes
            .entry(*password)
            .or_insert_with(|| hasher.hash(password).expect("a password hashes"));
        assert!(store.add_user(name, hash).unwrap(), "{name} is new");
    }
    path
}
