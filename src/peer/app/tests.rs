//! The app's core tested as data: inputs in, effects out, with no socket,
//! no thread and no clock. Each test is a list of `check` calls: what goes
//! in, and every effect that comes out, in order.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::client::{ClientError, LinkNotice, Refused, Vouched};
use crate::crypto::Identity;
use crate::lobby::roster::Candidate;
use crate::screen::ScreenLine;
use crate::wire::{AttemptLimit, CloseReason, Contact, ErrorCode, Reply, ToMember};

use crate::peer::app::App;
use crate::peer::effect::{ChatRequest, Effect, Incoming, LogFailure, Now, Walk, Worker};
use crate::peer::msg::{Asker, FromLeader, KeyChange, KeyNews, NotInvited, RegistryReply};
use crate::peer::{
    ADD_PROMPT, LOBBY_HELP, LOBBY_HINT, MENU_PROMPT, PeerConfig, WELCOME_PROMPT, Want,
};

const ACCEPT_PROMPT: &str = "Chat request from 'alice'. Accept? ['OK', 'REJECT']";

pub(super) fn now() -> Now {
    Now {
        at: Instant::now(),
        utc: chrono::Utc::now(),
    }
}

fn app() -> App {
    app_with(None)
}

/// A core whose peer has keys `identity`, or none.
fn app_with(identity: Option<Arc<Identity>>) -> App {
    let server: SocketAddr = "127.0.0.1:7777".parse().unwrap();
    let mut config = PeerConfig::new(server);
    config.identity = identity;
    App::new(config, 7000, false, now())
}

fn contact(name: &str, last: u8) -> Contact {
    Contact {
        name: name.into(),
        ip: [10, 0, 0, last].into(),
        port: 7000 + u16::from(last),
        key: None,
        away: None,
    }
}

pub(super) fn line(text: &str) -> Incoming {
    Incoming::Line(text.into())
}

fn reply(reply: RegistryReply) -> Incoming {
    Incoming::Registry(reply)
}

/// Chat request `request` from `from`.
fn request(request: u64, from: &str, ticket: Option<&str>) -> Incoming {
    Incoming::Request(ChatRequest {
        request,
        from: from.into(),
        ticket: ticket.map(str::to_string),
        proved: None,
    })
}

/// The driver's word that membership `membership` has its connection.
fn linked(membership: u64) -> Incoming {
    Incoming::Linked {
        membership,
        result: Ok(()),
    }
}

fn checked(request: u64, leader: &str, invitee: &str) -> Incoming {
    reply(RegistryReply::Checked {
        request,
        from: "alice".into(),
        verdict: Ok(Vouched {
            leader: leader.into(),
            invitee: invitee.into(),
            leader_key: None,
        }),
    })
}

/// An effect as one line of text, so a test reads as a transcript.
pub(super) fn describe(effect: &Effect) -> String {
    match effect {
        Effect::Show(ScreenLine::Notice(text)) => format!("notice: {text}"),
        Effect::Show(line) => line.to_string(),
        Effect::Chat(line) => format!("chat: {line}"),
        Effect::ToRegistry(ask) => format!("registry: {ask:?}"),
        Effect::Start(Worker::Inviter { lobby, contact, .. }) => {
            format!("start: inviter of {} into lobby {lobby}", contact.name)
        }
        Effect::OpenLog { log, me, leader } => format!("open log {}: {me} in {leader}'s", log.0),
        Effect::Log { log, line } => format!("log {}: {line}", log.0),
        Effect::Verify(name) => format!("verify: {name}"),
        Effect::File(order) => format!("file: {order:?}"),
        Effect::Start(Worker::MemberLink {
            membership, leader, ..
        }) => format!("start: link of membership {membership} to {leader}"),
        Effect::TurnAway(conn, line) => format!("turn away {}: {line}", conn.0),
        Effect::Answer(request, answer) => format!("answer {request}: {answer:?}"),
        Effect::ToLeader(membership, line) => format!("to leader {membership}: {line}"),
        Effect::Lobby(lobby, command) => format!("lobby {lobby}: {command:?}"),
        Effect::Start(Worker::Rejoiner(Walk {
            lobby, walk, claim, ..
        })) => {
            let walk: Vec<String> = walk.iter().map(candidate).collect();
            format!(
                "start: rejoiner of lobby {lobby} as {} in {} walking {}",
                claim.name,
                claim.lobby,
                walk.join(", ")
            )
        }
    }
}

