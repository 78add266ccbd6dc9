//! A leader's lobby as data: the hub is the driver's, so each command is
//! an `Effect::Lobby` and each answer of the hub an `Incoming::Lobby`.

use crate::lobby::Notice;
use crate::wire::{ErrorCode, ParseError};

use crate::peer::app::App;
use crate::peer::effect::{ConnId, Incoming, LobbyAnswer, MembersFor};
use crate::peer::msg::{Asker, Outcome, RegistryReply};
use crate::peer::{LOBBY_HELP, MENU_PROMPT};

use super::{check, contact, joined, line, now, reply};

fn answer(answer: LobbyAnswer) -> Incoming {
    Incoming::Lobby(answer)
}

fn members(what: MembersFor, names: &[&str]) -> Incoming {
    answer(LobbyAnswer::Members {
        lobby: 1,
        what,
        names: names.iter().map(|name| name.to_string()).collect(),
    })
}

/// Bob, joined, with carol on his conversation list.
fn with_carol() -> App {
    let mut app = joined();
    let found = reply(RegistryReply::Search {
        name: "carol".into(),
        asker: Asker::Menu,
        result: Ok(contact("carol", 3)),
    });
    for input in [line("2"), line("carol"), found, line("yes")] {
        let _ = app.handle(input, now());
    }
    app
}

/// Bob, with carol on his conversation list, leads lobby 1 and has sent
/// carol a chat request.
pub(super) fn leading() -> App {
    let mut app = with_carol();
    check(
        &mut app,
        vec![line("3"), line("early")],
        &["lobby 1: Start"],
    );
    let started = answer(LobbyAnswer::Started {
        lobby: 1,
        result: Ok(None),
    });
    let ticket = reply(RegistryReply::Ticket {
        lobby: 1,
        name: "carol".into(),
        by: None,
        result: Ok((contact("carol", 3), "T1".into())),
    });
    check(
        &mut app,
        vec![started, ticket],
        &[
            "open log 1: bob in bob's",
            "log 1: * lobby started by bob",
            "notice: Sending chat requests to carol...",
            "registry: Ticket(1, carol, None)",
            "start: inviter of carol into lobby 1",
            &format!("You lead this lobby. {LOBBY_HELP}"),
            // The line typed while the hub started, said once it runs.
            "lobby 1: Say(early)",
            "log 1: [bob] early",
            "[bob] early",
        ],
    );
    app
}

#[test]
fn a_lobby_that_cannot_start_goes_back_to_the_menu() {
    let mut app = with_carol();
    let failed = answer(LobbyAnswer::Started {
        lobby: 1,
        result: Err("no threads left".into()),
    });
    check(
        &mut app,
        vec![line("3"), failed],
        &[
            "lobby 1: Start",
            "Cannot start a chat: no threads left",
            MENU_PROMPT,
        ],
    );
}

#[test]
fn the_leaders_who_and_msg_go_to_the_hub_and_its_answers_are_shown() {
    let mut app = leading();
    let not_in = ParseError::new(ErrorCode::NotInLobby, "dave is not in this lobby");
    check(
        &mut app,
        vec![
            line("/who"),
            members(MembersFor::Show, &["bob", "carol"]),
            line("/msg carol hi there"),
            answer(LobbyAnswer::Told {
                lobby: 1,
                text: "hi there".into(),
                result: Ok("Carol".into()),
            }),
            line("/msg dave hi"),
            answer(LobbyAnswer::Told {
                lobby: 1,
                text: "hi".into(),
                result: Err(not_in),
            }),
        ],
        &[
            "lobby 1: Members(Show)",
            "Members: bob, carol",
            "lobby 1: Tell(carol, hi there)",
            "log 1: [you -> Carol] hi there",
            "[you -> Carol] hi there",
            "lobby 1: Tell(dave, hi)",
            "Not sent: dave is not in this lobby.",
        ],
    );
}

