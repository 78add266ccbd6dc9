//! What issue 17 asks of the registry, over real sockets and the real
//! binary: what one client may take (tickets, connections per address, the
//! deadline to join, REGISTERs), consistent presence, the database file,
//! traces that hide passwords, and a clean stop on SIGTERM.
//!
//! Nothing here sleeps: a test waits for the line it expects under a read
//! timeout, and each loop is bounded in count.

use crate::support::{TestServer, invite, register_and_join};

#[test]
fn a_new_invite_replaces_the_pairs_old_ticket() {
    let server = TestServer::start();
    let mut alice = register_and_join(server.addr(), "alice", 5000);
    let mut bob = register_and_join(server.addr(), "bob", 5001);
    let first = invite(&mut alice, "bob");
    let second = invite(&mut alice, "bob");
    assert_ne!(first, second);
    assert_eq!(
        bob.ask(&format!("CHECK {first}")),
        "ERR BAD_TICKET that ticket is unknown, used, expired or not for you"
    );
    assert_eq!(bob.ask(&format!("CHECK {second}")), "OK TICKET alice bob");
}

#[test]
fn nobody_invites_themselves() {
    let server = TestServer::start();
    let mut alice = register_and_join(server.addr(), "alice", 5000);
    assert_eq!(
        alice.ask("INVITE ALICE"),
        "ERR BAD_ARGS you cannot invite yourself"
    );
}

#[test]
fn the_unused_tickets_of_one_user_are_capped() {
    let server = TestServer::with_config(|config| config.max_invites_per_user = 2);
    let mut alice = register_and_join(server.addr(), "alice", 5000);
    let mut bob = register_and_join(server.addr(), "bob", 5001);
    let _carol = register_and_join(server.addr(), "carol", 5002);
    let _dave = register_and_join(server.addr(), "dave", 5003);
    let for_bob = invite(&mut alice, "bob");
    invite(&mut alice, "carol");
    assert_eq!(
        alice.ask("INVITE dave"),
        "ERR TOO_MANY_INVITES you hold 2 unused tickets already; wait for them to be used or to expire"
    );
    // Renewing a ticket at the cap is fine, and a used one frees its place.
    let for_bob = {
        let renewed = invite(&mut alice, "bob");
        assert_ne!(renewed, for_bob);
        renewed
    };
    assert_eq!(bob.ask(&format!("CHECK {for_bob}")), "OK TICKET alice bob");
    invite(&mut alice, "dave");
}