/// Where a walk of the roster goes, by name.
fn candidate(candidate: &Candidate) -> String {
    match candidate {
        Candidate::Me => "me".to_string(),
        Candidate::Peer(seat) => seat.name.clone(),
    }
}

#[track_caller]
fn check(app: &mut App, inputs: Vec<Incoming>, expected: &[&str]) {
    let mut got = Vec::new();
    for input in inputs {
        let (_, effects) = app.handle(input, now());
        got.extend(effects.iter().map(describe));
    }
    assert_eq!(got, expected);
}

/// A core joined as bob, at the menu.
fn joined() -> App {
    joined_with(None)
}

/// A core joined as bob, with keys `identity` or none, at the menu.
fn joined_with(identity: Option<Arc<Identity>>) -> App {
    let mut app = app_with(identity);
    let _ = app.handle(line("2"), now());
    let _ = app.handle(line("bob"), now());
    let _ = app.handle(line("secret-pw"), now());
    let _ = app.handle(reply(RegistryReply::Joined(Ok(contact("bob", 2)))), now());
    app
}

#[test]
fn lines_typed_while_the_registry_answers_are_kept_in_order() {
    let mut app = app();
    check(
        &mut app,
        vec![
            line("2"),
            line("bob"),
            line("secret-pw"),
            line("1"),
            line("9"),
        ],
        &[
            "Please enter your user name and password to join.",
            "User name:",
            "Password:",
            "registry: Join(bob, <password>, 7000)",
        ],
    );
    check(
        &mut app,
        vec![reply(RegistryReply::Joined(Ok(contact("bob", 2))))],
        &[
            "The 'join' process is successful. You can 'search'",
            "Joined as bob; others reach you at 10.0.0.2 port 7002. Type /quit at any time to leave.",
            MENU_PROMPT,
            "registry: List(Menu)",
        ],
    );
    let rows = vec![contact("alice", 1), contact("bob", 2)];
    check(
        &mut app,
        vec![reply(RegistryReply::List {
            asker: Asker::Menu,
            result: Ok(rows),
        })],
        &[
            "<<< ONLINE USER LIST >>>",
            "User name                         IP address                               Port",
            "alice                             10.0.0.1                                 7001",
            "bob                               10.0.0.2                                 7002",
            "2 users online.",
            MENU_PROMPT,
            "Please type 1, 2 or 3 (or /contacts, /remove <name>, /away [text], /back, /quit).",
            MENU_PROMPT,
        ],
    );
}

#[test]
fn search_and_add_to_the_conversation_list() {
    let mut app = joined();
    let search = |name: &str, result| {
        reply(RegistryReply::Search {
            name: name.into(),
            asker: Asker::Menu,
            result,
        })
    };
    check(
        &mut app,
        vec![line("3"), line("2"), line("carol")],
        &[
            "Your conversation list is empty: search a user with '2' and add them first.",
            MENU_PROMPT,
            "User name to search:",
            "registry: Search(carol, Menu)",
        ],
    );
    check(
        &mut app,
        vec![
            search("carol", Ok(contact("carol", 3))),
            line("maybe"),
            line("yes"),
        ],
        &[
            "UserIp: 10.0.0.3 Port: 7003",
            ADD_PROMPT,
            "Please answer Yes or No.",
            ADD_PROMPT,
            "Added carol to your conversation list.",
            MENU_PROMPT,
        ],
    );
    let offline = Refused::Err(ErrorCode::Offline, "offline".into());
    let unknown = Refused::Err(ErrorCode::NotFound, "no such user".into());
    check(
        &mut app,
        vec![
            line("2"),
            line("carol"),
            search("carol", Ok(contact("carol", 3))),
            line("2"),
            line("bob"),
            search("bob", Ok(contact("bob", 2))),
            line("2"),
            line("dave"),
            search("dave", Err(offline)),
            line("2"),
            line("erin"),
            search("erin", Err(unknown)),
        ],
        &[
            "User name to search:",
            "registry: Search(carol, Menu)",
            "UserIp: 10.0.0.3 Port: 7003",
            "carol is on your conversation list already.",
            MENU_PROMPT,
            "User name to search:",
            "registry: Search(bob, Menu)",
            "UserIp: 10.0.0.2 Port: 7002",
            "That is you.",
            MENU_PROMPT,
            "User name to search:",
            "registry: Search(dave, Menu)",
            "dave is offline.",
            MENU_PROMPT,
            "User name to search:",
            "registry: Search(erin, Menu)",
            "There is no user called erin.",
            MENU_PROMPT,
        ],
    );
}

