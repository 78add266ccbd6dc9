//! `/away [text]` and back (issue 23): with real peers on loopback, a
//! member's away reaches the leader and the others, `/who` shows it, a
//! newcomer learns it, the registry's list and search show it, and an
//! invitation to an away user says so and still gets its answer.

use p2pchat::testing::ScriptedPeer;

use crate::support::{TestServer, add, joined, joined_with, lobby, log_of, see, see_all, temp_dir};

/// `peer` searches `name` at the menu and sees `expected` among the lines
/// of the answer; it does not add the user.
#[track_caller]
fn search_sees(peer: &ScriptedPeer, name: &str, expected: &str) {
    peer.type_line("2");
    peer.type_line(name);
    see(peer, expected);
}

#[test]
fn away_reaches_the_lobby_the_registry_and_an_inviter() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let bob = joined(&server, logs.path(), "bob");
    let carol = joined(&server, logs.path(), "carol");
    let erin = joined(&server, logs.path(), "erin");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);

    bob.type_line("/away lunch");
    see(&bob, "You are marked away: lunch.");
    see(&alice, "bob is away: lunch");
    alice.type_line("/who");
    see(&alice, "Members: alice, bob (away: lunch)");
    // The registry worker asks in order: once bob's own search shows it,
    // the registry has it.
    bob.type_line("/search bob");
    see(&bob, "bob (away: lunch)");
    search_sees(&carol, "bob", "bob (away: lunch)");
    carol.type_line("No");
    carol.type_line("1");
    see(&carol, "(away: lunch)");

    // Away at the menu, then invited: the inviter hears it, the request
    // is still asked, and once in, erin's away reaches everyone.
    erin.type_line("/away");
    see(&erin, "You are marked away.");
    search_sees(&erin, "erin", "erin (away)");
    alice.type_line("/invite erin");
    see(&alice, "erin is away; asking anyway.");
    see(&erin, "Chat request from 'alice'");
    erin.type_line("OK");
    // The newcomer learns who is away with the member list.
    see_all(
        &erin,
        &[
            "You are in alice's lobby with: alice, bob, erin",
            "bob is away: lunch",
        ],
    );
    see(&alice, "erin is away");
    see(&bob, "erin is away");

    bob.type_line("/back");
    see(&bob, "You are back.");
    see(&alice, "bob is back");
    see(&erin, "bob is back");
    // `/away` with no text while away is back, as in irssi.
    erin.type_line("/away");
    see(&erin, "You are back.");
    see(&alice, "erin is back");
    alice.type_line("/away on the phone");
    see_all(&bob, &["alice is away: on the phone"]);
    // erin's /who is answered from what erin has heard: wait for it.
    see(&erin, "alice is away: on the phone");
    erin.type_line("/who");
    see(&erin, "Members: alice (away: on the phone), bob, erin");

    let alice_log = log_of(logs.path(), "alice");
    for line in ["* bob is away: lunch", "* bob is back", "* erin is away"] {
        assert!(
            alice_log.contains(line),
            "{line:?} missing from {alice_log}"
        );
    }
}

/// After a handover, with real peer processes, the new leader knows who is
/// away: each member says it again when the new leader takes it back.
#[test]
fn a_new_leader_learns_who_is_away() {
    let server = TestServer::start();
    let logs = temp_dir();
    let (mut peers, _) = crate::succession::lobby(&server, logs.path(), &["alice", "bob", "carol"]);
    peers[2].types("/away lunch");
    peers[0].sees("carol is away: lunch");
    peers[1].sees("carol is away: lunch");
    peers[0].types("/away tea");
    peers[1].sees("alice is away: tea");
    peers[2].sees("alice is away: tea");
    peers[0].types("/handover");
    peers[1].sees("alice handed the lobby to you; you lead it now.");
    peers[0].sees("You are a member of bob's lobby now.");
    peers[2].sees("alice handed the lobby to bob.");
    // Said again by each once bob took it back, in whichever order: bob's
    // hub has it now.
    let mut missing = vec!["carol is away: lunch", "alice is away: tea"];
    while !missing.is_empty() {
        let line = peers[1].sees(" is away: ");
        missing.retain(|text| !line.contains(text));
    }
    peers[1].types("/who");
    let who = peers[1].sees("Members: bob, ");
    assert!(
        who.contains("alice (away: tea)") && who.contains("carol (away: lunch)"),
        "{who}"
    );
    // A newcomer to bob's lobby hears it from bob's hub.
    let mut erin = crate::support::PeerProcess::start_with(
        "erin",
        server.addr(),
        logs.path(),
        crate::succession::FAST,
    );
    erin.join(crate::support::PASSWORD);
    peers[1].types("/invite erin");
    erin.sees("Chat request from 'bob'");
    erin.types("OK");
    erin.sees("You are in bob's lobby with");
    erin.sees("alice is away: tea");
    erin.types("/who");
    let who = erin.sees("Members: bob, ");
    assert!(who.contains("carol (away: lunch)"), "{who}");
}

/// The registry forgets who is away when it stops; the peer's link, which
/// joins again by itself once it is back, says it again.
#[test]
fn away_is_said_again_when_the_registry_comes_back() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let registry = crate::support::ServerProcess::start(&db, &[]);
    let addr = registry.addr();
    let logs = dir.path().join("logs");
    let alice = joined_with(crate::resilience::quick_config(addr, &logs), "alice");
    alice.type_line("/away lunch");
    see(&alice, "You are marked away: lunch.");
    // Once alice's own search shows it, the registry has it.
    search_sees(&alice, "alice", "alice (away: lunch)");
    registry.kill();
    see(&alice, "The registry is unreachable");
    let registry = crate::support::ServerProcess::start_on(&addr.to_string(), &db, &[]);
    // The link sends AWAY right after its JOIN, before it says so.
    see(
        &alice,
        "Reconnected to the registry; you are online again as alice",
    );
    let mut carol = crate::support::register_and_join(addr, "carol", 4000);
    let found = carol.ask("SEARCH alice");
    assert!(
        found.starts_with("OK USER alice 127.0.0.1 ") && found.ends_with(" AWAY lunch"),
        "{found}"
    );
    drop(alice);
    registry.kill();
}
