//! A member's side of the core, as data: what it asks the leader and the
//! registry, what it logs, and what it says of keys.

use super::*;

/// A core joined as bob, asked into alice's lobby by a request the
/// registry vouched for, and at her accept prompt.
pub(super) fn asked_by_alice() -> App {
    let mut app = joined();
    let _ = app.handle(request(1, "alice", Some("T1")), now());
    let _ = app.handle(checked(1, "alice", "bob"), now());
    app
}

/// A core that accepted alice's request and whose link to her is up.
fn member_of_alice() -> App {
    let mut app = asked_by_alice();
    let _ = app.handle(line("ok"), now());
    let _ = app.handle(linked(1), now());
    app
}

#[test]
fn an_accepted_request_is_answered_and_joins_the_lobby() {
    let mut app = asked_by_alice();
    check(
        &mut app,
        vec![line("ok"), linked(1)],
        &[
            "answer 1: Accept { membership: 1 }",
            "notice: Joining alice's lobby...",
        ],
    );
}

#[test]
fn a_member_asks_the_leader_and_the_registry() {
    let mut app = member_of_alice();
    let not_found = Refused::Err(ErrorCode::NotFound, "no such user".into());
    check(
        &mut app,
        vec![
            line("/kick carol"),
            line("/handover"),
            line("/list"),
            line("/search dave"),
            reply(RegistryReply::Search {
                name: "dave".into(),
                asker: Asker::Lobby,
                result: Err(not_found),
            }),
            line("/invite dave"),
            line("/msg carol hi there"),
            line("/msg bob hi"),
            line("/leave"),
        ],
        &[
            "Only the leader can remove members.",
            "Only the leader can hand the lobby on.",
            "registry: List(Lobby)",
            "registry: Search(dave, Lobby)",
            "There is no user called dave.",
            "to leader 1: INVITE dave",
            "Asked alice to invite dave.",
            "[you -> carol] hi there (not sealed: carol has no key here; the leader can read it)",
            "to leader 1: PM carol hi there",
            "That is you.",
            "to leader 1: LEAVE",
            "notice: You left alice's lobby.",
            MENU_PROMPT,
        ],
    );
}

/// A line from the leader of the current membership.
fn from_leader(line: ToMember) -> Incoming {
    Incoming::Feed(FromLeader::Line(line))
}

#[test]
fn an_admitted_member_logs_what_it_hears_and_says_until_the_lobby_ends() {
    let mut app = member_of_alice();
    let members = format!("notice: You are in alice's lobby with: alice, bob. {LOBBY_HINT}");
    check(
        &mut app,
        vec![
            from_leader(ToMember::Members(vec!["alice".into(), "bob".into()])),
            from_leader(ToMember::Msg {
                from: "alice".into(),
                text: "hi".into(),
            }),
            line("hello"),
            from_leader(ToMember::Joined("carol".into())),
            line("/who"),
            from_leader(ToMember::Closed(CloseReason::LeaderLeft)),
        ],
        &[
            "open log 1: bob in alice's",
            "log 1: * joined the lobby of alice",
            "log 1: * members: alice bob",
            &members,
            "log 1: [alice] hi",
            "chat: [alice] hi",
            "log 1: [bob] hello",
            "[bob] hello",
            "to leader 1: MSG hello",
            "log 1: * carol joined",
            "notice: Peer ('carol') joined the lobby",
            "Members: alice, bob, carol",
            "log 1: * lobby ended: the leader left",
            "notice: The lobby has ended (the leader left).",
            MENU_PROMPT,
        ],
    );
    assert_eq!(app.log_in_use(), None);
}

/// The member list is known once the leader sent it: a `/msg` to a name
/// not on it is refused at once, neither shown as sent nor logged.
#[test]
fn a_private_message_to_someone_not_in_the_lobby_is_refused_and_not_logged() {
    let mut app = member_of_alice();
    let _ = app.handle(
        from_leader(ToMember::Members(vec!["alice".into(), "bob".into()])),
        now(),
    );
    check(
        &mut app,
        vec![line("/msg nobody hi"), line("/msg ALICE hi")],
        &[
            "Not sent: nobody is not in this lobby (/who shows who is).",
            "log 1: [you -> ALICE] hi (not sealed: ALICE has no key here; the leader can read it)",
            "[you -> ALICE] hi (not sealed: ALICE has no key here; the leader can read it)",
            "to leader 1: PM ALICE hi",
        ],
    );
}

