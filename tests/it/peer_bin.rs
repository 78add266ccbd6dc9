//! The real `peer` binary, driven through piped standard input as a script
//! or a lab exercise would drive it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{TestServer, temp_dir};

const WAIT: Duration = Duration::from_secs(10);

/// A running `peer` process: what it prints arrives on a channel, line by line.
struct PeerProcess {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    seen: Vec<String>,
}

impl PeerProcess {
    fn start(name: &'static str, args: &[&str]) -> PeerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_peer"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line.unwrap()).is_err() {
                    return;
                }
            }
        });
        PeerProcess {
            name,
            stdin: child.stdin.take(),
            child,
            stdout: rx,
            seen: Vec::new(),
        }
    }

    fn types(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    #[track_caller]
    fn sees(&mut self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
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

    fn join(&mut self) {
        self.sees("press '1' for registration");
        for line in ["1", self.name, "pass-word", "2", self.name, "pass-word"] {
            self.types(line);
        }
        self.sees(&format!("Joined as {}", self.name));
        self.sees("Press '1' for 'Online User List'");
    }
}

#[test]
fn two_peer_binaries_chat_through_pipes() {
    let server = TestServer::start();
    let logs = temp_dir();
    let registry = server.addr().to_string();
    let log_dir = logs.path().to_str().unwrap();
    let args = ["--server", &registry, "--log-dir", log_dir];
    let mut alice = PeerProcess::start("alice", &args);
    let mut bob = PeerProcess::start("bob", &args);
    let port_line = alice.sees("Chat server started on port ");
    let port: u16 = port_line.rsplit(' ').next().unwrap().parse().unwrap();
    assert_ne!(port, 0);
    alice.join();
    bob.join();

    for line in ["2", "bob", "Yes", "3"] {
        alice.types(line);
    }
    bob.sees("Chat request from 'alice'. Accept? ['OK', 'REJECT']");
    bob.types("OK");
    alice.sees("bob: OK -> (127.0.0.1, ");
    bob.sees("You are in alice's lobby with: alice, bob");
    alice.types("Hello from alice");
    bob.sees("[alice] Hello from alice");
    bob.types("Hello from bob");
    alice.sees("[bob] Hello from bob");

    bob.types("/quit");
    bob.sees("Bye.");
    alice.sees("Peer ('bob') is offline");
    alice.types("/quit");
    alice.sees("Bye.");
    assert!(alice.child.wait().unwrap().success());
    assert!(bob.child.wait().unwrap().success());
}

#[test]
fn end_of_input_logs_out_and_exits_cleanly() {
    let server = TestServer::start();
    let logs = temp_dir();
    let registry = server.addr().to_string();
    let args = [
        "--server",
        &registry,
        "--log-dir",
        logs.path().to_str().unwrap(),
    ];
    let mut carol = PeerProcess::start("carol", &args);
    carol.join();
    drop(carol.stdin.take());
    carol.sees("Bye.");
    assert!(carol.child.wait().unwrap().success());
    let mut client = server.client();
    client.ask("REGISTER zoe pass-word");
    client.ask("JOIN zoe pass-word 4000");
    assert!(client.ask("SEARCH carol").starts_with("ERR OFFLINE"));
}

#[test]
fn peer_help_and_bad_options() {
    let help = Command::new(env!("CARGO_BIN_EXE_peer"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for option in [
        "--server",
        "--port",
        "--log-dir",
        "--hello-interval",
        "--trace",
    ] {
        assert!(text.contains(option), "{option} missing from {text}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_peer"))
        .args(["--hello-interval", "soon"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("soon"));

    // No registry at that address: a clear message and a failing exit code.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let unreachable = Command::new(env!("CARGO_BIN_EXE_peer"))
        .args(["--server", &addr])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!unreachable.status.success());
    assert!(
        String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach the registry"),
        "{unreachable:?}"
    );
}
