//! A lobby that outlives its leader's leaving, with real peer processes:
//! the leader's `/leave`, `/quit` and SIGTERM (Ctrl-C is the same input)
//! hand the lobby on as `/handover` does, `/end` ends it for everyone, it
//! ends when its last member leaves, and members hear why anyone left
//! (`LEFT <name> <reason>`) in words, on screen and in their chat logs.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;

use crate::succession::{FAST, lobby};
use crate::support::{
    Client, PASSWORD, PEER_WAIT, PeerProcess, TestServer, invite, join, register, temp_dir,
};

/// Everything `name`'s chat logs under `logs` hold. Read once the peer
/// has exited, so every line is on disk.
fn logs_of(logs: &Path, name: &str) -> String {
    fs::read_dir(logs.join(name))
        .unwrap()
        .map(|entry| fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect()
}

/// Quits `peer` and waits for it to exit.
fn quit(mut peer: PeerProcess) {
    peer.types("/quit");
    peer.exits();
}

/// Alice, who led bob and carol, has gone: both hear that she left, bob
/// leads now, and the two chat on.
#[track_caller]
fn bob_leads_and_the_lobby_goes_on(peers: &mut [PeerProcess]) {
    peers[1].sees("Peer ('alice') is offline");
    peers[1].sees("alice handed the lobby to you; you lead it now.");
    peers[2].sees("Peer ('alice') is offline");
    peers[2].sees("alice handed the lobby to bob.");
    peers[2].types("carol under bob");
    peers[1].sees("[carol] carol under bob");
    peers[1].types("bob leads");
    peers[2].sees("[bob] bob leads");
    peers[1].types("/who");
    let who = peers[1].sees("Members: ");
    assert!(who.ends_with("Members: bob, carol"), "{who}");
}

#[test]
fn a_leader_that_leaves_hands_the_lobby_on_and_the_others_chat_on() {
    let server = TestServer::start();
    let logs = temp_dir();
    let (mut peers, _) = lobby(&server, logs.path(), &["alice", "bob", "carol"]);
    peers[0].types("/leave");
    peers[0].sees("You left the lobby; bob leads it now.");
    peers[0].sees("Press '1'");
    bob_leads_and_the_lobby_goes_on(&mut peers);

    let carol = peers.pop().unwrap();
    quit(carol);
    let alice = peers.remove(0);
    quit(alice);
    let alice_log = logs_of(logs.path(), "alice");
    assert!(
        alice_log.contains("* you left; bob leads the lobby now"),
        "{alice_log}"
    );
    let carol_log = logs_of(logs.path(), "carol");
    for line in [
        "* alice left",
        "* alice handed the lobby to bob",
        "[carol] carol under bob",
        "[bob] bob leads",
    ] {
        assert!(
            carol_log.contains(line),
            "{line:?} missing from {carol_log}"
        );
    }
}

#[test]
fn a_leader_that_quits_or_is_terminated_hands_the_lobby_on() {
    for how in ["/quit", "SIGTERM"] {
        let server = TestServer::start();
        let logs = temp_dir();
        let (mut peers, _) = lobby(&server, logs.path(), &["alice", "bob", "carol"]);
        if how == "/quit" {
            peers[0].types("/quit");
        } else {
            peers[0].terminate();
        }
        peers[0].sees("You left the lobby; bob leads it now.");
        peers[0].sees("Bye.");
        bob_leads_and_the_lobby_goes_on(&mut peers);
    }
}

#[test]
fn a_scripts_end_ends_the_lobby_for_everyone_at_once() {
    let server = TestServer::start();
    let logs = temp_dir();
    let (mut peers, _) = lobby(&server, logs.path(), &["alice", "bob", "carol"]);
    peers[0].types("/end");
    peers[0].sees("The lobby has ended (you ended it for everyone).");
    peers[1].sees("The lobby has ended (alice ended it for everyone).");
    peers[2].sees("The lobby has ended (alice ended it for everyone).");
    for peer in &mut peers {
        peer.sees("Press '1'");
    }
}

#[test]
fn a_lobby_handed_on_by_its_leaving_leader_ends_when_its_last_member_leaves() {
    let server = TestServer::start();
    let logs = temp_dir();
    let (mut peers, _) = lobby(&server, logs.path(), &["alice", "bob", "carol"]);
    peers[0].types("/leave");
    peers[2].sees("alice handed the lobby to bob.");
    peers[2].types("/leave");
    peers[2].sees("You left bob's lobby.");
    peers[1].sees("Peer ('carol') is offline");
    peers[1].sees("The lobby has ended (nobody else is in it).");
    peers[1].sees("Press '1'");
}

#[test]
fn members_hear_why_a_real_leader_let_each_member_go() {
    let server = TestServer::start();
    let logs = temp_dir();
    let names = ["alice", "bob", "carol", "dave", "erin"];
    let (mut peers, _) = lobby(&server, logs.path(), &names);
    peers[2].types("/leave");
    assert_eq!(
        peers[1].sees("Peer ('carol') is offline"),
        "Peer ('carol') is offline"
    );
    peers[3].kill();
    assert_eq!(
        peers[1].sees("Peer ('dave') is offline"),
        "Peer ('dave') is offline (its connection was lost; it may come back)"
    );
    peers[0].types("/kick erin enough");
    assert_eq!(
        peers[1].sees("Peer ('erin') is offline"),
        "Peer ('erin') is offline (removed by alice: enough)"
    );
    let bob = peers.remove(1);
    quit(bob);
    let log = logs_of(logs.path(), "bob");
    for line in [
        "* carol left",
        "* dave's connection was lost",
        "* erin removed by alice: enough",
    ] {
        assert!(log.contains(line), "{line:?} missing from {log}");
    }
}

/// Mallory, a leader played by hand, has bob (a real peer listening on
/// `port`) accept her chat request, with a registry ticket, and admits
/// him to a lobby of `members`.
#[track_caller]
fn mallory_admits_bob(bob: &mut PeerProcess, server: &TestServer, port: u16, members: &str) {
    register(server.addr(), &["mallory"]);
    let mut registry = Client::connect(server.addr());
    join(&mut registry, "mallory", 4999);
    let ticket = invite(&mut registry, "bob");
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PEER_WAIT)).unwrap();
    writeln!(&stream, "CHAT_REQUEST mallory {ticket}").unwrap();
    bob.sees("Chat request from 'mallory'");
    bob.types("OK");
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer).unwrap();
    assert!(answer.starts_with("OK"), "{answer}");
    writeln!(&stream, "MEMBERS mallory bob {members}").unwrap();
    bob.sees("You are in mallory's lobby");
    // What else she says comes on her connection, kept open for it.
    let lines = [
        "LEFT c1 LEFT",
        "LEFT c2 LOST",
        "LEFT c3 SILENT",
        "LEFT c4 SLOW",
        "LEFT c5 TOO_LONG",
        "LEFT c6 KICKED",
        // An older leader's line, without a reason.
        "LEFT c7",
        "CLOSED ENDED",
    ];
    for line in lines {
        writeln!(&stream, "{line}").unwrap();
    }
    bob.sees("The lobby has ended (mallory ended it for everyone).");
}

