//! The peer hardened (issue 12): the registry link that survives idle
//! timeouts and a registry that is down, text from the network that cannot
//! act on a terminal, names that cannot become paths, and memory and
//! threads that stay bounded. Real sockets and real binaries, loopback only.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use p2pchat::peer::WELCOME_PROMPT;
use p2pchat::registry::ThrottleConfig;
use p2pchat::testing::ScriptedPeer;

use crate::support::{
    PASSWORD, PeerProcess, ServerProcess, TestServer, any_port, check, join_as, joined_with,
    peer_config, register, register_and_join, see, temp_dir,
};

#[test]
fn names_that_could_become_paths_or_devices_are_refused() {
    let server = TestServer::start();
    let mut client = server.client();
    for name in [
        "..", ".", "...", ".hidden", "CON", "nul", "Com1", "lpt9", "aux.log",
    ] {
        check(
            &mut client,
            &format!("REGISTER {name} dotdot12"),
            "ERR BAD_NAME",
        );
        check(&mut client, &format!("SEARCH {name}"), "ERR BAD_NAME");
    }
    check(&mut client, "REGISTER a..b dotdot12", "OK REGISTERED a..b");
}

// ---------------------------------------------------------------------------
// The registry link

/// A registry address where nothing listens now, for a registry started
/// there later.
fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind(any_port()).unwrap();
    listener.local_addr().unwrap()
}

#[test]
fn a_peer_left_at_the_first_menu_past_the_idle_timeout_still_registers_and_joins() {
    let server = TestServer::with_timeout(Duration::from_secs(1));
    let logs = temp_dir();
    let peer = ScriptedPeer::start(peer_config(server.addr(), logs.path())).unwrap();
    see(&peer, WELCOME_PROMPT);
    // A connection made after the peer's, and as silent: once it hears
    // BYE TIMEOUT, the peer's connection has been closed too.
    let mut witness = server.client();
    assert_eq!(witness.recv(), "BYE TIMEOUT");
    for line in ["1", "slowreader", PASSWORD] {
        peer.type_line(line);
    }
    see(&peer, "Registered slowreader");
    let mut witness = server.client();
    assert_eq!(witness.recv(), "BYE TIMEOUT");
    join_as(&peer, "slowreader");
    let mut client = register_and_join(server.addr(), "zoe", 4000);
    check(&mut client, "SEARCH slowreader", "OK USER slowreader");
}

#[test]
fn a_peer_replaced_by_a_login_elsewhere_says_so_and_returns_to_the_first_menu() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined_with(peer_config(server.addr(), logs.path()), "alice");
    let mut elsewhere = server.client();
    check(
        &mut elsewhere,
        &format!("JOIN alice {PASSWORD} 4000"),
        "OK JOINED alice",
    );
    see(&alice, "joined from somewhere else");
    see(&alice, WELCOME_PROMPT);
    // The menus work again: joining here pushes the other login out.
    join_as(&alice, "alice");
    assert_eq!(elsewhere.recv(), "BYE REPLACED");
}

#[test]
fn a_registry_that_stops_is_announced_and_rejoined_when_it_comes_back() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let registry = ServerProcess::start(&db, &[]);
    let addr = registry.addr();
    let logs = temp_dir();
    let mut config = peer_config(addr, logs.path());
    config.retry_max = Duration::from_millis(500);
    let alice = joined_with(config, "alice");
    registry.interrupt();
    assert!(registry.wait().0.success());
    let said = see(&alice, "The registry stopped");
    assert_eq!(
        said,
        "The registry stopped. Reconnecting in the background; chats go on."
    );
    let registry = ServerProcess::start_on(&addr.to_string(), &db, &[]);
    see(
        &alice,
        "Reconnected to the registry; you are online again as alice",
    );
    let mut client = register_and_join(registry.addr(), "zoe", 4000);
    check(&mut client, "SEARCH alice", "OK USER alice");
    drop(alice);
}

#[test]
fn a_peer_started_before_its_registry_waits_for_it() {
    let addr = free_addr();
    let logs = temp_dir();
    let mut config = peer_config(addr, logs.path());
    config.retry_max = Duration::from_millis(500);
    let peer = ScriptedPeer::start(config).unwrap();
    let said = see(&peer, "The registry is not reachable yet");
    assert!(
        !said.contains("Chats go on") && !said.contains("(("),
        "{said}"
    );
    see(&peer, WELCOME_PROMPT);
    for line in ["1", "early", PASSWORD] {
        peer.type_line(line);
    }
    see(&peer, "not connected to the registry yet");
    see(&peer, WELCOME_PROMPT);

    let dir = temp_dir();
    let registry = ServerProcess::start_on(&addr.to_string(), &dir.path().join("r.db"), &[]);
    see(&peer, "The registry is reachable now.");
    for line in ["1", "early", PASSWORD] {
        peer.type_line(line);
    }
    see(&peer, "Registered early");
    join_as(&peer, "early");
    drop(peer);
    drop(registry);
}

#[test]
fn sigterm_leaves_logs_out_and_exits_cleanly() {
    let server = TestServer::start();
    let logs = temp_dir();
    let mut carol = PeerProcess::start_with("carol", server.addr(), logs.path(), &[]);
    carol.join(PASSWORD);
    carol.terminate();
    carol.sees("Bye.");
    assert!(carol.wait().0.success());
    let mut client = register_and_join(server.addr(), "zoe", 4000);
    check(&mut client, "SEARCH carol", "ERR OFFLINE");
}

#[test]
fn a_peer_says_when_the_address_limit_was_hit() {
    let server = TestServer::with_config(|config| {
        config.throttle = ThrottleConfig {
            max_failures: 3,
            window: Duration::from_secs(60),
            cooldown: Duration::from_secs(60),
        }
    });
    register(server.addr(), &["alice"]);
    let mut guesser = server.client();
    for name in ["bob", "carol", "dave"] {
        check(
            &mut guesser,
            &format!("JOIN {name} wrong-pw 4000"),
            "ERR BAD_CREDENTIALS",
        );
    }
    let logs = temp_dir();
    let peer = ScriptedPeer::start(peer_config(server.addr(), logs.path())).unwrap();
    see(&peer, WELCOME_PROMPT);
    for line in ["2", "alice", PASSWORD] {
        peer.type_line(line);
    }
    let said = see(&peer, "Too many failed attempts");
    assert!(
        said.starts_with("Too many failed attempts from this address; try again in "),
        "{said}"
    );
}
