//! Helpers shared by the integration tests: a registry server on
//! `127.0.0.1:0` with its database in a temporary directory, and a line-based
//! client that never waits longer than a read timeout.
//!
//! Nothing here sleeps: a test waits for something by reading until the line
//! it expects arrives, and a read that takes longer than `READ_TIMEOUT` fails
//! the test with a message instead of hanging it.

#![allow(dead_code)] // Each test module uses its own subset of these helpers.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use p2pchat::db::Store;
use p2pchat::password::Hasher;
use p2pchat::registry::{RegistryConfig, Server, ServerError, Stopper};
use tempfile::TempDir;

/// How long a `Client` waits for a line before the test fails.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A registry server running on its own thread, on `127.0.0.1:0`.
///
/// Dropping it stops the server and waits for it, so a failing test does not
/// leave a server behind.
pub struct TestServer {
    addr: SocketAddr,
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
        let db_path = db_path.into();
        let mut config = RegistryConfig::new(any_port(), &db_path);
        config.hello_timeout = hello_timeout;
        let server = Server::bind(config).expect("the test server binds to 127.0.0.1:0");
        let addr = server.local_addr();
        let stopper = server.stopper();
        let thread = thread::Builder::new()
            .name("test-registry".into())
            .spawn(move || server.run())
            .expect("the test server thread starts");
        TestServer {
            addr,
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

/// The hello timeout a server has unless a test sets one.
pub fn default_hello_timeout() -> Duration {
    RegistryConfig::new(any_port(), "").hello_timeout
}

/// `127.0.0.1:0`: any free port on the loopback interface.
pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A temporary directory for a database the test manages itself.
pub fn temp_dir() -> TempDir {
    tempfile::tempdir().expect("a temporary directory can be created")
}

/// One TCP connection that speaks in lines.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// What a read brought, for the helpers that accept more than a line.
enum Got {
    Line(String),
    Eof,
    TimedOut,
}

impl Client {
    /// Connects to `addr` with a read timeout of `READ_TIMEOUT`.
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr)
            .unwrap_or_else(|err| panic!("cannot connect to {addr}: {err}"));
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        let writer = stream.try_clone().unwrap();
        Client {
            reader: BufReader::new(stream),
            writer,
        }
    }

    /// The local address of this connection (the server sees this port).
    pub fn local_addr(&self) -> SocketAddr {
        self.writer.local_addr().unwrap()
    }