#[test]
fn a_member_hears_every_reason_for_leaving_in_words() {
    let server = TestServer::start();
    let logs = temp_dir();
    let mut bob = PeerProcess::start_with("bob", server.addr(), logs.path(), FAST);
    let port = bob.chat_port();
    bob.join(PASSWORD);
    mallory_admits_bob(&mut bob, &server, port, "c1 c2 c3 c4 c5 c6 c7");
    bob.types("/quit");
    let (_, printed, _) = bob.wait();
    for shown in [
        "Peer ('c1') is offline",
        "Peer ('c2') is offline (its connection was lost; it may come back)",
        "Peer ('c3') is offline (silent: nothing heard from it for too long)",
        "Peer ('c4') is offline (too slow: it stopped reading and was dropped)",
        "Peer ('c5') is offline (it sent a line too long)",
        "Peer ('c6') is offline (removed by mallory)",
        "Peer ('c7') is offline",
    ] {
        assert!(
            printed.iter().any(|line| line == shown),
            "{shown:?} not shown: {printed:#?}"
        );
    }
    let log = logs_of(logs.path(), "bob");
    for line in [
        "* c1 left",
        "* c2's connection was lost",
        "* c3 dropped: nothing heard from it",
        "* c4 dropped: it stopped reading",
        "* c5 dropped: it sent a line too long",
        "* c6 removed by mallory",
        "* c7 left",
        "* lobby ended: mallory ended it for everyone",
    ] {
        assert!(log.contains(line), "{line:?} missing from {log}");
    }
}
