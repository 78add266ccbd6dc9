//! The peer over IPv6 and with several registry addresses (issue 13): a
//! registry on `[::1]` hands out IPv6 contacts, so the peers must take chat
//! connections over IPv6; and a name that resolves to several addresses is
//! tried address by address.

use std::net::{SocketAddr, TcpListener};

use p2pchat::testing::ScriptedPeer;

use crate::support::{TestServer, add, joined_with, lobby, peer_config, see, see_all, temp_dir};

/// Whether this machine can listen on the IPv6 loopback at all.
fn has_ipv6_loopback() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn a_lobby_chats_with_the_registry_on_ipv6_loopback() {
    if !has_ipv6_loopback() {
        eprintln!("skipped: this machine has no IPv6 loopback ([::1] cannot be bound)");
        return;
    }
    let server = TestServer::with_config(|config| {
        config.bind = "[::1]:0".parse().unwrap();
    });
    assert!(server.addr().is_ipv6(), "{}", server.addr());
    let logs = temp_dir();
    // Alice listens on the IPv6 loopback itself; Bob keeps the default, an
    // unspecified IPv4 address, which must follow the registry to IPv6.
    let mut alice_config = peer_config(server.addr(), logs.path());
    alice_config.listen = "[::1]:0".parse().unwrap();
    let alice = joined_with(alice_config, "alice");
    let mut bob_config = peer_config(server.addr(), logs.path());
    bob_config.listen = SocketAddr::from(([0, 0, 0, 0], 0));
    let bob = joined_with(bob_config, "bob");

    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);
    see_all(&alice, &["Peer ('bob') joined"]);
    alice.type_line("hello over six");
    see(&bob, "[alice] hello over six");
    bob.type_line("and back");
    see(&alice, "[bob] and back");
}

#[test]
fn every_registry_address_is_tried_in_order() {
    let server = TestServer::start();
    let logs = temp_dir();
    // Nothing listens on the first address (a port just released); the
    // registry is at the second, as with `localhost` resolving to `::1`
    // first where the registry listens on IPv4 only.
    let nothing = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = peer_config(server.addr(), logs.path());
    config.servers = vec![nothing, server.addr()];
    let alice = joined_with(config, "alice");
    alice.type_line("1");
    see(&alice, "1 user(s) online");

    // With no address that answers, the peer says which it tried, and
    // keeps trying.
    let mut config = peer_config(nothing, logs.path());
    config.servers = vec![nothing, nothing];
    let peer = ScriptedPeer::start(config).expect("the peer starts without its registry");
    let said = see(&peer, "The registry is not reachable yet");
    assert!(
        said.starts_with(&format!(
            "The registry is not reachable yet at {nothing} or {nothing} ("
        )),
        "{said}"
    );
}
