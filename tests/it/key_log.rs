//! What the lab's capture exercise (docs/LAB.md, Part 5) depends on: with
//! `SSLKEYLOGFILE` set, the real `server` and `peer` binaries write the
//! secrets of their TLS connections in the NSS key log format Wireshark
//! reads, and without it they write none.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::{PASSWORD, PeerProcess, ServerProcess, temp_dir};

/// The client randoms (the connections) that `log` has a
/// `CLIENT_TRAFFIC_SECRET_0` line for, each line checked for its shape:
/// the label, 32 bytes of client random and a secret, in hex.
#[track_caller]
fn logged_connections(log: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(log)
        .unwrap_or_else(|err| panic!("no key log at {}: {err}", log.display()));
    let is_hex = |word: &str| !word.is_empty() && word.bytes().all(|b| b.is_ascii_hexdigit());
    let mut connections = BTreeSet::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let words: Vec<&str> = line.split(' ').collect();
        assert!(
            words.len() == 3 && words[1].len() == 64 && is_hex(words[1]) && is_hex(words[2]),
            "not a key log line: {line:?}"
        );
        if words[0] == "CLIENT_TRAFFIC_SECRET_0" {
            connections.insert(words[1].to_string());
        }
    }
    connections
}

/// Every file under `dir`, and whether any holds a TLS secret.
fn holds_a_secret(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            holds_a_secret(&path)
        } else {
            std::fs::read(&path)
                .map(|bytes| String::from_utf8_lossy(&bytes).contains("TRAFFIC_SECRET"))
                .unwrap_or(false)
        }
    })
}

#[test]
fn sslkeylogfile_makes_server_and_peer_log_their_tls_secrets_and_unset_logs_none() {
    let dir = temp_dir();
    let (server_log, alice_log) = (
        dir.path().join("server.keys"),
        dir.path().join("alice.keys"),
    );
    let mut server = ServerProcess::start_tls_logging_keys(&dir.path().join("lab.db"), &server_log);
    assert!(server.next_line().starts_with("fingerprint SHA256:"));
    let registry = server.addr().to_string();
    let peer_args = |name: &str| {
        let home = dir.path().join(name);
        std::fs::create_dir_all(&home).unwrap();
        let path = |sub: &str| home.join(sub).to_str().unwrap().to_string();
        [
            "--server",
            &registry,
            "--data-dir",
            &path("data"),
            "--log-dir",
            &path("logs"),
        ]
        .map(String::from)
    };
    let (alice_args, bob_args) = (peer_args("alice"), peer_args("bob"));
    let mut alice = PeerProcess::start_logging_keys(
        "alice",
        &alice_args.each_ref().map(|a| a.as_str()),
        &alice_log,
    );
    let mut bob = PeerProcess::start("bob", &bob_args.each_ref().map(|a| a.as_str()));
    alice.join(PASSWORD);
    bob.join(PASSWORD);
    // A lobby: alice's chat connection to bob is TLS too.
    for line in ["2", "bob", "Yes", "3"] {
        alice.types(line);
    }
    bob.sees("Chat request from 'alice'");
    bob.types("OK");
    bob.sees("You are in alice's lobby");
    bob.types("hello over TLS");
    alice.sees("[bob] hello over TLS");
    for peer in [&mut alice, &mut bob] {
        peer.types("/quit");
        peer.sees("Bye.");
    }
    assert!(alice.wait().0.success());
    assert!(bob.wait().0.success());
    server.interrupt();
    assert!(server.wait().0.success());

    // The server logs both peers' registry connections; alice logs hers
    // and the chat connection to bob, and the one to the registry is the
    // same connection in both logs (either end's log decrypts it).
    let at_server = logged_connections(&server_log);
    let at_alice = logged_connections(&alice_log);
    assert!(at_server.len() >= 2, "{at_server:?}");
    assert!(at_alice.len() >= 2, "{at_alice:?}");
    assert!(at_server.intersection(&at_alice).count() >= 1);
    assert!(
        at_alice.difference(&at_server).count() >= 1,
        "no chat connection"
    );
    // Bob ran without SSLKEYLOGFILE: no secret of his anywhere he writes.
    assert!(!holds_a_secret(&dir.path().join("bob")));
}
