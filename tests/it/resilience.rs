//! Peers when things go wrong: a leader that goes silent without closing
//! its connection, and a registry that stops and comes back mid-chat.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use p2pchat::peer::{MENU_PROMPT, PeerConfig};

use crate::support::{
    PEER_WAIT, ServerProcess, TestServer, add, chat_addr, invite, joined_with, lobby, peer_config,
    register_and_join, see, temp_dir,
};

/// A peer with fast heartbeats and reconnects, so that failures show up
/// within seconds. The lobby timeout is many heartbeats long, so that a
/// loaded machine's pauses never pass for a lost leader.
pub fn quick_config(registry: SocketAddr, logs: &Path) -> PeerConfig {
    let mut config = peer_config(registry, logs);
    config.hello_interval = Duration::from_millis(50);
    config.retry_min = Duration::from_millis(20);
    config.retry_max = Duration::from_millis(100);
    config.lobby_hello = Duration::from_millis(50);
    config.lobby_timeout = Duration::from_secs(3);
    config
}

#[test]
fn chat_goes_on_while_the_registry_is_killed_and_peers_rejoin() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let registry = ServerProcess::start(&db, &[]);
    // The port the OS picked is where the registry must come back.
    let addr = registry.addr();
    let logs = dir.path().join("logs");
    let alice = joined_with(quick_config(addr, &logs), "alice");
    let bob = joined_with(quick_config(addr, &logs), "bob");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);

    registry.kill();
    see(&alice, "The registry is unreachable");
    see(&bob, "The registry is unreachable");
    alice.type_line("still talking");
    see(&bob, "[alice] still talking");
    bob.type_line("me too");
    see(&alice, "[bob] me too");

    let registry = ServerProcess::start_on(&addr.to_string(), &db, &[]);
    see(
        &alice,
        "Reconnected to the registry; you are online again as alice",
    );
    see(
        &bob,
        "Reconnected to the registry; you are online again as bob",
    );
    let mut carol = register_and_join(addr, "carol", 4000);
    carol.send("LIST");
    assert_eq!(carol.recv(), "OK LIST 3");
    let rows: Vec<String> = (0..3).map(|_| carol.recv()).collect();
    for name in ["alice", "bob", "carol"] {
        assert!(
            rows.iter()
                .any(|row| row.starts_with(&format!("USER {name} "))),
            "{name} missing from {rows:?}"
        );
    }
    alice.type_line("welcome back");
    see(&bob, "[alice] welcome back");
    drop((alice, bob));
    registry.kill();
}

#[test]
fn a_leader_that_goes_silent_ends_the_lobby_for_its_member() {
    let registry = TestServer::with_timeout(Duration::from_secs(5));
    let logs = temp_dir();
    let mut config = quick_config(registry.addr(), logs.path());
    // Waited out once, for the silent leader; nothing else has to fit in
    // it but eight of the member's 50 ms heartbeats.
    config.lobby_timeout = Duration::from_millis(400);
    let bob = joined_with(config, "bob");

    // The leader is played by hand: a registry session for its ticket, then
    // a chat connection that stops sending and reading, without closing, as
    // if its machine had died.
    let mut alice = register_and_join(registry.addr(), "alice", 4001);
    let ticket = invite(&mut alice, "bob");
    let mut chat = TcpStream::connect(chat_addr(&bob)).unwrap();
    chat.set_read_timeout(Some(PEER_WAIT)).unwrap();
    writeln!(chat, "CHAT_REQUEST alice {ticket}").unwrap();
    see(&bob, "Chat request from 'alice'");
    bob.type_line("OK");
    let mut lines = BufReader::new(chat.try_clone().unwrap()).lines();
    // `OK` with the member's public keys, for its seat.
    let ok = lines.next().unwrap().unwrap();
    let accepted = ok.parse::<p2pchat::wire::ToLeader>();
    assert!(
        matches!(accepted, Ok(p2pchat::wire::ToLeader::Accept(Some(_)))),
        "{ok}"
    );
    writeln!(chat, "MEMBERS alice bob").unwrap();
    see(&bob, "You are in alice's lobby");

    // The member keeps saying HELLO while it waits...
    assert_eq!(lines.next().unwrap().unwrap(), "HELLO");
    // ...and gives up on a leader it has not heard from.
    see(&bob, "The lobby has ended (the leader stopped answering)");
    see(&bob, MENU_PROMPT);
    drop(bob);
    registry.stop().unwrap();
}
