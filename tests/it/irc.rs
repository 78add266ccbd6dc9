//! What irssi and weechat users expect (issue 23): `/me` actions, with real
//! peers on loopback and a member played over raw lines.

use std::fs;
use std::path::Path;

use p2pchat::testing::ScriptedPeer;

use crate::support::{TestServer, add, joined_with, lobby, peer_config, see, temp_dir};

fn joined(server: &TestServer, logs: &Path, name: &str) -> ScriptedPeer {
    joined_with(peer_config(server.addr(), logs), name)
}

/// The one log file under `logs/<name>/`.
fn log_of(logs: &Path, name: &str) -> String {
    let files: Vec<_> = fs::read_dir(logs.join(name))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    fs::read_to_string(&files[0]).unwrap()
}

#[test]
fn me_is_an_action_everyone_sees_logs_and_a_late_joiner_replays() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let bob = joined(&server, logs.path(), "bob");
    let carol = joined(&server, logs.path(), "carol");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);

    bob.type_line("/me waves");
    see(&alice, "* bob waves");
    alice.type_line("/ME   nods back");
    see(&bob, "* alice nods back");
    // A message that only looks like a command is still a message.
    bob.type_line("/meow");
    see(&bob, "Unknown command /meow");
    bob.type_line("/me");
    see(&bob, "Usage: /me <action>");

    // A late joiner hears the action replayed as an action.
    alice.type_line("/invite carol");
    see(&carol, "Chat request from 'alice'");
    carol.type_line("OK");
    see(&carol, "You are in alice's lobby with: alice, bob, carol");
    see(&carol, " * bob waves");
    see(&carol, " * alice nods back");

    alice.type_line("/end");
    see(&bob, "The lobby has ended");
    see(&carol, "The lobby has ended");
    for name in ["alice", "bob"] {
        let log = log_of(logs.path(), name);
        assert!(log.contains("[bob] * waves\n"), "{name}: {log}");
        assert!(log.contains("[alice] * nods back\n"), "{name}: {log}");
        assert!(!log.contains("/me"), "{name}: {log}");
    }
    let log = log_of(logs.path(), "carol");
    assert!(log.contains(": [bob] * waves\n"), "{log}");
}
