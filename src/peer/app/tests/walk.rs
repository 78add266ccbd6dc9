//! A member whose leader is lost, as data: the walk of the roster is a
//! `Start(Worker::Rejoiner ..)`, and what it found comes back as an event.

use std::sync::Arc;

use crate::crypto::Identity;
use crate::wire::{Succession, ToMember};

use crate::peer::app::App;
use crate::peer::effect::{ConnId, Incoming, LobbyAnswer};
use crate::peer::msg::{FromLeader, Rejoined};
use crate::peer::{LOBBY_HINT, MENU_PROMPT};

use super::{check, checked, describe, line, linked, now, request};

pub(super) fn from_leader(line: ToMember) -> Incoming {
    Incoming::Feed(FromLeader::Line(line))
}

/// A seat of the roster, at 10.0.0.`last`.
fn seat(name: &str, last: u8) -> Incoming {
    let identity = Identity::generate().expect("keys");
    from_leader(ToMember::Succession(Succession::Seat {
        name: name.into(),
        ip: [10, 0, 0, last].into(),
        port: 7000 + u16::from(last),
        key: identity.public(),
    }))
}

/// Bob, with keys, admitted to alice's lobby with a credential and a
/// roster of alice, bob and carol.
pub(super) fn member() -> App {
    let mut app = super::joined_with(Some(Arc::new(Identity::generate().expect("keys"))));
    let _ = app.handle(request(1, "alice", Some("T1")), now());
    let _ = app.handle(checked(1, "alice", "bob"), now());
    let _ = app.handle(line("ok"), now());
    let _ = app.handle(linked(1), now());
    let credential = Succession::Credential { lobby: "L1".into() };
    for input in [
        from_leader(ToMember::Members(vec!["alice".into(), "bob".into()])),
        from_leader(ToMember::Succession(credential)),
        seat("alice", 1),
        seat("bob", 2),
        seat("carol", 3),
    ] {
        let _ = app.handle(input, now());
    }
    app
}

fn lost() -> Incoming {
    Incoming::Feed(FromLeader::Gone { silent: false })
}

#[test]
fn a_member_that_loses_its_leader_starts_a_walk_of_the_roster() {
    let mut app = member();
    check(
        &mut app,
        vec![lost()],
        &[
            "Lost the connection to alice (lost the connection to the leader); finding the lobby again...",
            // The leader, then the members before us in admission order.
            "start: rejoiner of lobby 2 as bob in L1 walking alice, me",
        ],
    );
    assert_eq!(app.walk_in_use(), Some(2));
    let (_, effects) = app.handle(line("/leave"), now());
    let shown: Vec<String> = effects.iter().map(describe).collect();
    assert_eq!(
        shown,
        [
            "log 1: * you left the lobby",
            "notice: You left alice's lobby.",
            MENU_PROMPT,
        ]
    );
    // The driver stops a walk the stage no longer waits for.
    assert_eq!(app.walk_in_use(), None);
}

#[test]
fn a_walk_that_finds_us_first_takes_the_lobby_over() {
    let mut app = member();
    let _ = app.handle(lost(), now());
    let lead = Incoming::Rejoined {
        lobby: 2,
        outcome: Rejoined::Lead,
    };
    let started = Incoming::Lobby(LobbyAnswer::Started {
        lobby: 3,
        result: Ok(Some("L1".into())),
    });
    check(
        &mut app,
        vec![lead, line("hello"), started],
        &[
            "lobby 3: Resume",
            "log 1: * the leader was lost; you lead the lobby now",
            &format!("The leader was lost; you lead the lobby now. {LOBBY_HINT}"),
            "lobby 3: Say(hello)",
            "log 1: [bob] hello",
            "[bob] hello",
        ],
    );
    assert_eq!(app.lobby_in_use(), Some(3));
    assert_eq!(app.walk_in_use(), None);
}

#[test]
fn a_walk_that_finds_a_leader_links_to_it_by_number() {
    let mut app = member();
    let _ = app.handle(lost(), now());
    let taken_back = Incoming::Rejoined {
        lobby: 2,
        outcome: Rejoined::Admitted {
            leader: "carol".into(),
            conn: ConnId(4),
            first: ToMember::Members(vec!["carol".into(), "bob".into()]),
        },
    };
    check(
        &mut app,
        vec![taken_back],
        &["start: link of membership 3 to carol"],
    );
    let (_, effects) = app.handle(linked(3), now());
    let shown: Vec<String> = effects.iter().map(describe).collect();
    assert_eq!(
        shown[..2],
        [
            "log 1: * the leader was lost; carol leads the lobby now",
            "The leader was lost; carol leads the lobby now.",
        ]
    );
    assert_eq!(app.link_in_use(), Some(3));
    check(
        &mut app,
        vec![line("hi")],
        &["log 1: [bob] hi", "[bob] hi", "to leader 3: MSG hi"],
    );
}
