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

    /// Handles `event` at `secs` and forgets its effects: a step on the way
    /// to what the test checks.
    fn given(&mut self, secs: u64, event: LobbyEvent) {
        self.state.handle(event, self.at(secs));
    }

    /// Checks that `claim`, a claim to a seat, is turned away at `secs` as
    /// a stranger's.
    #[track_caller]
    fn check_stranger(&mut self, secs: u64, claim: LobbyEvent) {
        let LobbyEvent::Rejoin { id, .. } = claim else {
            panic!("not a claim to a seat: {claim:?}");
        };
        let refused = format!("{id}< ERR BAD_CREDENTIALS not a member of this lobby");
        let dropped = format!("drop {id} NotAMember");
        self.check(secs, claim, &[&refused, &dropped]);
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
        &[
            "drop 2 Left",
            "all< LEFT carol LEFT",
            r#"notice Left("carol")"#,
        ],
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
            "all< LEFT carol KICKED",
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

mod liveness;
mod succession;

/// A member's `AWAY` and `BACK` are about itself: the name is its
/// connection's. Everyone else hears them, the leader's screen too, and a
/// newcomer learns who is away after `MEMBERS`; a member that leaves is
/// no longer away.
#[test]
fn away_is_relayed_and_told_to_newcomers() {
    let mut lobby = Lobby::new(config()).with(&["bob", "carol"]);
    lobby.check(
        1,
        line(1, "AWAY lunch"),
        &[
            "all but 1< AWAY bob lunch",
            r#"notice Away { name: "bob", text: "lunch" }"#,
        ],
    );
    lobby.check(
        1,
        LobbyEvent::LeaderAway(Some(String::new())),
        &["all< AWAY alice"],
    );
    lobby.check(
        2,
        admit(3, "dave"),
        &[
            "3< MEMBERS alice bob carol dave",
            "3< AWAY alice",
            "3< AWAY bob lunch",
            "all but 3< JOINED dave",
            r#"notice Joined("dave")"#,
        ],
    );
    lobby.check(
        3,
        line(1, "BACK"),
        &["all but 1< BACK bob", r#"notice Back("bob")"#],
    );
    // Back without being away changes nothing and tells nobody.
    lobby.check(3, line(2, "BACK"), &[]);
    lobby.check(3, LobbyEvent::LeaderAway(None), &["all< BACK alice"]);
    lobby.check(
        4,
        line(2, "AWAY gone fishing"),
        &[
            "all but 2< AWAY carol gone fishing",
            r#"notice Away { name: "carol", text: "gone fishing" }"#,
        ],
    );
    lobby.given(5, line(2, "LEAVE"));
    lobby.check(
        6,
        admit(4, "erin"),
        &[
            "4< MEMBERS alice bob dave erin",
            "all but 4< JOINED erin",
            r#"notice Joined("erin")"#,
        ],
    );
}

/// Each `AWAY` or `BACK` goes to everyone, so a member has as many per
/// window as invite requests; bad text is refused as any line is.
#[test]
fn away_changes_are_bounded() {
    let mut lobby = Lobby::new(config()).with(&["bob"]);
    for n in 0..MAX_ASKS {
        let line_ = if n % 2 == 0 { "AWAY x" } else { "BACK" };
        lobby.given(1, line(1, line_));
    }
    lobby.check(
        2,
        line(1, "AWAY again"),
        &["1< ERR TOO_MANY_ATTEMPTS at most 5 away changes a member per 60 seconds"],
    );
    let later = ASK_WINDOW.as_secs() + 2;
    lobby.check(
        later,
        line(1, "AWAY again"),
        &[
            "all but 1< AWAY bob again",
            r#"notice Away { name: "bob", text: "again" }"#,
        ],
    );
    lobby.check(
        later,
        line(1, &format!("AWAY {}", "x".repeat(121))),
        &["1< ERR TEXT_TOO_LONG an away text is at most 120 bytes"],
    );
}