/// Logged out by a join elsewhere while in a lobby: the lobby goes on,
/// the user is told what to do when it ends (not to type '2', which would
/// be a message), and leaving it shows the first menu.
#[test]
fn a_member_logged_out_elsewhere_stays_until_it_leaves_then_sees_the_first_menu() {
    let mut app = member_of_alice();
    let _ = app.handle(
        from_leader(ToMember::Members(vec!["alice".into(), "bob".into()])),
        now(),
    );
    check(
        &mut app,
        vec![
            Incoming::Link(LinkNotice::Replaced),
            line("/leave"),
            line("2"),
        ],
        &[
            "You (bob) joined from somewhere else, so the registry logged this peer out. This lobby goes on; when you leave it, join again from the first menu.",
            "to leader 1: LEAVE",
            "log 1: * you left the lobby",
            "notice: You left alice's lobby.",
            WELCOME_PROMPT,
            "Please enter your user name and password to join.",
            "User name:",
        ],
    );
}

/// The lobby's entry says one line about commands; `/help` says them all,
/// and a command one slip from a known one gets that one's usage.
#[test]
fn help_is_one_line_until_asked_for_and_a_slip_gets_its_usage() {
    let mut app = member_of_alice();
    let _ = app.handle(
        from_leader(ToMember::Members(vec!["alice".into(), "bob".into()])),
        now(),
    );
    let (_, effects) = app.handle(line("/help"), now());
    let shown = format!("{effects:?}");
    assert!(shown.contains(&LOBBY_HELP[..40]), "{shown}");
    check(
        &mut app,
        vec![line("/mgs alice hi"), line("/dance"), line("/who me")],
        &[
            "Unknown command /mgs alice hi. Usage: /msg <name> <text>.",
            "Unknown command /dance. Type /help for commands.",
            "Usage: /who, /members, /leave and /list take no arguments. Type /help for more.",
        ],
    );
}

#[test]
fn a_chat_log_that_fails_is_told_once_and_the_lobby_goes_on() {
    let mut app = asked_by_alice();
    let _ = app.handle(line("ok"), now());
    let _ = app.handle(from_leader(ToMember::Members(vec!["alice".into()])), now());
    let failed = Incoming::LogFailed(LogFailure::Write {
        path: "logs/bob/x.log".into(),
        why: "disk full".into(),
    });
    check(
        &mut app,
        vec![failed],
        &["notice: Cannot write the chat log logs/bob/x.log: disk full"],
    );
}

#[test]
fn a_ticket_for_a_lobby_that_has_ended_is_dropped() {
    let mut app = joined();
    let late = reply(RegistryReply::Ticket {
        lobby: 7,
        name: "carol".into(),
        by: None,
        result: Err(NotInvited::Offline),
    });
    check(&mut app, vec![late], &[]);
}

/// `/verify` is a command at the menu and in a lobby, never at a password
/// prompt.
#[test]
fn verify_asks_the_driver_at_the_menu_and_in_a_lobby() {
    let mut app = app();
    check(
        &mut app,
        vec![line("2"), line("bob"), line("/verify")],
        &[
            "Please enter your user name and password to join.",
            "User name:",
            "Password:",
            "registry: Join(bob, <password>, 7000)",
        ],
    );
    let mut app = joined();
    check(
        &mut app,
        vec![
            line("/verify alice"),
            line("/verify"),
            line("/verify a b"),
            line("/verifyx"),
        ],
        &[
            "verify: alice",
            "Usage: /verify <name>.",
            "Usage: /verify <name>.",
            "Please type 1, 2 or 3 (or /contacts, /remove <name>, /away [text], /back, /quit).",
            MENU_PROMPT,
        ],
    );
}