    /// Sends `line` followed by `\n`.
    #[track_caller]
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\n").as_bytes());
    }

    /// Sends bytes exactly as given: partial lines, CRLF, invalid UTF-8.
    #[track_caller]
    pub fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(err) = self.try_send_raw(bytes) {
            panic!("cannot send {:?}: {err}", String::from_utf8_lossy(bytes));
        }
    }

    /// Sends bytes, for a test that expects the server may have closed.
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// The next line, without its line ending. Panics if none comes within
    /// `READ_TIMEOUT` or the connection closes first.
    #[track_caller]
    pub fn recv(&mut self) -> String {
        match self.read_one() {
            Got::Line(line) => line,
            Got::Eof => panic!("expected a line, but the server closed the connection"),
            Got::TimedOut => panic!("expected a line, but none came within {READ_TIMEOUT:?}"),
        }
    }

    /// Sends `line` and returns the first line of the answer.
    #[track_caller]
    pub fn ask(&mut self, line: &str) -> String {
        self.send(line);
        self.recv()
    }

    /// Asserts that the server closes the connection without sending
    /// anything more.
    #[track_caller]
    pub fn expect_eof(&mut self) {
        match self.read_one() {
            Got::Eof => {}
            Got::Line(line) => panic!("expected the connection to close, got {line:?}"),
            Got::TimedOut => {
                panic!("expected the connection to close, but it stayed open for {READ_TIMEOUT:?}")
            }
        }
    }

    /// Asserts that nothing arrives for `quiet`. This is also how a test lets
    /// time pass: it is a read under a timeout, not a sleep.
    #[track_caller]
    pub fn expect_silence(&mut self, quiet: Duration) {
        self.reader.get_ref().set_read_timeout(Some(quiet)).unwrap();
        let got = self.read_one();
        self.reader
            .get_ref()
            .set_read_timeout(Some(READ_TIMEOUT))
            .unwrap();
        match got {
            Got::TimedOut => {}
            Got::Line(line) => panic!("expected silence for {quiet:?}, got {line:?}"),
            Got::Eof => panic!("expected silence for {quiet:?}, but the connection closed"),
        }
    }

    /// Waits up to `wait` for a line: `None` if none came. The caller's own
    /// pacing for loops that send something between reads.
    #[track_caller]
    pub fn recv_within(&mut self, wait: Duration) -> Option<String> {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let got = self.read_one();
        self.reader
            .get_ref()
            .set_read_timeout(Some(READ_TIMEOUT))
            .unwrap();
        match got {
            Got::Line(line) => Some(line),
            Got::TimedOut => None,
            Got::Eof => panic!("expected a line or nothing, but the connection closed"),
        }
    }

    /// Closes only the sending half, as a client that is done talking.
    pub fn shutdown_write(&self) {
        let _ = self.writer.shutdown(Shutdown::Write);
    }

    fn read_one(&mut self) -> Got {
        // Read byte-wise through the BufReader so that a timeout in the
        // middle of a line keeps nothing half-read in a local buffer.
        let mut line = Vec::new();
        loop {
            let available = match self.reader.fill_buf() {
                Ok(bytes) => bytes,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    assert!(
                        line.is_empty(),
                        "a read timed out in the middle of a line: {:?}",
                        String::from_utf8_lossy(&line)
                    );
                    return Got::TimedOut;
                }
                // The server closing with bytes of ours unread resets the
                // connection; for a test that is the same as an orderly close.
                Err(err) if is_reset(&err) => return Got::Eof,
                Err(err) => panic!("reading from the server failed: {err}"),
            };
            if available.is_empty() {
                assert!(
                    line.is_empty(),
                    "the connection closed in the middle of a line: {:?}",
                    String::from_utf8_lossy(&line)
                );
                return Got::Eof;
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    line.extend_from_slice(&available[..end]);
                    self.reader.consume(end + 1);
                    let text = String::from_utf8(line).expect("the server sends UTF-8");
                    return Got::Line(text.strip_suffix('\r').unwrap_or(&text).to_string());
                }
                None => {
                    let taken = available.len();
                    line.extend_from_slice(available);
                    self.reader.consume(taken);
                }
            }
        }
    }
}

fn is_reset(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    )
}

/// Sends `request` on `client` until the reply is `expected`, for state that
/// another connection's thread changes a moment after that connection saw
/// its own answer (a disconnect). Fails after `READ_TIMEOUT`.
#[track_caller]
pub fn ask_until(client: &mut Client, request: &str, expected: &str) {
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        last = client.ask(request);
        if last == expected {
            return;
        }
    }
    panic!("{request} never answered {expected:?}; the last answer was {last:?}");
}

/// Creates the database `dir/registry.db` holding `users` (name, password),
/// all offline, and returns its path. This hashes outside any server, so a
/// test of timing can start with accounts in place.
pub fn db_with_users(dir: &Path, users: &[(&str, &str)]) -> PathBuf {
    let path = dir.join("registry.db");
    let store = Store::open(&path).expect("the test database opens");
    let hasher = Hasher::new(1);
    for (name, password) in users {
        let hash = hasher.hash(password).expect("a password hashes");
        assert!(store.add_user(name, &hash).unwrap(), "{name} is new");
    }
    path
}

/// Reads everything a reader gives until it ends, as text, for a child
/// process's output.
pub fn read_to_string(mut reader: impl Read) -> String {
    let mut text = String::new();
    let _ = reader.read_to_string(&mut text);
    text
}
