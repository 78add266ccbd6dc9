//! What irssi and weechat users expect (issue 23): `/me` actions, with real
//! peers on loopback and a member played over raw lines.

use crate::support::{TestServer, add, joined, lobby, log_of, see, temp_dir};

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
