//! Helpers shared by the integration tests: a registry server on
//! `127.0.0.1:0` with its database in a temporary directory, a line-based
//! client that never waits longer than a read timeout, the `server` and
//! `peer` binaries as child processes, accounts made over the registry
//! protocol, and scripted peers driven as their users would drive them.
//!
//! Nothing here sleeps: a test waits for something by reading until the line
//! it expects arrives, and a read that takes longer than `READ_TIMEOUT` fails
//! the test with a message instead of hanging it.

#![allow(dead_code)] // Each test module uses its own subset of these helpers.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use p2pchat::db::Store;
use p2pchat::password::Hasher;
use p2pchat::peer::{ADD_PROMPT, MENU_PROMPT, PeerConfig, WELCOME_PROMPT};
use p2pchat::registry::{RegistryConfig, Server, ServerError, Stopper};
use p2pchat::testing::ScriptedPeer;
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
        let mut config = RegistryConfig::new(any_port(), db_path.into());
        config.hello_timeout = hello_timeout;
        TestServer::run(config)
    }

    /// A server with a fresh database on `127.0.0.1:0`, with whatever
    /// `configure` changes in its configuration (the ticket lifetime, the
    /// throttle, the connection cap).
    pub fn with_config(configure: impl FnOnce(&mut RegistryConfig)) -> TestServer {
        let dir = temp_dir();
        let mut config = RegistryConfig::new(any_port(), dir.path().join("registry.db"));
        configure(&mut config);
        let mut server = TestServer::run(config);
        server._dir = Some(dir);
        server
    }

    fn run(config: RegistryConfig) -> TestServer {
        let db_path = config.db_path.clone();
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
        Client::on(stream)
    }

    /// A client on a connected `stream`, with the read timeout set.
    fn on(stream: TcpStream) -> Client {
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
        match self.read_within(quiet) {
            Got::TimedOut => {}
            Got::Line(line) => panic!("expected silence for {quiet:?}, got {line:?}"),
            Got::Eof => panic!("expected silence for {quiet:?}, but the connection closed"),
        }
    }

    /// Waits up to `wait` for a line: `None` if none came. The caller's own
    /// pacing for loops that send something between reads.
    #[track_caller]
    pub fn recv_within(&mut self, wait: Duration) -> Option<String> {
        match self.read_within(wait) {
            Got::Line(line) => Some(line),
            Got::TimedOut => None,
            Got::Eof => panic!("expected a line or nothing, but the connection closed"),
        }
    }

    /// Closes only the sending half, as a client that is done talking.
    pub fn shutdown_write(&self) {
        let _ = self.writer.shutdown(Shutdown::Write);
    }

    /// Reads under the timeout `wait` instead of `READ_TIMEOUT`.
    fn read_within(&mut self, wait: Duration) -> Got {
        self.reader.get_ref().set_read_timeout(Some(wait)).unwrap();
        let got = self.read_one();
        self.reader
            .get_ref()
            .set_read_timeout(Some(READ_TIMEOUT))
            .unwrap();
        got
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
    let hasher = Hasher::new(1).unwrap();
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

impl Client {
    /// Connects to `addr` from the loopback address `source`, so that the
    /// server sees another client machine: on Linux every address of
    /// `127.0.0.0/8` is the local host, and the throttle counts each apart.
    #[cfg(target_os = "linux")]
    pub fn connect_from(source: std::net::Ipv4Addr, addr: SocketAddr) -> Client {
        let stream = connect_from(source, addr)
            .unwrap_or_else(|err| panic!("cannot connect to {addr} from {source}: {err}"));
        Client::on(stream)
    }
}

/// A TCP connection to `addr` from the address `source`: the socket is bound
/// before it connects, which `std::net` cannot do.
#[cfg(target_os = "linux")]
fn connect_from(source: std::net::Ipv4Addr, addr: SocketAddr) -> io::Result<TcpStream> {
    use std::os::fd::FromRawFd;

    let SocketAddr::V4(addr) = addr else {
        panic!("connect_from needs an IPv4 server address, not {addr}");
    };
    let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let ok = |result: libc::c_int| {
        if result < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(result)
        }
    };
    // SAFETY: a plain socket(2) call; the descriptor it returns is owned by
    // the `TcpStream` at once, which closes it on every path below.
    let stream = unsafe {
        let fd = ok(libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
        ))?;
        TcpStream::from_raw_fd(fd)
    };
    let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
    let local = sockaddr(source, 0);
    let remote = sockaddr(*addr.ip(), addr.port());
    // SAFETY: both addresses are valid `sockaddr_in` values that live across
    // the calls, and `len` is their size.
    unsafe {
        ok(libc::bind(fd, (&raw const local).cast(), len))?;
        ok(libc::connect(fd, (&raw const remote).cast(), len))?;
    }
    Ok(stream)
}