#[test]
fn a_chat_request_is_checked_then_asked_or_answered_busy_by_stage() {
    // Before joining, nobody is asked.
    let mut app = app();
    let early = request(1, "alice", Some("T1"));
    check(&mut app, vec![early], &["answer 1: Busy(Unsaid)"]);

    let mut app = joined();
    let first = request(1, "alice", Some("T1"));
    check(&mut app, vec![first], &["registry: Check(1, alice, T1)"]);
    check(
        &mut app,
        vec![checked(1, "alice", "bob")],
        &[ACCEPT_PROMPT, "You have 30 seconds to answer."],
    );
    // One at a time: another request meanwhile is answered busy, and told
    // once the user is free.
    let second = request(2, "carol", Some("T2"));
    let utc = chrono::DateTime::parse_from_rfc3339("2026-01-02T10:42:00Z")
        .unwrap()
        .to_utc();
    let at = Now { utc, ..now() };
    let (_, got) = app.handle(second, at);
    assert_eq!(
        got.iter().map(describe).collect::<Vec<_>>(),
        ["answer 2: Busy(Answering)"]
    );
    let local = utc.with_timezone(&chrono::Local).format("%H:%M");
    check(
        &mut app,
        vec![line("hmm"), line("reject")],
        &[
            "Please answer OK or REJECT.",
            ACCEPT_PROMPT,
            "answer 1: Reject",
            "Rejected the chat request from 'alice'.",
            MENU_PROMPT,
            &format!(
                "notice: carol (name not checked) tried to reach you at {local}, while you were busy."
            ),
        ],
    );
}

#[test]
fn a_chat_request_without_a_good_ticket_is_refused_with_a_warning() {
    let mut app = joined();
    let bare = request(1, "mallory", None);
    check(
        &mut app,
        vec![bare],
        &[
            "answer 1: Reject",
            "notice: Warning: refused a chat request claiming to be from 'mallory': it carried no ticket from the registry.",
            MENU_PROMPT,
        ],
    );
    let forged = request(2, "alice", Some("T9"));
    check(&mut app, vec![forged], &["registry: Check(2, alice, T9)"]);
    check(
        &mut app,
        vec![checked(2, "mallory", "bob")],
        &[
            "answer 2: Reject",
            "notice: Warning: refused a chat request claiming to be from 'alice': its ticket was issued to 'mallory'.",
            MENU_PROMPT,
        ],
    );
    // The menu is shown again under the warning as the same question, not
    // a new one: a stranger's requests make no half-typed line stale.
    let (_, effects) = app.handle(request(3, "mallet", None), now());
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Show(ScreenLine::Text(t)) if t == MENU_PROMPT)),
        "{effects:?}"
    );
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Show(ScreenLine::Prompt(_)))),
        "{effects:?}"
    );
}

#[test]
fn the_registry_link_tells_the_user_what_it_does() {
    let mut app = joined();
    check(
        &mut app,
        vec![
            Incoming::Link(LinkNotice::Lost(ClientError::Io(
                io::ErrorKind::TimedOut.into(),
            ))),
            Incoming::Link(LinkNotice::KeyRefused {
                why: "its key changed".into(),
                first: false,
            }),
            Incoming::Link(LinkNotice::Back(contact("bob", 2))),
            Incoming::Link(LinkNotice::Replaced),
        ],
        &[
            "The registry is unreachable: cannot reach the registry: timed out. Reconnecting in the background; chats go on.",
            "WARNING: reconnecting to the registry, its key changed. Nothing was sent to it; retrying in the background; chats go on.",
            "notice: Reconnected to the registry; you are online again as bob.",
            "You (bob) joined from somewhere else, so the registry logged this peer out. Join again with '2' to come back here.",
            WELCOME_PROMPT,
        ],
    );
    check(
        &mut app,
        vec![Incoming::Link(LinkNotice::GaveUp(Reply::Err(
            ErrorCode::BadCredentials,
            "wrong password".into(),
        )))],
        &[
            "Stopped rejoining the registry: joining again failed (wrong password). Join again from the first menu.",
        ],
    );
}

mod files;
mod leader;
mod leaving;
mod login;
mod member;
mod place;
mod walk;
