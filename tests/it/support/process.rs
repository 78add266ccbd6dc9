//! The `server` and `peer` binaries as child processes. Dropping one kills
//! the process if it is still running, so a failed test leaves nothing
//! behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::{Client, LineStream, PEER_WAIT, READ_TIMEOUT};

/// Reads everything a reader gives until it ends, as text, for a child
/// process's output.
pub fn read_to_string(mut reader: impl Read) -> String {
    let mut text = String::new();
    let _ = reader.read_to_string(&mut text);
    text
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
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "kill({pid}, {signal})");
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
    stderr: Option<LineStream>,
    addr: SocketAddr,
    first_line: String,
}

impl ServerProcess {
    /// Starts `server --plaintext --bind 127.0.0.1:0 --db <db>` plus
    /// `extra`, and reads the address it listens on from its first line of
    /// output.
    pub fn start(db: &Path, extra: &[&str]) -> ServerProcess {
        ServerProcess::start_on("127.0.0.1:0", db, extra)
    }

    /// Starts `server --plaintext --bind <bind> --db <db>` plus `extra` (the
    /// tests speak raw lines to it): with a fixed
    /// `bind`, a test can kill the server and start another where its
    /// clients expect it.
    pub fn start_on(bind: &str, db: &Path, extra: &[&str]) -> ServerProcess {
        let mut args = vec!["--plaintext"];
        args.extend_from_slice(extra);
        ServerProcess::start_with(bind, db, &args, None)
    }

    /// Starts `server --bind 127.0.0.1:0 --db <db>` plus `extra`, speaking
    /// TLS (the default): its second line is its fingerprint.
    pub fn start_tls(db: &Path, extra: &[&str]) -> ServerProcess {
        ServerProcess::start_with("127.0.0.1:0", db, extra, None)
    }

    /// As `start_tls`, with `SSLKEYLOGFILE=<key_log>` in its environment.
    pub fn start_tls_logging_keys(db: &Path, key_log: &Path) -> ServerProcess {
        ServerProcess::start_with("127.0.0.1:0", db, &[], Some(key_log))
    }

    /// It does not announce itself (`--no-announce`): nothing a test starts
    /// outside a network namespace of its own multicasts. `SSLKEYLOGFILE`
    /// is `key_log`, or unset whatever the test's own environment says.
    fn start_with(bind: &str, db: &Path, extra: &[&str], key_log: Option<&Path>) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
        key_log_env(&mut command, key_log);
        command
            .args(["--bind", bind, "--no-announce", "--db"])
            .arg(db)
            .args(extra);
        ServerProcess::spawn(command)
    }

    /// Starts `command`, a `server` with its options (in a network
    /// namespace, say), and reads the address it listens on from its first
    /// line of output.
    pub fn spawn(mut command: Command) -> ServerProcess {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server binary starts");
        let stderr = LineStream::read(child.stderr.take().unwrap());
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

    /// The next line the server prints, without its line ending.
    pub fn next_line(&mut self) -> String {
        let mut line = String::new();
        let stdout = self.stdout.as_mut().expect("stdout is open");
        stdout.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }

    /// The next line the server prints within `wait`, if one comes.
    pub fn line_within(&mut self, wait: Duration) -> Option<String> {
        let stdout = self.stdout.as_mut().expect("stdout is open");
        super::streams::line_within(stdout, wait)
    }

    /// The next line the server prints on standard error (its `--trace`)
    /// within `wait`, if one comes; `wait` then returns the rest.
    pub fn error_line_within(&self, wait: Duration) -> Option<String> {
        self.stderr.as_ref()?.line_within(wait)
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
        let stderr = self.stderr.take().unwrap().rest();
        (status, stdout, stderr)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        kill_quietly(&mut self.child);
    }
}

/// A running `peer` binary driven through piped standard input: what it
/// prints arrives line by line, and its standard error is kept whole.
/// Dropping it kills the process if it is still running.
pub struct PeerProcess {
    pub name: String,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Option<LineStream>,
    seen: Vec<String>,
    clog: Option<Clog>,
}