/// A changed key is said at once, whatever the stage.
#[test]
fn a_changed_key_is_said_loudly() {
    let key = |seed: u8| crate::crypto::PeerKey {
        identity: crate::crypto::IdentityKey::from_bytes([seed; 32]),
        seal: crate::crypto::SealKey::from_bytes([seed; 32]),
    };
    let change = KeyChange {
        name: "alice".into(),
        pinned: key(1),
        presented: key(2),
    };
    let warning = crate::peer::keys::change_warning(&change);
    assert!(warning.contains("alice's key has changed"), "{warning}");
    let mut app = joined();
    check(
        &mut app,
        vec![Incoming::Keys(KeyNews::Changed(change))],
        &[warning.as_str()],
    );
}

/// The leader's `HISTORY` line for `text` said by alice at `at`, and how
/// it is logged and shown.
fn replayed(at: chrono::DateTime<chrono::Utc>, text: &str) -> (Incoming, String, String) {
    let local = at.with_timezone(&chrono::Local);
    let line = from_leader(ToMember::History {
        at,
        from: "alice".into(),
        text: text.into(),
    });
    let logged = format!(
        "log 1: * history, said {}: [alice] {text}",
        local.format("%Y-%m-%d %H:%M:%S")
    );
    (
        line,
        logged,
        format!("{} [alice] {text}", local.format("%H:%M")),
    )
}

#[test]
fn the_replayed_messages_end_before_the_users_own_line_and_before_the_lobby_ends() {
    let mut app = member_of_alice();
    let members = ToMember::Members(vec!["alice".into(), "bob".into()]);
    let _ = app.handle(from_leader(members), now());
    let at = chrono::Utc::now();
    let (m1, m1_logged, m1_shown) = replayed(at, "m1");
    check(
        &mut app,
        vec![m1, from_leader(ToMember::Hello), line("hello")],
        &[
            "notice: --- earlier in this lobby ---",
            &m1_logged,
            &m1_shown,
            "notice: --- end of earlier messages ---",
            "log 1: [bob] hello",
            "[bob] hello",
            "to leader 1: MSG hello",
        ],
    );
    // Said once: a live line after the user's is just that.
    let live = ToMember::Msg {
        from: "alice".into(),
        text: "live".into(),
    };
    check(
        &mut app,
        vec![from_leader(live)],
        &["log 1: [alice] live", "chat: [alice] live"],
    );
    let (m2, m2_logged, m2_shown) = replayed(at, "m2");
    check(
        &mut app,
        vec![m2, from_leader(ToMember::Closed(CloseReason::LeaderLeft))],
        &[
            "notice: --- earlier in this lobby ---",
            &m2_logged,
            &m2_shown,
            "notice: --- end of earlier messages ---",
            "log 1: * lobby ended: the leader left",
            "notice: The lobby has ended (the leader left).",
            MENU_PROMPT,
        ],
    );
}

#[test]
fn a_line_begun_before_the_question_changed_is_shown_back_and_not_used() {
    // Typed in a lobby that ends: not a menu answer.
    let mut app = member_of_alice();
    let members = ToMember::Members(vec!["alice".into(), "bob".into()]);
    let _ = app.handle(from_leader(members), now());
    let not_used = |text: &str| {
        format!(
            "Not used: \"{text}\" was typed before the question above, so it is not taken as its answer. Type it again if you meant it."
        )
    };
    check(
        &mut app,
        vec![
            from_leader(ToMember::Closed(CloseReason::LeaderLeft)),
            Incoming::Stale("1".into()),
            Incoming::Stale(" ".into()),
        ],
        &[
            "log 1: * lobby ended: the leader left",
            "notice: The lobby has ended (the leader left).",
            MENU_PROMPT,
            &not_used("1"),
            MENU_PROMPT,
        ],
    );
    // Logged in, no password can follow: what was typed after is kept.
    assert_eq!(app.want(), Some(Want::Line));
    // A name typed for a search when a chat request came: not its answer,
    // and the request is still asked.
    check(
        &mut app,
        vec![
            line("2"),
            request(2, "alice", Some("T2")),
            checked(2, "alice", "bob"),
            Incoming::Stale("carol".into()),
            line("no"),
        ],
        &[
            "User name to search:",
            "registry: Check(2, alice, T2)",
            ACCEPT_PROMPT,
            "You have 30 seconds to answer.",
            &not_used("carol"),
            ACCEPT_PROMPT,
            "answer 2: Reject",
            "Rejected the chat request from 'alice'.",
            "User name to search:",
        ],
    );
}

