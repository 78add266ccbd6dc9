//! The `server` binary, run as a user would run it: its options, its error
//! exits, a session over TCP, `--trace`, and a clean stop on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

use crate::support::{Client, READ_TIMEOUT, read_to_string, temp_dir};

const PASSWORD: &str = "Trace-Me-Not-42";

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_server"))
}

/// Runs `server` with `args` to completion; the options tests need no
/// network and end at once.
fn run(args: &[&str]) -> Output {
    server()
        .args(args)
        .output()
        .expect("the server binary runs")
}

/// A running `server` process. Dropping it kills the process if it is
/// still running, so a failed test leaves nothing behind.
struct Running {
    child: Option<Child>,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
    addr: SocketAddr,
}

impl Running {
    /// Starts `server --bind 127.0.0.1:0 --db <db>` plus `extra`, and reads
    /// the address it listens on from its first line of output.
    fn start(db: &Path, extra: &[&str]) -> Running {
        let mut child = server()
            .args(["--bind", "127.0.0.1:0", "--db"])
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
        assert_eq!(
            first.trim_end(),
            format!(
                "Registry listening on {addr} with database {}",
                db.display()
            )
        );
        Running {
            child: Some(child),
            stdout,
            stderr: Some(stderr),
            addr,
        }
    }

    /// Sends the process SIGINT, as Ctrl-C in a terminal does.
    fn interrupt(&self) {
        let pid = self.child.as_ref().unwrap().id();
        let pid = libc::pid_t::try_from(pid).unwrap();
        // SAFETY: kill has no memory effects; the pid is our own child,
        // which has not been waited for, so it cannot have been reused.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    }

    /// Waits up to `READ_TIMEOUT` for the process to exit; returns its
    /// status, the rest of its standard output, and all its standard error.
    fn wait(mut self) -> (ExitStatus, String, String) {
        let mut child = self.child.take().unwrap();
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = match rx.recv_timeout(READ_TIMEOUT) {
            Ok(status) => status.unwrap(),
            Err(_) => {
                // SAFETY: as in `interrupt`: the child has not been reaped.
                unsafe { libc::kill(libc::pid_t::try_from(pid).unwrap(), libc::SIGKILL) };
                let _ = waiter.join();
                panic!("the server did not exit within {READ_TIMEOUT:?}");
            }
        };
        waiter.join().unwrap();
        let stdout = read_to_string(&mut self.stdout);
        let stderr = self.stderr.take().unwrap().join().unwrap();
        (status, stdout, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn help_names_every_option() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in ["--bind", "--db", "--hello-timeout", "--trace", "--version"] {
        assert!(
            help.contains(option),
            "--help does not mention {option}:\n{help}"
        );
    }
}

#[track_caller]
fn check_bad_args(args: &[&str], message: &str) {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(message),
        "{args:?}: expected {message:?} in:\n{stderr}"
    );
}

#[test]
fn bad_arguments_exit_with_a_message() {
    check_bad_args(
        &["--hello-timeout", "abc"],
        "abc is not a positive number of seconds",
    );
    check_bad_args(
        &["--hello-timeout", "0"],
        "0 is not a positive number of seconds",
    );
    check_bad_args(
        &["--hello-timeout=-1"],
        "-1 is not a positive number of seconds",
    );
    check_bad_args(&["--bind", "nowhere"], "invalid value 'nowhere'");
    check_bad_args(&["--colour"], "unexpected argument '--colour'");
}

#[test]
fn start_up_failures_exit_2() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let db = db.to_str().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let missing_dir = dir.path().join("no/such/dir/registry.db");
    for (args, message) in [
        (
            vec!["--bind", taken.as_str(), "--db", db],
            format!("server: cannot listen on {taken}"),
        ),
        (
            vec![
                "--bind",
                "127.0.0.1:0",
                "--db",
                missing_dir.to_str().unwrap(),
            ],
            "server: cannot open the database file".to_string(),
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(&message), "{args:?}: {stderr}");
    }
}

#[test]
fn serves_a_session_and_stops_cleanly_on_sigint() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let server = Running::start(&db, &["--trace", "--hello-timeout", "5"]);
    let mut c = Client::connect(server.addr);
    assert_eq!(
        c.ask(&format!("REGISTER alice {PASSWORD}")),
        "OK REGISTERED alice"
    );
    assert_eq!(
        c.ask(&format!("join alice {PASSWORD} 5000")),
        "OK JOINED alice 127.0.0.1 5000"
    );
    assert_eq!(c.ask("LIST"), "OK LIST 1");
    assert_eq!(c.recv(), "USER alice 127.0.0.1 5000");

    server.interrupt();
    assert_eq!(c.recv(), "BYE SHUTDOWN");
    c.expect_eof();
    let (status, stdout, stderr) = server.wait();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");

    for line in [
        "registered alice",
        "alice online at 127.0.0.1 port 5000",
        "alice offline",
    ] {
        assert!(stdout.contains(line), "no {line:?} in stdout:\n{stdout}");
    }
    assert!(
        stdout.ends_with("Registry stopped; everyone is marked offline.\n"),
        "stdout:\n{stdout}"
    );

    let client = c.local_addr();
    for line in [
        format!("<< {client} REGISTER alice ****"),
        format!(">> {client} OK REGISTERED alice"),
        format!("<< {client} join alice **** 5000"),
        format!(">> {client} OK JOINED alice 127.0.0.1 5000"),
        format!("<< {client} LIST"),
        format!(">> {client} USER alice 127.0.0.1 5000"),
        format!(">> {client} BYE SHUTDOWN"),
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "no {line:?} in the trace:\n{stderr}"
        );
    }
    assert!(!stderr.contains(PASSWORD), "the trace shows the password");
    assert!(!stdout.contains(PASSWORD), "stdout shows the password");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let online: i64 = conn
        .query_row("SELECT COUNT(*) FROM users WHERE status = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(online, 0);
}

#[test]
fn without_trace_nothing_goes_to_stderr() {
    let dir = temp_dir();
    let server = Running::start(&dir.path().join("registry.db"), &[]);
    let mut c = Client::connect(server.addr);
    assert!(c.ask("HELP").starts_with("OK HELP "));
    server.interrupt();
    assert_eq!(c.recv(), "BYE SHUTDOWN");
    let (status, _, stderr) = server.wait();
    assert!(status.success());
    assert_eq!(stderr, "");
}

// The server accepts a request with spaces before its keyword, so the trace
// must hide the password of such a line too (see `wire::redact`).
#[test]
fn trace_hides_the_password_of_a_line_with_leading_spaces() {
    let dir = temp_dir();
    let server = Running::start(&dir.path().join("registry.db"), &["--trace"]);
    let mut c = Client::connect(server.addr);
    assert_eq!(
        c.ask(&format!("  REGISTER bob {PASSWORD}")),
        "OK REGISTERED bob"
    );
    server.interrupt();
    assert_eq!(c.recv(), "BYE SHUTDOWN");
    let (status, _, stderr) = server.wait();
    assert!(status.success());
    assert!(
        !stderr.contains(PASSWORD),
        "the trace shows the password:\n{stderr}"
    );
}
