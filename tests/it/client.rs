//! The typed registry client (`RegistryLink`) against a real registry: each
//! request returns what it asked for, or why not, never protocol lines.

use std::time::Duration;

use crossbeam_channel::unbounded;
use p2pchat::client::{LinkConfig, Refused, RegistryLink, RegistrySecurity, Vouched};
use p2pchat::crypto::Identity;
use p2pchat::trace::Trace;
use p2pchat::wire::{ErrorCode, KeyWord};

use crate::support::TestServer;

fn link(server: &TestServer) -> RegistryLink {
    let config = LinkConfig {
        addrs: vec![server.addr()],
        hello_interval: Duration::from_secs(10),
        retry_min: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        trace: Trace::off(),
        security: RegistrySecurity::Plaintext,
    };
    let (notices, _) = unbounded();
    RegistryLink::connect(config, notices).expect("the test registry is up")
}

#[track_caller]
fn refused_with<T: std::fmt::Debug>(result: Result<T, Refused>, expected: ErrorCode) {
    match result {
        Err(Refused::Err(code, _)) if code == expected => {}
        other => panic!("expected ERR {expected}, got {other:?}"),
    }
}

#[test]
fn each_request_returns_its_answer_or_why_not() {
    let server = TestServer::start();
    let alice = link(&server);
    let bob = link(&server);
    assert_eq!(alice.register("alice", "s3cret-pw").unwrap(), "alice");
    assert_eq!(bob.register("bob", "s3cret-pw").unwrap(), "bob");
    refused_with(alice.register("alice", "other-pw"), ErrorCode::NameTaken);
    refused_with(
        alice.join("alice", "wrong-pw", 5000),
        ErrorCode::BadCredentials,
    );

    let me = alice.join("alice", "s3cret-pw", 5000).unwrap();
    assert_eq!((me.name.as_str(), me.port), ("alice", 5000));
    assert!(me.ip.is_loopback(), "{}", me.ip);
    refused_with(alice.search("bob"), ErrorCode::Offline);
    refused_with(alice.search("nobody"), ErrorCode::NotFound);
    refused_with(alice.invite("bob"), ErrorCode::Offline);

    // Bob announces a key; the registry vouches for it wherever it tells
    // another peer about bob.
    let bob_key: KeyWord = Identity::generate()
        .unwrap()
        .public()
        .to_string()
        .parse()
        .unwrap();
    bob.join_with_key("bob", "s3cret-pw", 6000, Some(bob_key.clone()))
        .unwrap();
    let names: Vec<String> = alice.list().unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"alice".to_string()) && names.contains(&"bob".to_string()));
    assert_eq!(alice.search("bob").unwrap().port, 6000);
    assert_eq!(alice.search("bob").unwrap().key, Some(bob_key.clone()));
    let rows = alice.list().unwrap();
    let keys: Vec<Option<&KeyWord>> = rows.iter().map(|c| c.key.as_ref()).collect();
    assert!(
        keys.contains(&Some(&bob_key)) && keys.contains(&None),
        "{rows:?}"
    );

    let ticket = alice.invite("bob").unwrap();
    assert_eq!(
        bob.check(&ticket).unwrap(),
        Vouched {
            leader: "alice".into(),
            invitee: "bob".into(),
            leader_key: None,
        }
    );
    // A ticket of a leader with a key carries the leader's key.
    let ticket = bob.invite("alice").unwrap();
    assert_eq!(
        alice.check(&ticket).unwrap(),
        Vouched {
            leader: "bob".into(),
            invitee: "alice".into(),
            leader_key: Some(bob_key),
        }
    );
    // A key word that holds no key is refused before the password is
    // hashed.
    let text = Identity::generate().unwrap().public().to_string();
    let bent: KeyWord = format!("{}B{}", &text[..42], &text[43..]).parse().unwrap();
    let carol = link(&server);
    refused_with(
        carol.join_with_key("alice", "s3cret-pw", 5000, Some(bent)),
        ErrorCode::BadKey,
    );
    carol.close();
    refused_with(bob.check(&ticket), ErrorCode::BadTicket);
    alice.close();
    bob.close();
}