#[test]
fn a_message_that_names_the_user_is_a_mention() {
    let mut app = member_of_alice();
    let members = ToMember::Members(vec!["alice".into(), "bob".into()]);
    let _ = app.handle(from_leader(members), now());
    let said = |text: &str| {
        from_leader(ToMember::Msg {
            from: "alice".into(),
            text: text.into(),
        })
    };
    let (_, effects) = app.handle(said("hi Bob!"), now());
    let mention = ScreenLine::Mention {
        from: "alice".into(),
        text: "hi Bob!".into(),
    };
    assert!(
        matches!(&effects[1], Effect::Chat(line) if *line == mention),
        "{effects:?}"
    );
    let (_, effects) = app.handle(said("bobcat"), now());
    assert!(
        matches!(&effects[1], Effect::Chat(ScreenLine::Chat { .. })),
        "{effects:?}"
    );
    // Our own line never rings for us.
    let (_, effects) = app.handle(line("I am bob"), now());
    assert!(
        matches!(&effects[1], Effect::Show(ScreenLine::Chat { .. })),
        "{effects:?}"
    );
}

/// `/away` at the menu tells the registry; once admitted, the member tells
/// its leader itself, hears who else is away, shows it in `/who`, and
/// `/away` alone while away is back, to the leader and the registry.
#[test]
fn a_member_away_tells_the_registry_and_its_leader() {
    let mut app = joined();
    check(
        &mut app,
        vec![line("/away lunch")],
        &[
            "notice: You are marked away: lunch.",
            "registry: Away(Some(\"lunch\"))",
            MENU_PROMPT,
        ],
    );
    assert_eq!(app.away(), Some("lunch"));
    let _ = app.handle(request(1, "alice", Some("T1")), now());
    let _ = app.handle(checked(1, "alice", "bob"), now());
    let _ = app.handle(line("ok"), now());
    let _ = app.handle(linked(1), now());
    let members = format!("notice: You are in alice's lobby with: alice, bob, carol. {LOBBY_HINT}");
    check(
        &mut app,
        vec![
            from_leader(ToMember::Members(vec![
                "alice".into(),
                "bob".into(),
                "carol".into(),
            ])),
            from_leader(ToMember::Away {
                name: "carol".into(),
                text: "on the phone".into(),
            }),
            line("/who"),
            from_leader(ToMember::Back("carol".into())),
            // Back from someone not away is no news.
            from_leader(ToMember::Back("alice".into())),
            line("/away"),
            line("/who"),
        ],
        &[
            "open log 1: bob in alice's",
            "log 1: * joined the lobby of alice",
            "log 1: * members: alice bob carol",
            &members,
            "to leader 1: AWAY lunch",
            "log 1: * carol is away: on the phone",
            "notice: carol is away: on the phone",
            "Members: alice, bob (away: lunch), carol (away: on the phone)",
            "log 1: * carol is back",
            "notice: carol is back",
            "notice: You are back.",
            "registry: Away(None)",
            "to leader 1: BACK",
            "Members: alice, bob, carol",
        ],
    );
    assert_eq!(app.away(), None);
    // Admitted again (a rejoin, a new leader): having told this lobby it
    // was away, the member says it is back, in case its /back was lost;
    // once only.
    let again = || {
        from_leader(ToMember::Members(vec![
            "alice".into(),
            "bob".into(),
            "carol".into(),
        ]))
    };
    let sent = |app: &mut App, input| {
        let (_, effects) = app.handle(input, now());
        effects
            .iter()
            .map(describe)
            .filter(|line| line.starts_with("to leader"))
            .collect::<Vec<_>>()
    };
    assert_eq!(sent(&mut app, again()), ["to leader 1: BACK"]);
    assert!(sent(&mut app, again()).is_empty());
    check(
        &mut app,
        vec![line(&format!("/away {}", "x".repeat(121)))],
        &["Not marked away: an away text is at most 120 bytes."],
    );
}
