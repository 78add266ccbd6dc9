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
    alice.sees("OK -> ('127.0.0.1', ");
    alice.sees("Client ('bob') connected");
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
fn a_peer_whose_output_nobody_reads_still_exits_on_quit_and_on_sigterm() {
    let server = TestServer::start();
    let logs = temp_dir();
    for (name, leave) in [("dana", "/quit"), ("emil", "SIGTERM")] {
        let fifo = logs.path().join(format!("{name}.out"));
        let registry = server.addr().to_string();
        let args = [
            "--server",
            &registry,
            "--log-dir",
            logs.path().to_str().unwrap(),
            // Nobody reads its output, so it waits this long for its
            // screen thread before it exits without it.
            "--screen-exit-wait",
            "0.2",
        ];
        let mut peer = PeerProcess::start_cloggable(name, &args, &fifo);
        peer.join(PASSWORD);
        peer.clog_output();
        // Its screen thread blocks in its next write, for good.
        peer.types("x");
        if leave == "SIGTERM" {
            peer.terminate();
        } else {
            peer.types(leave);
        }
        assert!(peer.exits().success(), "{name} leaving with {leave}");
    }
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
    // ...and what to do about it.
    assert!(
        String::from_utf8_lossy(&unreachable.stdout).contains(
            "Start the registry (the server program) there, or start again with another --server"
        ),
        "{unreachable:?}"
    );
    // --server skips the search on the LAN.
    assert!(
        !String::from_utf8_lossy(&unreachable.stdout).contains("Looking for a registry"),
        "{unreachable:?}"
    );
}

/// A chat port that another program holds: the peer stops, and says to
/// choose another `--port`.
#[test]
fn a_chat_port_in_use_suggests_another_port() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = closed.local_addr().unwrap().to_string();
    drop(closed);
    let out = Command::new(env!("CARGO_BIN_EXE_peer"))
        .args(["--server", &server, "--plaintext", "--port", &port])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "(port {port} is in use, by another peer perhaps): choose another --port"
        )),
        "{stderr}"
    );
    drop(taken);
}

/// The sentences of the report the program is built on, word for word, and
/// what p2pchat adds to them on the lines after.
#[test]
fn the_reports_sentences_through_pipes() {
    let server = TestServer::start();
    let logs = temp_dir();
    let mut alice = PeerProcess::start_with("alice", server.addr(), logs.path(), &[]);
    let mut bob = PeerProcess::start_with("bob", server.addr(), logs.path(), &[]);
    let bob_port = bob.chat_port();
    bob.join(PASSWORD);

    alice.sees("press '1' for registration");
    alice.types("1");
    let next = alice.sees("");
    assert_eq!(
        next,
        "Please enter your user name and password to register."
    );
    assert_eq!(alice.sees(""), "User name:");
    // An empty name is a change of mind: back to the first menu.
    alice.types("");
    assert_eq!(
        alice.sees(""),
        "Please, press '1' for registration, '2' for join:"
    );
    for line in ["1", "alice", PASSWORD] {
        alice.types(line);
    }
    alice.sees("Password:");
    assert_eq!(
        alice.sees(""),
        "The registration process is successful. You can 'join'"
    );
    alice.types("2");
    assert_eq!(
        alice.sees(""),
        "Please, press '1' for registration, '2' for join:"
    );
    assert_eq!(
        alice.sees(""),
        "Please enter your user name and password to join."
    );
    for line in ["alice", PASSWORD] {
        alice.types(line);
    }
    alice.sees("Password:");
    assert_eq!(
        alice.sees(""),
        "The 'join' process is successful. You can 'search'"
    );
    assert!(
        alice
            .sees("")
            .starts_with("Joined as alice; others reach you at 127.0.0.1 port ")
    );

    alice.types("1");
    alice.sees("Press '1' for 'Online User List'");
    assert_eq!(alice.sees(""), "<<< ONLINE USER LIST >>>");
    alice.sees("2 users online.");

    alice.types("2");
    alice.types("bob");
    alice.sees("User name to search:");
    assert_eq!(
        alice.sees(""),
        format!("UserIp: 127.0.0.1 Port: {bob_port}")
    );
    alice.types("Yes");
    alice.types("3");
    bob.sees("Chat request from 'alice'");
    bob.types("OK");
    assert_eq!(
        alice.sees("OK -> "),
        format!("OK -> ('127.0.0.1', {bob_port})")
    );
    assert_eq!(alice.sees(""), "Client ('bob') connected");
    bob.types("/leave");
    assert_eq!(alice.sees("offline"), "Peer ('bob') is offline");
}
