//! Succession as data: numbered messages, credentials, coming back, and
//! handing the lobby over.

use super::*;

#[test]
fn messages_are_numbered_in_a_lobby_that_can_outlive_its_leader() {
    let mut lobby = Lobby::new(with_succession()).with(&["bob"]);
    lobby.check(
        1,
        line(1, "MSG hi"),
        &[
            "all but 1< MSG bob hi",
            "all< SEQ 1",
            r#"notice Msg { from: "bob", text: "hi" }"#,
        ],
    );
    lobby.check(
        1,
        LobbyEvent::Say("yes".into()),
        &["all< MSG alice yes", "all< SEQ 2"],
    );
}

#[test]
fn members_the_leader_can_reach_get_credentials() {
    let mut lobby = Lobby::new(with_succession());
    lobby.check(
        0,
        admit_from(1, "bob", 7001, BOB_KEY),
        &[
            "1< MEMBERS alice bob",
            &format!("1< CREDENTIAL {LOBBY_ID}"),
            "1< SEAT alice 7000",
            "1< SEAT bob 7001",
            "all but 1< JOINED bob",
            "all but 1< SEAT bob 7001",
            r#"notice Joined("bob")"#,
        ],
    );
    // Admitted by `Lobby::admit`, without a chat address: no credential.
    lobby.check(
        0,
        admit(2, "zed"),
        &[
            "2< MEMBERS alice bob zed",
            "2< SEAT alice 7000",
            "2< SEAT bob 7001",
            "all but 2< JOINED zed",
            r#"notice Joined("zed")"#,
        ],
    );
}

/// A lobby of bob and carol, who hold seats, and zed, who holds none,
/// where alice said "one" and then "two".
fn bob_zed_and_carol() -> Lobby {
    let mut lobby = Lobby::new(with_succession());
    lobby.given(0, admit_from(1, "bob", 7001, BOB_KEY));
    lobby.given(0, admit(2, "zed"));
    lobby.given(0, admit_from(3, "carol", 7002, CAROL_KEY));
    lobby.given(1, LobbyEvent::Say("one".into()));
    lobby.given(2, LobbyEvent::Say("two".into()));
    lobby
}

#[test]
fn a_seat_is_claimed_with_its_own_key_alone() {
    let mut lobby = bob_zed_and_carol();
    lobby.check_stranger(3, rejoin(4, "bob", CAROL_KEY, 0));
    lobby.check_stranger(3, rejoin(4, "zed", BOB_KEY, 0));
    lobby.check_stranger(3, rejoin(4, "alice", LEADER_KEY, 0));
    // The right name with a stranger's key, and a claim that proved no key
    // at all (a bare `REJOIN` in plain text), are strangers.
    lobby.check_stranger(3, rejoin(4, "bob", STRANGER_KEY, 0));
    let claim = Rejoin {
        lobby: LOBBY_ID.into(),
        name: "bob".into(),
        seq: 0,
        sig: None,
    };
    let proven = Proven::Nothing;
    lobby.check_stranger(
        3,
        LobbyEvent::Rejoin {
            id: 4,
            claim,
            proven,
        },
    );
}

#[test]
fn a_member_comes_back_on_a_new_connection_with_what_it_missed() {
    let mut lobby = bob_zed_and_carol();
    // A stranger's claim to his seat takes nothing from him.
    lobby.check_stranger(3, rejoin(4, "bob", STRANGER_KEY, 0));
    // Bob comes back on a new connection, having only message 1; his old
    // one closes without a word to the others, who see only his new seat.
    lobby.check(
        3,
        rejoin(5, "BOB", BOB_KEY, 1),
        &[
            "drop 1 Replaced",
            "5< MEMBERS alice zed carol bob",
            "5< SEAT alice 7000",
            "5< SEAT carol 7002",
            "5< SEAT bob 7001",
            "5< HISTORY 2026-12-03T07:30:07Z alice two",
            "5< SEQ 2",
            "all but 5< SEAT bob 7001",
        ],
    );
    assert_eq!(lobby.state.names(), ["alice", "zed", "carol", "bob"]);
}

