//! Heartbeats, silence, drops for what a connection did, the contacts a
//! lobby was given, and a flooding member, as data.

use super::*;

#[test]
fn quiet_members_hear_hello_and_silent_ones_are_dropped() {
    let mut config = config();
    config.hello_interval = Duration::from_secs(10);
    config.silence_timeout = Duration::from_secs(30);
    let mut lobby = Lobby::new(config).with(&["bob", "carol"]);
    lobby.check(5, LobbyEvent::Tick, &[]);
    lobby.check(8, line(1, "HELLO"), &[]);
    lobby.check(10, LobbyEvent::Tick, &["1< HELLO", "2< HELLO"]);
    lobby.check(19, LobbyEvent::Tick, &[]);
    // Something sent to everyone counts as a sign of life from the leader.
    lobby.check(19, LobbyEvent::Say("hi".into()), &["all< MSG alice hi"]);
    lobby.check(28, LobbyEvent::Tick, &[]);
    lobby.check(
        30,
        LobbyEvent::Tick,
        &[
            "1< HELLO",
            "drop 2 Silent",
            "all< LEFT carol SILENT",
            r#"notice Silent("carol")"#,
        ],
    );
    lobby.check(37, LobbyEvent::Tick, &[]);
    lobby.check(
        38,
        LobbyEvent::Tick,
        &[
            "drop 1 Silent",
            "all< LEFT bob SILENT",
            r#"notice Silent("bob")"#,
        ],
    );
}

/// A member's heartbeat and silence count from its admission, not from the
/// lobby's last event before it: carol, admitted at 100 s after a quiet
/// spell since 50 s, hears no `HELLO` before 110 s and is not silent
/// before 130 s.
#[test]
fn a_late_newcomer_is_timed_from_its_admission() {
    let mut config = with_succession();
    config.hello_interval = Duration::from_secs(10);
    config.silence_timeout = Duration::from_secs(30);
    let mut lobby = Lobby::new(config);
    lobby.check(
        50,
        LobbyEvent::Say("anyone?".into()),
        &["all< MSG alice anyone?", "all< SEQ 1"],
    );
    lobby.given(100, admit_from(1, "carol", 7002, CAROL_KEY));
    lobby.check(105, LobbyEvent::Tick, &[]);
    lobby.check(109, LobbyEvent::Tick, &[]);
    lobby.check(110, LobbyEvent::Tick, &["1< HELLO"]);
    lobby.check(120, LobbyEvent::Tick, &["1< HELLO"]);
    lobby.check(129, LobbyEvent::Tick, &[]);
    lobby.check(
        130,
        LobbyEvent::Tick,
        &[
            "drop 1 Silent",
            "all< LEFT carol SILENT",
            r#"notice Silent("carol")"#,
        ],
    );
}

#[test]
fn members_are_dropped_for_what_their_connection_did() {
    let mut lobby = Lobby::new(config()).with(&["bob", "carol", "dave"]);
    lobby.check(
        1,
        LobbyEvent::TooLong(1),
        &[
            "1< ERR LINE_TOO_LONG line is longer than 1024 bytes",
            "drop 1 TooLong",
            "all< LEFT bob TOO_LONG",
            r#"notice TooLong("bob")"#,
        ],
    );
    lobby.check(
        1,
        LobbyEvent::Overflowed(2),
        &[
            "drop 2 Dropped",
            "all< LEFT carol SLOW",
            r#"notice Dropped("carol")"#,
        ],
    );
    lobby.check(
        1,
        LobbyEvent::Gone(3),
        &[
            "drop 3 Lost",
            "all< LEFT dave LOST",
            r#"notice Lost("dave")"#,
        ],
    );
    lobby.check(1, LobbyEvent::Overflowed(3), &[]);
    assert_eq!(lobby.state.names(), ["alice"]);
}

#[test]
fn the_lobby_knows_the_contacts_it_was_given() {
    let mut lobby = Lobby::new(config());
    lobby.given(0, admit_from(1, "bob", 7001, BOB_KEY));
    lobby.given(0, admit(2, "carol"));
    let contacts = lobby.state.contacts();
    let known: Vec<(&str, u16)> = contacts.iter().map(|c| (c.name.as_str(), c.port)).collect();
    assert_eq!(known, [("bob", 7001)]);
}

/// A member's flood of every line it may send leaves the lobby holding what
/// it held: the history at its limit, the same members, seats and none
/// away, a bounded number of effects per line, and at most `MAX_ASKS`
/// invite requests passed on to the leader's peer.
#[test]
fn a_flooding_member_grows_nothing_in_the_lobby() {
    let mut lobby = Lobby::new(with_succession());
    lobby.given(0, admit_from(1, "bob", 7001, BOB_KEY));
    lobby.given(0, admit_from(2, "carol", 7002, CAROL_KEY));
    let kinds = [
        "MSG hi",
        "PM carol hi",
        "PM alice hi",
        "PM nobody hi",
        "PM bob hi",
        "INVITE dave",
        "INVITE carol",
        "HELLO",
        "OK",
        "REJECT",
        "BUSY IN_CHAT",
        &format!("REJOIN {LOBBY_ID} bob 1"),
        "NONSENSE",
    ];
    for kind in kinds {
        flood_from_bob(&mut lobby, kind);
    }
    // Connections claiming a seat whose key they do not hold are turned
    // away and forgotten.
    for id in 100..100 + FLOOD {
        let effects = lobby
            .state
            .handle(rejoin(id, "carol", BOB_KEY, 0), lobby.at(2));
        assert_eq!(effects.len(), 2);
    }
    assert_eq!(lobby.state.history.said().len(), KEPT_FOR_RETURNS);
    assert_eq!(lobby.state.names(), ["alice", "bob", "carol"]);
    assert_eq!(lobby.state.roster.seats().len(), 3);
    assert!(lobby.state.away.is_empty());
    assert!(lobby.state.doomed.is_empty() && lobby.state.out.is_empty());
}

/// How many of each line a flooding member sends.
const FLOOD: u64 = 5_000;

/// Member 1, bob, sends `FLOOD` lines `kind`: each has a few effects at
/// most, and at most `MAX_ASKS` of them reach the leader's peer as asks.
#[track_caller]
fn flood_from_bob(lobby: &mut Lobby, kind: &str) {
    let passed_on = |e: &&LobbyEffect| matches!(e, LobbyEffect::Notice(Notice::InviteAsked { .. }));
    let mut asked = 0;
    for _ in 0..FLOOD {
        let effects = lobby.state.handle(line(1, kind), lobby.at(1));
        assert!(effects.len() <= 3, "{kind}: {effects:?}");
        asked += effects.iter().filter(passed_on).count();
    }
    assert!(asked <= MAX_ASKS as usize, "{kind}: {asked} asks passed on");
}
