//! The lobby's rules as data: given these events at these times, these
//! effects. No socket, no thread, no clock but the one each test makes up.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::*;
use crate::lobby::InvitePolicy;
use crate::lobby::rules::{ASK_WINDOW, MAX_ASKS};

const LOBBY_ID: &str = "11111111111111111111111111111111";
/// Each seat's key, by a byte its key is made of: the rules compare keys,
/// they do not sign (`roster.rs` tests the proofs themselves).
const LEADER_KEY: u8 = 1;
const BOB_KEY: u8 = 2;
const CAROL_KEY: u8 = 3;
const STRANGER_KEY: u8 = 9;

fn peer_key(n: u8) -> PeerKey {
    PeerKey {
        identity: crate::crypto::IdentityKey::from_bytes([n; 32]),
        seal: crate::crypto::SealKey::from_bytes([n; 32]),
    }
}

/// A lobby's rules and the made-up clock its events are handled by.
struct Lobby {
    state: LobbyState,
    t0: Instant,
}

impl Lobby {
    fn new(config: LobbyConfig) -> Lobby {
        // The one clock reading: a base that every time in the test is
        // counted from.
        let t0 = Instant::now();
        let origin = Origin::New {
            lobby: LOBBY_ID.into(),
        };
        let state = LobbyState::new(config, Some(origin), at(t0, 0));
        Lobby { state, t0 }
    }

    fn at(&self, secs: u64) -> Now {
        at(self.t0, secs)
    }

    /// Handles `event` at `secs` and checks its effects, as `show` writes
    /// them.
    #[track_caller]
    fn check(&mut self, secs: u64, event: LobbyEvent, expected: &[&str]) {
        let effects = self.state.handle(event.clone(), self.at(secs));
        assert_eq!(shown(&effects), expected, "at {secs}s: {event:?}");
    }

    /// Admits members 1, 2, ... with these names, and forgets the effects.
    fn with(mut self, names: &[&str]) -> Lobby {
        for (id, name) in (1..).zip(names) {
            self.state.handle(admit(id, name), self.at(0));
        }
        self
    }
}

fn at(t0: Instant, secs: u64) -> Now {
    let utc: DateTime<Utc> = crate::wire::parse_stamp("2026-12-03T07:30:05Z").unwrap();
    Now {
        at: t0 + Duration::from_secs(secs),
        utc: utc + chrono::Duration::seconds(i64::try_from(secs).unwrap()),
    }
}

fn config() -> LobbyConfig {
    LobbyConfig::new("alice")
}

