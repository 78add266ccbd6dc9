//! The real `peer` binary, driven through piped standard input as a script
//! or a lab exercise would drive it.

use std::process::{Command, Stdio};

use crate::support::{PASSWORD, PeerProcess, TestServer, register_and_join, temp_dir};

#[test]
fn two_peer_binaries_chat_through_pipes() {
    let server = TestServer::start();
    let logs = temp_dir();
    let mut alice = PeerProcess::start_with("alice", server.addr(), logs.path(), &[]);
    let mut bob = PeerProcess::start_with("bob", server.addr(), logs.path(), &[]);
    assert_ne!(alice.chat_port(), 0);
    alice.join(PASSWORD);
    bob.join(PASSWORD);

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
    assert!(alice.wait().0.success());
    assert!(bob.wait().0.success());
}

#[test]
fn end_of_input_logs_out_and_exits_cleanly() {
    let server = TestServer::start();
    let logs = temp_dir();
    let mut carol = PeerProcess::start_with("carol", server.addr(), logs.path(), &[]);
    carol.join(PASSWORD);
    carol.close_stdin();
    carol.sees("Bye.");
    assert!(carol.wait().0.success());
    let mut client = register_and_join(server.addr(), "zoe", 4000);
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

    // No registry at that address: the peer says so, keeps trying, and
    // leaves cleanly when its input ends.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let unreachable = Command::new(env!("CARGO_BIN_EXE_peer"))
        .args(["--server", &addr])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(unreachable.status.success(), "{unreachable:?}");
    assert!(
        String::from_utf8_lossy(&unreachable.stdout).contains("The registry is not reachable yet"),
        "{unreachable:?}"
    );
}