/// A peer's standard output as a FIFO the test can stop reading and fill.
/// The filler is a description of its own, opened non-blocking, so filling
/// never blocks the test and leaves the peer's writes blocking.
struct Clog {
    filler: std::fs::File,
    /// Asks the reader thread to stop; the thread holds the receiver.
    stop: (crossbeam_channel::Sender<()>, Receiver<()>),
    /// The reader thread says it has stopped.
    stopped: (crossbeam_channel::Sender<()>, Receiver<()>),
}

impl Clog {
    /// Makes the FIFO and opens its reading end and the filler.
    fn make(fifo: &Path) -> (std::fs::File, Clog) {
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;

        let path = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: `path` is a NUL-terminated string that outlives the call.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
        // Non-blocking, so the open does not wait for a writer; the reads
        // then block, as the flag is cleared on this description only.
        let reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
            .unwrap();
        set_blocking(&reader);
        let filler = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(fifo)
            .unwrap();
        let clog = Clog {
            filler,
            stop: crossbeam_channel::bounded(1),
            stopped: crossbeam_channel::bounded(1),
        };
        (reader, clog)
    }

    /// The peer's end: a blocking description of its own.
    fn output(&self, fifo: &Path) -> Stdio {
        Stdio::from(std::fs::OpenOptions::new().write(true).open(fifo).unwrap())
    }
}

/// Clears `O_NONBLOCK` on `file`'s description.
fn set_blocking(file: &std::fs::File) {
    use std::os::fd::AsRawFd;

    let fd = file.as_raw_fd();
    // SAFETY: `fd` is open for as long as `file` is borrowed; F_GETFL and
    // F_SETFL read and set flags and touch no memory.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        assert!(flags >= 0, "F_GETFL");
        assert_eq!(libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK), 0);
    }
}