fn with_succession() -> LobbyConfig {
    let mut config = config();
    config.succession = Some(addr(7000));
    config.key = Some(peer_key(LEADER_KEY));
    config
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn admit(id: MemberId, name: &str) -> LobbyEvent {
    LobbyEvent::Admit {
        id,
        name: name.into(),
        chat_addr: None,
        key: None,
    }
}

/// A newcomer the leader can reach, with its key.
fn admit_from(id: MemberId, name: &str, port: u16, key: u8) -> LobbyEvent {
    LobbyEvent::Admit {
        id,
        name: name.into(),
        chat_addr: Some(addr(port)),
        key: Some(peer_key(key)),
    }
}

/// A line from member `id`, as it would arrive on the wire.
fn line(id: MemberId, text: &str) -> LobbyEvent {
    LobbyEvent::Line {
        id,
        line: text.parse(),
    }
}

/// A claim to `name`'s seat by a peer that proved the key made of `key`
/// (as a TLS handshake proves it).
fn rejoin(id: MemberId, name: &str, key: u8, seq: u64) -> LobbyEvent {
    let claim = Rejoin {
        lobby: LOBBY_ID.into(),
        name: name.into(),
        seq,
        sig: None,
    };
    let proven = Proven::Connection(peer_key(key).identity);
    LobbyEvent::Rejoin { id, claim, proven }
}

/// Effects as short lines: `2< LINE` for one member, `all< LINE` or
/// `all but 2< LINE` for everyone, `drop 2 Why`, `notice Notice`. A `SEAT`
/// is cut to its name and port, since its verifier is a hash.
fn shown(effects: &[LobbyEffect]) -> Vec<String> {
    let line = |line: &ToMember| match line {
        ToMember::Succession(Succession::Seat { name, port, .. }) => format!("SEAT {name} {port}"),
        other => other.to_string(),
    };
    let show = |effect: &LobbyEffect| match effect {
        LobbyEffect::ToMember(id, l) => format!("{id}< {}", line(l)),
        LobbyEffect::ToAll { line: l, except } => match except {
            None => format!("all< {}", line(l)),
            Some(id) => format!("all but {id}< {}", line(l)),
        },
        LobbyEffect::Drop(id, why) => format!("drop {id} {why:?}"),
        LobbyEffect::Notice(notice) => format!("notice {notice:?}"),
    };
    effects.iter().map(show).collect()
}

#[test]
fn newcomers_are_admitted_and_a_name_taken_is_not() {
    let mut lobby = Lobby::new(config());
    lobby.check(
        0,
        admit(1, "bob"),
        &[
            "1< MEMBERS alice bob",
            "all but 1< JOINED bob",
            r#"notice Joined("bob")"#,
        ],
    );
    lobby.check(
        0,
        admit(2, "carol"),
        &[
            "2< MEMBERS alice bob carol",
            "all but 2< JOINED carol",
            r#"notice Joined("carol")"#,
        ],
    );
    let duplicate = ["3< CLOSED DUPLICATE", "drop 3 Duplicate"];
    lobby.check(1, admit(3, "bob"), &duplicate);
    lobby.check(1, admit(3, "alice"), &duplicate);
    assert_eq!(lobby.state.names(), ["alice", "bob", "carol"]);
}

#[test]
fn messages_are_stamped_with_their_sender() {
    let mut lobby = Lobby::new(config()).with(&["bob", "carol"]);
    lobby.check(
        1,
        line(1, "MSG hi all"),
        &[
            "all but 1< MSG bob hi all",
            r#"notice Msg { from: "bob", text: "hi all" }"#,
        ],
    );
    lobby.check(
        1,
        LobbyEvent::Say("hello".into()),
        &["all< MSG alice hello"],
    );
    lobby.check(1, line(2, "HELLO"), &[]);
    lobby.check(
        1,
        line(2, "OK"),
        &["2< ERR BAD_ARGS not expected in a lobby"],
    );
    lobby.check(
        1,
        line(2, "MSG"),
        &["2< ERR BAD_ARGS a message needs some text"],
    );
    lobby.check(
        2,
        line(2, "LEAVE"),
        &["drop 2 Left", "all< LEFT carol", r#"notice Left("carol")"#],
    );
    // Lines still on their way from a member that has gone concern nobody.
    lobby.check(2, line(2, "MSG late"), &[]);
    lobby.check(2, LobbyEvent::Gone(2), &[]);
}

#[test]
fn private_messages_go_to_their_addressee_alone() {
    let mut lobby = Lobby::new(config()).with(&["bob", "carol"]);
    lobby.check(1, line(1, "PM Carol psst"), &["2< PM bob psst"]);
    lobby.check(
        1,
        line(1, "PM alice hi"),
        &[r#"notice Private { from: "bob", text: "hi" }"#],
    );
    lobby.check(
        1,
        line(1, "PM dave hi"),
        &["1< ERR NOT_IN_LOBBY dave is not in this lobby"],
    );
    lobby.check(
        1,
        line(1, "PM bob hi"),
        &["1< ERR BAD_ARGS a private message to yourself goes nowhere"],
    );
    let (told, effects) = lobby
        .state
        .tell("CAROL", PrivateText::Plain("x".into()), lobby.at(1));
    assert_eq!(told, Ok("carol".to_string()));
    assert_eq!(shown(&effects), ["2< PM alice x"]);
    let (told, effects) = lobby
        .state
        .tell("dave", PrivateText::Plain("x".into()), lobby.at(1));
    assert_eq!(told.map_err(|e| e.code), Err(ErrorCode::NotInLobby));
    assert_eq!(shown(&effects), Vec::<String>::new());
}

#[test]
fn a_kicked_member_hears_why_and_the_others_see_it_go() {
    let mut lobby = Lobby::new(config()).with(&["bob", "carol"]);
    let (kicked, effects) = lobby.state.kick("CAROL", Some("spam".into()), lobby.at(1));
    assert_eq!(kicked.as_deref(), Some("carol"));
    assert_eq!(
        shown(&effects),
        [
            "2< CLOSED KICKED spam",
            r#"drop 2 Kicked(Some("spam"))"#,
            "all< KICKED carol spam",
            "all< LEFT carol",
            r#"notice Kicked { name: "carol", reason: Some("spam") }"#,
        ]
    );
    let (kicked, effects) = lobby.state.kick("carol", None, lobby.at(1));
    assert_eq!((kicked, effects), (None, Vec::new()));
    assert_eq!(lobby.state.names(), ["alice", "bob"]);
}

#[test]
fn invite_requests_follow_the_policy_and_the_throttle() {
    let mut lobby = Lobby::new(config()).with(&["bob", "carol"]);
    lobby.check(
        1,
        line(1, "INVITE dave"),
        &[r#"notice InviteAsked { by: "bob", name: "dave" }"#],
    );
    lobby.check(
        1,
        line(1, "INVITE CAROL"),
        &["1< ERR ALREADY_IN_LOBBY carol is in this lobby already"],
    );
    for ask in 2..MAX_ASKS {
        lobby.check(
            1 + u64::from(ask),
            line(1, "INVITE carol"),
            &[&shown_already()],
        );
    }
    let too_many = "1< ERR TOO_MANY_INVITES at most 5 invite requests a member per 60 seconds";
    lobby.check(10, line(1, "INVITE dave"), &[too_many]);
    // Another member has its own count; a passed window wipes the slate.
    lobby.check(
        10,
        line(2, "INVITE erin"),
        &[r#"notice InviteAsked { by: "carol", name: "erin" }"#],
    );
    lobby.check(
        1 + ASK_WINDOW.as_secs(),
        line(1, "INVITE dave"),
        &[r#"notice InviteAsked { by: "bob", name: "dave" }"#],
    );

    let mut config = config();
    config.invites = InvitePolicy::Leader;
    let mut lobby = Lobby::new(config).with(&["bob"]);
    lobby.check(
        1,
        line(1, "INVITE dave"),
        &[
            r#"notice InviteDenied { by: "bob", name: "dave" }"#,
            "1< ERR LEADER_ONLY only the leader invites in this lobby; ask alice",
        ],
    );
}

fn shown_already() -> String {
    "1< ERR ALREADY_IN_LOBBY carol is in this lobby already".to_string()
}

#[test]
fn a_late_joiner_gets_the_last_messages() {
    let mut config = config();
    config.history = 2;
    let mut lobby = Lobby::new(config).with(&["bob"]);
    lobby
        .state
        .handle(LobbyEvent::Say("one".into()), lobby.at(1));
    lobby.state.handle(line(1, "MSG two"), lobby.at(2));
    lobby
        .state
        .handle(line(1, "PM alice never replayed"), lobby.at(3));
    lobby
        .state
        .handle(LobbyEvent::Say("three".into()), lobby.at(4));
    lobby.check(
        5,
        admit(2, "carol"),
        &[
            "2< MEMBERS alice bob carol",
            "2< HISTORY 2026-12-03T07:30:07Z bob two",
            "2< HISTORY 2026-12-03T07:30:09Z alice three",
            "all but 2< JOINED carol",
            r#"notice Joined("carol")"#,
        ],
    );
}

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
fn members_get_credentials_and_come_back_with_them_alone() {
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
    lobby
        .state
        .handle(admit_from(3, "carol", 7002, CAROL_KEY), lobby.at(0));
    lobby
        .state
        .handle(LobbyEvent::Say("one".into()), lobby.at(1));
    lobby
        .state
        .handle(LobbyEvent::Say("two".into()), lobby.at(2));

    let refused = [
        "4< ERR BAD_CREDENTIALS not a member of this lobby",
        "drop 4 NotAMember",
    ];
    lobby.check(3, rejoin(4, "bob", CAROL_KEY, 0), &refused);
    lobby.check(3, rejoin(4, "zed", BOB_KEY, 0), &refused);
    lobby.check(3, rejoin(4, "alice", LEADER_KEY, 0), &refused);
    // The right name with a stranger's key, and a claim that proved no key
    // at all (a bare `REJOIN` in plain text), are strangers.
    lobby.check(3, rejoin(4, "bob", STRANGER_KEY, 0), &refused);
    let unproven = LobbyEvent::Rejoin {
        id: 4,
        claim: Rejoin {
            lobby: LOBBY_ID.into(),
            name: "bob".into(),
            seq: 0,
            sig: None,
        },
        proven: Proven::Nothing,
    };
    lobby.check(3, unproven, &refused);

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
    lobby
        .state
        .handle(admit_from(1, "bob", 7001, BOB_KEY), lobby.at(0));
    lobby
        .state
        .handle(admit_from(2, "carol", 7002, CAROL_KEY), lobby.at(0));
    lobby.check(
        1,
        LobbyEvent::Gone(2),
        &["drop 2 Lost", "all< LEFT carol", r#"notice Left("carol")"#],
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
    lobby.state.handle(line(1, "LEAVE"), lobby.at(3));
    let refused = [
        "4< ERR BAD_CREDENTIALS not a member of this lobby",
        "drop 4 NotAMember",
    ];
    lobby.check(4, rejoin(4, "bob", BOB_KEY, 0), &refused);
    // Carol's connection breaks again; once the silence timeout has passed
    // her seat is forgotten.
    lobby.state.handle(LobbyEvent::Gone(3), lobby.at(5));
    lobby.state.handle(LobbyEvent::Tick, lobby.at(35));
    let refused = [
        "5< ERR BAD_CREDENTIALS not a member of this lobby",
        "drop 5 NotAMember",
    ];
    lobby.check(35, rejoin(5, "carol", CAROL_KEY, 0), &refused);
}

#[test]
fn a_handover_goes_to_the_member_admitted_earliest_or_the_one_named() {
    let mut lobby = Lobby::new(with_succession());
    lobby
        .state
        .handle(admit_from(1, "bob", 7001, BOB_KEY), lobby.at(0));
    lobby
        .state
        .handle(admit_from(2, "carol", 7002, CAROL_KEY), lobby.at(0));
    lobby
        .state
        .handle(LobbyEvent::Say("one".into()), lobby.at(1));
    // Bob came back, so he counts as admitted last.
    lobby
        .state
        .handle(rejoin(3, "bob", BOB_KEY, 1), lobby.at(2));

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

    let (handed, effects) = lobby.state.handover(None, lobby.at(3));
    let handed = handed.unwrap();
    assert_eq!(shown(&effects), ["all< HANDOVER carol"]);
    assert_eq!(handed.to.name, "carol");
    assert_eq!(handed.said.len(), 1);
    let order: Vec<&str> = handed
        .roster
        .seats
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(order, ["carol", "alice", "bob"]);
    assert_eq!(handed.roster.seats[1].key, peer_key(LEADER_KEY));
    assert_eq!(
        lobby.state.farewell(CloseReason::LeaderLeft),
        None,
        "no CLOSED after it"
    );

    let mut plain = Lobby::new(config()).with(&["bob"]);
    let (handed, effects) = plain.state.handover(None, plain.at(1));
    assert_eq!(handed.unwrap_err(), "this lobby cannot be handed on");
    assert_eq!(effects, []);
}

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
            "all< LEFT carol",
            r#"notice Silent("carol")"#,
        ],
    );
    lobby.check(37, LobbyEvent::Tick, &[]);
    lobby.check(
        38,
        LobbyEvent::Tick,
        &["drop 1 Silent", "all< LEFT bob", r#"notice Silent("bob")"#],
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
            "all< LEFT bob",
            r#"notice TooLong("bob")"#,
        ],
    );
    lobby.check(
        1,
        LobbyEvent::Overflowed(2),
        &[
            "drop 2 Dropped",
            "all< LEFT carol",
            r#"notice Dropped("carol")"#,
        ],
    );
    lobby.check(
        1,
        LobbyEvent::Gone(3),
        &["drop 3 Lost", "all< LEFT dave", r#"notice Left("dave")"#],
    );
    lobby.check(1, LobbyEvent::Overflowed(3), &[]);
    assert_eq!(lobby.state.names(), ["alice"]);
}

#[test]
fn the_lobby_knows_the_contacts_it_was_given() {
    let mut lobby = Lobby::new(config());
    lobby
        .state
        .handle(admit_from(1, "bob", 7001, BOB_KEY), lobby.at(0));
    lobby.state.handle(admit(2, "carol"), lobby.at(0));
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
    const FLOOD: u64 = 5_000;
    let mut lobby = Lobby::new(with_succession());
    lobby
        .state
        .handle(admit_from(1, "bob", 7001, BOB_KEY), lobby.at(0));
    lobby
        .state
        .handle(admit_from(2, "carol", 7002, CAROL_KEY), lobby.at(0));
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
        let mut asked = 0;
        for _ in 0..FLOOD {
            let effects = lobby.state.handle(line(1, kind), lobby.at(1));
            assert!(effects.len() <= 3, "{kind}: {effects:?}");
            let passed_on =
                |e: &&LobbyEffect| matches!(e, LobbyEffect::Notice(Notice::InviteAsked { .. }));
            asked += effects.iter().filter(passed_on).count();
        }
        assert!(asked <= MAX_ASKS as usize, "{kind}: {asked} asks passed on");
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
    assert_eq!(lobby.state.roster.seats.len(), 3);
    assert!(lobby.state.away.is_empty());
    assert!(lobby.state.doomed.is_empty() && lobby.state.out.is_empty());
}