/// Waits up to `READ_TIMEOUT` for `child` to exit; kills it and fails the
/// test if it does not.
fn wait_for_exit(child: Child, what: &str) -> ExitStatus {
    let pid = child.id();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let waiter = thread::spawn(move || {
        let mut child = child;
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(READ_TIMEOUT) {
        Ok(status) => {
            waiter.join().unwrap();
            status.unwrap()
        }
        Err(_) => {
            signal(pid, libc::SIGKILL);
            let _ = waiter.join();
            panic!("{what} did not exit within {READ_TIMEOUT:?}");
        }
    }
}

/// Sends `signal` to the child process `pid`.
fn signal(pid: u32, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).unwrap();
    // SAFETY: kill has no memory effects; the pid is a child of ours that has
    // not been waited for, so it cannot have been reused.
    assert_eq!(
        unsafe { libc::kill(pid, signal) },
        0,
        "kill({pid}, {signal})"
    );
}

/// Kills `child` if it is still running and reaps it, for a `Drop` that
/// must leave nothing behind and must not panic.
fn kill_quietly(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A running `server` binary. Dropping it kills the process if it is still
/// running, so a failed test leaves nothing behind.
pub struct ServerProcess {
    child: Option<Child>,
    /// Kept but not read as the server runs: the pipe's buffer holds the few
    /// log lines a test makes it print. `None` once the test has closed it.
    stdout: Option<BufReader<ChildStdout>>,
    stderr: Option<JoinHandle<String>>,
    addr: SocketAddr,
    first_line: String,
}

impl ServerProcess {
    /// Starts `server --bind 127.0.0.1:0 --db <db>` plus `extra`, and reads
    /// the address it listens on from its first line of output.
    pub fn start(db: &Path, extra: &[&str]) -> ServerProcess {
        ServerProcess::start_on("127.0.0.1:0", db, extra)
    }

    /// Starts `server --bind <bind> --db <db>` plus `extra`: with a fixed
    /// `bind`, a test can kill the server and start another where its
    /// clients expect it.
    pub fn start_on(bind: &str, db: &Path, extra: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--bind", bind, "--db"])
            .arg(db)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary starts");
        let stderr = child.stderr.take().unwrap();
        let stderr = thread::spawn(move || read_to_string(stderr));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let addr = first
            .strip_prefix("Registry listening on ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
        ServerProcess {
            child: Some(child),
            stdout: Some(stdout),
            stderr: Some(stderr),
            addr,
            first_line: first.trim_end().to_string(),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first line the server printed, without its line ending.
    pub fn first_line(&self) -> &str {
        &self.first_line
    }

    /// A new client connected to this server.
    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// Closes our end of the server's standard output, as when nobody reads
    /// its log: what it prints from now on goes to a closed pipe.
    pub fn close_stdout(&mut self) {
        self.stdout = None;
    }

    /// Shrinks the pipe of the server's standard output to one page, so a
    /// test that does not read it fills it after a few dozen log lines.
    #[cfg(target_os = "linux")]
    pub fn shrink_stdout_pipe(&self) {
        use std::os::fd::AsRawFd;
        let fd = self
            .stdout
            .as_ref()
            .expect("stdout is open")
            .get_ref()
            .as_raw_fd();
        // SAFETY: fcntl on a descriptor we own; F_SETPIPE_SZ only resizes
        // the pipe's kernel buffer.
        let size = unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, 4096) };
        assert!(size >= 4096, "F_SETPIPE_SZ failed");
    }

    /// Sends SIGINT, as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        signal(self.child.as_ref().unwrap().id(), libc::SIGINT);
    }

    /// Sends SIGKILL, as a crash or `kill -9` would end it, and reaps it.
    pub fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Waits for the process to exit; returns its status, the rest of its
    /// standard output (empty if it was closed), and all its standard error.
    pub fn wait(mut self) -> (ExitStatus, String, String) {
        let child = self.child.take().unwrap();
        let status = wait_for_exit(child, "the server");
        let stdout = self.stdout.take().map(read_to_string).unwrap_or_default();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        (status, stdout, stderr)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        kill_quietly(&mut self.child);
    }
}

/// How long a test waits for a peer, scripted or a process, to show a line:
/// longer than `READ_TIMEOUT`, as one step of a peer may take password
/// hashes and several round trips.
pub const PEER_WAIT: Duration = Duration::from_secs(10);

/// A running `peer` binary driven through piped standard input: what it
/// prints arrives line by line, and its standard error is kept whole.
/// Dropping it kills the process if it is still running.
pub struct PeerProcess {
    pub name: String,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
    seen: Vec<String>,
}

impl PeerProcess {
    /// Starts `peer` with `args`; `name` is only for messages until the
    /// test joins as it.
    pub fn start(name: &str, args: &[&str]) -> PeerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_peer"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the peer binary starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        let stderr = thread::spawn(move || read_to_string(stderr));
        PeerProcess {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child: Some(child),
            stdout: rx,
            stderr: Some(stderr),
            seen: Vec::new(),
        }
    }

    /// Starts `peer --server <registry> --log-dir <logs>` plus `extra`.
    pub fn start_with(
        name: &str,
        registry: SocketAddr,
        logs: &Path,
        extra: &[&str],
    ) -> PeerProcess {
        let registry = registry.to_string();
        let logs = logs.to_str().expect("the log directory is UTF-8");
        let mut args = vec!["--server", &registry, "--log-dir", logs];
        args.extend_from_slice(extra);
        PeerProcess::start(name, &args)
    }

    /// Types `line` and Enter.
    #[track_caller]
    pub fn types(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("standard input is open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes standard input, as Ctrl-D in a terminal does.
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Reads what the peer prints until a line contains `text`, and returns
    /// that line. Fails the test if none comes within `PEER_WAIT`.
    #[track_caller]
    pub fn sees(&mut self, text: &str) -> String {
        let deadline = Instant::now() + PEER_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "{} never printed {text:?}; printed {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// The chat port from the peer's first line of output.
    #[track_caller]
    pub fn chat_port(&mut self) -> u16 {
        let line = self.sees("Chat server started on port ");
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    /// Registers and joins as `self.name` with `password`, from the
    /// welcome prompt to the menu.
    #[track_caller]
    pub fn join(&mut self, password: &str) {
        let name = self.name.clone();
        self.sees("press '1' for registration");
        for line in ["1", &name, password, "2", &name, password] {
            self.types(line);
        }
        self.sees(&format!("Joined as {name}"));
        self.sees("Press '1' for 'Online User List'");
    }

    /// Kills the process with SIGKILL: nothing of it runs after this.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Closes standard input and waits for the process to exit; returns its
    /// status, everything it printed, and its standard error.
    pub fn wait(mut self) -> (ExitStatus, Vec<String>, String) {
        self.close_stdin();
        let child = self.child.take().expect("the peer is running");
        let status = wait_for_exit(child, "the peer");
        let mut printed = std::mem::take(&mut self.seen);
        // The reader thread ends at the end of the output, which closes
        // the channel.
        printed.extend(self.stdout.iter());
        let stderr = self.stderr.take().unwrap().join().unwrap();
        (status, printed, stderr)
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        kill_quietly(&mut self.child);
    }
}

// ---------------------------------------------------------------------------
// Accounts over the registry protocol

/// The password of the test accounts, unless a test is about passwords.
pub const PASSWORD: &str = "s3cret-pw";

/// Sends `request` and checks the one-line reply: it is `expected`, or
/// starts with `expected` and a space (so a test can leave out the human
/// text of an `ERR`). Returns the reply.
#[track_caller]
pub fn check(client: &mut Client, request: &str, expected: &str) -> String {
    let reply = client.ask(request);
    assert!(
        reply == expected || reply.starts_with(&format!("{expected} ")),
        "{request:?} got {reply:?}, expected {expected:?}"
    );
    reply
}

/// Registers each of `names` with `PASSWORD`, on one connection.
#[track_caller]
pub fn register(addr: SocketAddr, names: &[&str]) {
    let mut client = Client::connect(addr);
    for name in names {
        check(
            &mut client,
            &format!("REGISTER {name} {PASSWORD}"),
            &format!("OK REGISTERED {name}"),
        );
    }
}

/// Joins `name` with `PASSWORD` and chat port `port` on `client`.
#[track_caller]
pub fn join(client: &mut Client, name: &str, port: u16) {
    check(
        client,
        &format!("JOIN {name} {PASSWORD} {port}"),
        &format!("OK JOINED {name} 127.0.0.1 {port}"),
    );
}

/// A client that has registered `name` and joined with chat port `port`.
#[track_caller]
pub fn register_and_join(addr: SocketAddr, name: &str, port: u16) -> Client {
    let mut client = Client::connect(addr);
    check(
        &mut client,
        &format!("REGISTER {name} {PASSWORD}"),
        &format!("OK REGISTERED {name}"),
    );
    join(&mut client, name, port);
    client
}

/// Asks for a ticket to invite `name` and returns the token.
#[track_caller]
pub fn invite(client: &mut Client, name: &str) -> String {
    let reply = client.ask(&format!("INVITE {name}"));
    match reply.strip_prefix("OK TICKET ") {
        Some(token) => token.to_string(),
        None => panic!("INVITE {name} got {reply:?}"),
    }
}

// ---------------------------------------------------------------------------
// Scripted peers

/// A peer of `registry` listening on `127.0.0.1:0`, logging under `logs`,
/// whose chat requests wait well within `PEER_WAIT` for an answer.
pub fn peer_config(registry: SocketAddr, logs: &Path) -> PeerConfig {
    let mut config = PeerConfig::new(registry);
    config.listen = any_port();
    config.log_dir = logs.to_path_buf();
    config.invite_timeout = Duration::from_secs(5);
    config
}

/// The address of `peer`'s chat listener.
pub fn chat_addr(peer: &ScriptedPeer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], peer.chat_port()))
}

/// Reads what `peer` shows until a line contains `text`; returns every
/// line read, the matching one last.
#[track_caller]
pub fn see_lines(peer: &ScriptedPeer, text: &str) -> Vec<String> {
    peer.wait_for(text, PEER_WAIT)
        .unwrap_or_else(|err| panic!("{err}"))
}

/// Waits for a line containing `text` and returns it.
#[track_caller]
pub fn see(peer: &ScriptedPeer, text: &str) -> String {
    see_lines(peer, text).pop().unwrap()
}

/// Waits until every one of `texts` has shown up, in any order.
#[track_caller]
pub fn see_all(peer: &ScriptedPeer, texts: &[&str]) {
    let mut missing: Vec<&str> = texts.to_vec();
    let mut seen = Vec::new();
    while !missing.is_empty() {
        match peer.wait_for("", PEER_WAIT) {
            Ok(lines) => {
                for line in lines {
                    missing.retain(|text| !line.contains(text));
                    seen.push(line);
                }
            }
            Err(_) => panic!("never saw {missing:?}; saw {seen:#?}"),
        }
    }
}

/// Starts a peer with `config`, registers `name` with `PASSWORD` and joins.
#[track_caller]
pub fn joined_with(config: PeerConfig, name: &str) -> ScriptedPeer {
    let peer = ScriptedPeer::start(config).unwrap();
    see(&peer, WELCOME_PROMPT);
    for line in ["1", name, PASSWORD] {
        peer.type_line(line);
    }
    see(&peer, &format!("Registered {name}"));
    join_as(&peer, name);
    peer
}

/// Has `peer`, at the welcome prompt, join as `name` with `PASSWORD`, and
/// waits for the menu.
#[track_caller]
pub fn join_as(peer: &ScriptedPeer, name: &str) {
    for line in ["2", name, PASSWORD] {
        peer.type_line(line);
    }
    see(peer, &format!("Joined as {name}"));
    see(peer, MENU_PROMPT);
}

/// Searches `name` and adds them to the conversation list.
#[track_caller]
pub fn add(peer: &ScriptedPeer, name: &str) {
    peer.type_line("2");
    peer.type_line(name);
    see(peer, ADD_PROMPT);
    peer.type_line("Yes");
    see(peer, &format!("Added {name}"));
}

/// `leader` invites everyone it has added; each of `accepting` says OK.
#[track_caller]
pub fn lobby(leader: &ScriptedPeer, leader_name: &str, accepting: &[&ScriptedPeer]) {
    leader.type_line("3");
    for member in accepting {
        see(member, &format!("Chat request from '{leader_name}'"));
        member.type_line("OK");
        see(member, &format!("You are in {leader_name}'s lobby"));
    }
}