impl PeerProcess {
    /// Starts `peer` with `args`; `name` is only for messages until the
    /// test joins as it.
    ///
    /// It speaks plain text to the registry (the test registries do)
    /// unless `args` give a `--data-dir`: a TLS peer keeps the registry keys
    /// it has seen there, never in the real home directory.
    pub fn start(name: &str, args: &[&str]) -> PeerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_peer"));
        key_log_env(&mut command, None);
        command.args(plaintext_unless_data_dir(args)).args(args);
        PeerProcess::spawn(name, command)
    }

    /// As `start`, with `SSLKEYLOGFILE=<key_log>` in its environment.
    pub fn start_logging_keys(name: &str, args: &[&str], key_log: &Path) -> PeerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_peer"));
        key_log_env(&mut command, Some(key_log));
        command.args(plaintext_unless_data_dir(args)).args(args);
        PeerProcess::spawn(name, command)
    }

    /// Starts `command`, a `peer` with its options (in a network namespace,
    /// say); `name` is only for messages until the test joins as it.
    pub fn spawn(name: &str, mut command: Command) -> PeerProcess {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the peer binary starts");
        let stdout = child.stdout.take().unwrap();
        PeerProcess::reading(name, child, stdout, None)
    }

    /// Starts `peer` with `args` (in plain text, as `start`), its standard
    /// output a FIFO made at `fifo` that `clog_output` can later stop
    /// reading and fill.
    pub fn start_cloggable(name: &str, args: &[&str], fifo: &Path) -> PeerProcess {
        let (reader, clog) = Clog::make(fifo);
        let child = Command::new(env!("CARGO_BIN_EXE_peer"))
            .args(plaintext_unless_data_dir(args))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(clog.output(fifo))
            .stderr(Stdio::piped())
            .spawn()
            .expect("the peer binary starts");
        PeerProcess::reading(name, child, reader, Some(clog))
    }

    /// The process, its standard output read line by line by a thread that
    /// `clog` (if any) can stop.
    fn reading(
        name: &str,
        mut child: Child,
        stdout: impl Read + Send + 'static,
        clog: Option<Clog>,
    ) -> PeerProcess {
        let (tx, rx) = crossbeam_channel::unbounded();
        let stop = clog
            .as_ref()
            .map(|clog| (clog.stop.1.clone(), clog.stopped.0.clone()));
        thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut line = String::new();
            while matches!(lines.read_line(&mut line), Ok(1..)) {
                if let Some((stop, stopped)) = &stop
                    && stop.try_recv().is_ok()
                {
                    // Holds the FIFO open, unread, until the test ends.
                    let _ = stopped.send(());
                    let _ = stop.recv();
                    return;
                }
                let text = line.trim_end_matches(['\n', '\r']).to_string();
                if tx.send(text).is_err() {
                    return;
                }
                line.clear();
            }
        });
        let stderr = LineStream::read(child.stderr.take().unwrap());
        PeerProcess {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child: Some(child),
            stdout: rx,
            stderr: Some(stderr),
            seen: Vec::new(),
            clog,
        }
    }

    /// Stops reading the peer's standard output and fills it to the brim,
    /// as a terminal that is stuck or a pipe nobody drains: the peer's next
    /// write to it blocks for good.
    #[track_caller]
    pub fn clog_output(&mut self) {
        let clog = self.clog.as_mut().expect("started with start_cloggable");
        clog.stop.0.send(()).unwrap();
        // A line of our own wakes the reader, which then stops.
        clog.filler.write_all(b"(clogged)\n").unwrap();
        clog.stopped
            .1
            .recv_timeout(READ_TIMEOUT)
            .expect("the output reader stops");
        let chunk = [b'.'; 512];
        for size in [chunk.len(), 1] {
            loop {
                match clog.filler.write(&chunk[..size]) {
                    Ok(_) => continue,
                    Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(err) => panic!("filling the output failed: {err}"),
                }
            }
        }
    }

    /// Waits for the process to exit without reading its output, and
    /// returns its status.
    pub fn exits(mut self) -> ExitStatus {
        let child = self.child.take().expect("the peer is running");
        wait_for_exit(child, "the peer")
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

    /// The next line the peer prints, not kept for `seen_count`: for a
    /// test that reads through a flood. Fails the test if none comes within
    /// `PEER_WAIT`.
    #[track_caller]
    pub fn next_line(&mut self) -> String {
        match self.stdout.recv_timeout(PEER_WAIT) {
            Ok(line) => line,
            Err(_) => panic!("{} printed nothing for {PEER_WAIT:?}", self.name),
        }
    }

    /// The next line the peer prints within `wait`, kept for
    /// `seen_count`; `None` if none comes.
    pub fn line_within(&mut self, wait: Duration) -> Option<String> {
        let line = self.stdout.recv_timeout(wait).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// The next line the peer prints on standard error (its `--trace`)
    /// within `wait`, if one comes; `wait` then returns the rest.
    pub fn error_line_within(&self, wait: Duration) -> Option<String> {
        self.stderr.as_ref()?.line_within(wait)
    }

    /// The peer's resident memory in KiB (`VmRSS` in `/proc/PID/status`).
    #[cfg(target_os = "linux")]
    pub fn rss_kib(&self) -> u64 {
        let pid = self.child.as_ref().expect("the peer is running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kib| kib.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in {status}"))
    }

    /// How many of the lines read so far by `sees` contain `text`.
    pub fn seen_count(&self, text: &str) -> usize {
        self.seen.iter().filter(|line| line.contains(text)).count()
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

    /// Sends SIGTERM, as `kill` or a service manager would.
    pub fn terminate(&self) {
        signal(self.child.as_ref().unwrap().id(), libc::SIGTERM);
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
        let stderr = self.stderr.take().unwrap().rest();
        (status, printed, stderr)
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        kill_quietly(&mut self.child);
    }
}

/// Sets `SSLKEYLOGFILE` to `key_log`, or removes it: a test's child writes
/// TLS secrets only where that test asks.
fn key_log_env(command: &mut Command, key_log: Option<&Path>) {
    match key_log {
        Some(path) => command.env("SSLKEYLOGFILE", path),
        None => command.env_remove("SSLKEYLOGFILE"),
    };
}

/// `--plaintext`, unless `args` give a `--data-dir` (a TLS peer's).
pub fn plaintext_unless_data_dir(args: &[&str]) -> Option<&'static str> {
    (!args.contains(&"--data-dir")).then_some("--plaintext")
}