#[test]
fn a_member_whose_connection_broke_may_come_back_for_a_while() {
    let mut config = with_succession();
    config.silence_timeout = Duration::from_secs(30);
    let mut lobby = Lobby::new(config);
    lobby.given(0, admit_from(1, "bob", 7001, BOB_KEY));
    lobby.given(0, admit_from(2, "carol", 7002, CAROL_KEY));
    lobby.check(
        1,
        LobbyEvent::Gone(2),
        &[
            "drop 2 Lost",
            "all< LEFT carol LOST",
            r#"notice Lost("carol")"#,
        ],
    );
    lobby.check(
        2,
        rejoin(3, "carol", CAROL_KEY, 0),
        &[
            "3< MEMBERS alice bob carol",
            "3< SEAT alice 7000",
            "3< SEAT bob 7001",
            "3< SEAT carol 7002",
            "all but 3< JOINED carol",
            "all but 3< SEAT carol 7002",
            r#"notice Joined("carol")"#,
        ],
    );
    // Bob leaves for good: his seat goes with him.
    lobby.given(3, line(1, "LEAVE"));
    lobby.check_stranger(4, rejoin(4, "bob", BOB_KEY, 0));
    // Carol's connection breaks again; once the silence timeout has passed
    // her seat is forgotten.
    lobby.given(5, LobbyEvent::Gone(3));
    lobby.given(35, LobbyEvent::Tick);
    lobby.check_stranger(35, rejoin(5, "carol", CAROL_KEY, 0));
}

/// A lobby whose members bob and carol hold seats, where bob came back
/// after message 1, so that he counts as admitted last.
fn bob_came_back() -> Lobby {
    let mut lobby = Lobby::new(with_succession());
    lobby.given(0, admit_from(1, "bob", 7001, BOB_KEY));
    lobby.given(0, admit_from(2, "carol", 7002, CAROL_KEY));
    lobby.given(1, LobbyEvent::Say("one".into()));
    lobby.given(2, rejoin(3, "bob", BOB_KEY, 1));
    lobby
}

#[test]
fn a_handover_is_refused_to_a_stranger_and_to_the_leader_itself() {
    let mut lobby = bob_came_back();
    let (handed, effects) = lobby.state.handover(Some("dave"), lobby.at(3));
    assert_eq!(
        handed.unwrap_err(),
        "dave is not a member who can lead this lobby"
    );
    assert_eq!(effects, []);
    let (handed, _) = lobby.state.handover(Some("alice"), lobby.at(3));
    assert!(handed.is_err(), "not to the leader itself");
    assert_eq!(
        lobby.state.farewell(CloseReason::LeaderLeft),
        Some(ToMember::Closed(CloseReason::LeaderLeft))
    );
}

#[test]
fn a_handover_goes_to_the_member_admitted_earliest() {
    let mut lobby = bob_came_back();
    let (handed, effects) = lobby.state.handover(None, lobby.at(3));
    let handed = handed.unwrap();
    assert_eq!(shown(&effects), ["all< HANDOVER carol"]);
    assert_eq!(handed.to.name, "carol");
    assert_eq!(handed.said.len(), 1);
    let order: Vec<&str> = handed
        .roster
        .seats()
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(order, ["carol", "alice", "bob"]);
    assert_eq!(handed.roster.seats()[1].key, peer_key(LEADER_KEY));
    assert_eq!(
        lobby.state.farewell(CloseReason::LeaderLeft),
        None,
        "no CLOSED after it"
    );
}

#[test]
fn a_lobby_without_succession_cannot_be_handed_on() {
    let mut plain = Lobby::new(config()).with(&["bob"]);
    let (handed, effects) = plain.state.handover(None, plain.at(1));
    assert_eq!(handed.unwrap_err(), "this lobby cannot be handed on");
    assert_eq!(effects, []);
}

#[test]
fn a_leader_that_leaves_hands_the_lobby_on_and_says_it_left() {
    let mut lobby = bob_came_back();
    let (to, effects) = lobby.state.leave(lobby.at(3));
    assert_eq!(to.as_deref(), Some("carol"));
    assert_eq!(
        shown(&effects),
        ["all< LEFT alice LEFT", "all< HANDOVER carol"]
    );
    assert_eq!(
        lobby.state.farewell(CloseReason::LeaderLeft),
        None,
        "no CLOSED after it"
    );
}

#[test]
fn a_leader_that_leaves_with_nobody_to_lead_ends_the_lobby() {
    let closed = Some(ToMember::Closed(CloseReason::LeaderLeft));
    // Zed holds no seat, so he cannot lead.
    let mut lobby = Lobby::new(with_succession());
    lobby.given(0, admit(1, "zed"));
    let (to, effects) = lobby.state.leave(lobby.at(1));
    assert_eq!((to, effects), (None, Vec::new()));
    assert_eq!(lobby.state.farewell(CloseReason::LeaderLeft), closed);
    // A leader alone just leaves.
    let mut alone = Lobby::new(with_succession());
    let (to, effects) = alone.state.leave(alone.at(1));
    assert_eq!((to, effects), (None, Vec::new()));
    assert_eq!(alone.state.farewell(CloseReason::LeaderLeft), closed);
    // A lobby that cannot outlive its leader ends with it.
    let mut plain = Lobby::new(config()).with(&["bob"]);
    let (to, effects) = plain.state.leave(plain.at(1));
    assert_eq!((to, effects), (None, Vec::new()));
    assert_eq!(plain.state.farewell(CloseReason::LeaderLeft), closed);
}