#[test]
fn the_leaders_kick_goes_to_the_hub_unless_it_kicks_the_leader() {
    let mut app = leading();
    let kicked = answer(LobbyAnswer::Kicked {
        lobby: 1,
        name: "dave".into(),
        found: None,
    });
    check(
        &mut app,
        vec![line("/kick bob"), line("/kick dave too loud"), kicked],
        &[
            "You lead this lobby; /leave ends it for everyone.",
            "lobby 1: Kick(dave, Some(\"too loud\"))",
            "dave is not in this lobby.",
        ],
    );
}

#[test]
fn the_leaders_invite_asks_the_hub_who_is_in_then_the_registry() {
    let mut app = leading();
    check(
        &mut app,
        vec![
            line("/invite bob"),
            line("/invite carol"),
            members(MembersFor::Invite("carol".into()), &["bob", "carol"]),
            line("/invite dave"),
            members(MembersFor::Invite("dave".into()), &["bob", "carol"]),
            line("/invite dave"),
            members(MembersFor::Invite("dave".into()), &["bob", "carol"]),
        ],
        &[
            "That is you.",
            "lobby 1: Members(Invite(\"carol\"))",
            "carol is in this lobby already.",
            "lobby 1: Members(Invite(\"dave\"))",
            "registry: Ticket(1, dave, None)",
            "lobby 1: Members(Invite(\"dave\"))",
            "Not invited: dave has been invited already; wait for the answer.",
        ],
    );
}

#[test]
fn a_handover_the_hub_refuses_leaves_us_leading() {
    let mut app = leading();
    let refused = answer(LobbyAnswer::Handed {
        lobby: 1,
        result: Err("dave is not in this lobby".into()),
    });
    check(
        &mut app,
        vec![line("/handover dave"), refused, line("/who")],
        &[
            "lobby 1: Handover(Some(\"dave\"))",
            "Not handed over: dave is not in this lobby.",
            "lobby 1: Members(Show)",
        ],
    );
}

#[test]
fn leaving_closes_the_hub_and_logs_what_it_had_not_passed_on() {
    let mut app = leading();
    let closed = answer(LobbyAnswer::Closed {
        log: app.log_in_use(),
        notices: vec![Notice::Msg {
            from: "carol".into(),
            text: "bye".into(),
        }],
    });
    check(
        &mut app,
        vec![line("/leave"), closed],
        &[
            "lobby 1: Close(LEADER_LEFT)",
            "log 1: * lobby ended: you left",
            "notice: The lobby has ended (you left).",
            MENU_PROMPT,
            "log 1: [carol] bye",
        ],
    );
}

#[test]
fn a_leader_left_alone_asks_the_hub_and_ends_the_lobby() {
    let mut app = leading();
    check(
        &mut app,
        vec![
            Incoming::Invited {
                lobby: 1,
                name: "carol".into(),
                outcome: Outcome::Rejected,
            },
            members(MembersFor::EmptyCheck, &["bob", "dave"]),
            Incoming::Notice(Notice::Left("dave".into())),
            members(MembersFor::EmptyCheck, &["bob"]),
        ],
        &[
            "lobby 1: Invitation(carol, REJECTED)",
            "notice: carol: rejected your chat request",
            "lobby 1: Members(EmptyCheck)",
            "log 1: * dave left",
            "notice: Peer ('dave') is offline",
            "lobby 1: Members(EmptyCheck)",
            "lobby 1: Close(LEADER_LEFT)",
            "log 1: * lobby ended: nobody else is in it",
            "notice: The lobby has ended (nobody else is in it).",
            MENU_PROMPT,
        ],
    );
}

#[test]
fn an_accepted_connection_passes_through_the_core_by_number() {
    let mut app = leading();
    let accepted = |lobby: u64, name: &str, conn: u64| Incoming::Invited {
        lobby,
        name: name.into(),
        outcome: Outcome::Accepted {
            addr: "10.0.0.3:7003".parse().expect("an address"),
            key: None,
            conn: ConnId(conn),
        },
    };
    check(
        &mut app,
        vec![accepted(1, "carol", 5), accepted(9, "dave", 6)],
        &[
            "lobby 1: Admit(carol)",
            "notice: OK -> ('10.0.0.3', 7003)",
            "lobby 1: Members(EmptyCheck)",
            // An answer into a lobby that has ended: the invitee hears so.
            "turn away 6: CLOSED LEADER_LEFT",
        ],
    );
}
