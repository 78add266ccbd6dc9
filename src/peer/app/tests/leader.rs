//! A leader's lobby as data: the hub is the driver's, so each command is
//! an `Effect::Lobby` and each answer of the hub an `Incoming::Lobby`.

use crate::lobby::Notice;
use crate::wire::{BusyReason, ErrorCode, ParseError};

use crate::peer::app::App;
use crate::peer::effect::{ConnId, Incoming, LobbyAnswer, MembersFor};
use crate::peer::msg::{Asker, NotInvited, Outcome, RegistryReply};
use crate::peer::{LOBBY_HINT, MENU_PROMPT};

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
pub(super) fn with_carol() -> App {
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
            &format!("You lead this lobby. {LOBBY_HINT}"),
            "notice: Still asking: carol (30 seconds left).",
            // The line typed while the hub started, said once it runs,
            // and nobody is there to read it yet.
            "lobby 1: Say(early)",
            "log 1: [bob] early",
            "[bob] early",
            "notice: Nobody has joined yet: whoever does will see this line among the last 20 said.",
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
            "notice: Still asking: carol (30 seconds left).",
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
            "You lead this lobby; /leave hands it on, /end ends it for everyone.",
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
            "log 1: * carol: rejected your chat request",
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

fn ticket(name: &str, by: Option<&str>, result: Result<(), NotInvited>) -> Incoming {
    reply(RegistryReply::Ticket {
        lobby: 1,
        name: name.into(),
        by: by.map(str::to_string),
        result: result.map(|()| (contact(name, 4), "T2".into())),
    })
}

#[test]
fn how_each_invitation_ended_is_in_the_leaders_log_too() {
    let mut app = leading();
    check(
        &mut app,
        vec![
            Incoming::Invited {
                lobby: 1,
                name: "carol".into(),
                outcome: Outcome::Busy(BusyReason::InChat),
            },
            members(MembersFor::EmptyCheck, &["bob"]),
        ],
        &[
            "log 1: * carol: busy (in a chat)",
            "lobby 1: Invitation(carol, BUSY)",
            "notice: carol: busy (in a chat)",
            "lobby 1: Members(EmptyCheck)",
            "lobby 1: Close(LEADER_LEFT)",
            "log 1: * lobby ended: nobody else is in it",
            "notice: The lobby has ended (nobody else is in it).",
            MENU_PROMPT,
        ],
    );
    // At the start too: a first invitee who cannot be asked is logged.
    let mut app = with_carol();
    let started = answer(LobbyAnswer::Started {
        lobby: 1,
        result: Ok(None),
    });
    check(
        &mut app,
        vec![
            line("3"),
            started,
            ticket("carol", None, Err(NotInvited::Offline)),
        ],
        &[
            "lobby 1: Start",
            "open log 1: bob in bob's",
            "log 1: * lobby started by bob",
            "notice: Sending chat requests to carol...",
            "registry: Ticket(1, carol, None)",
            "log 1: * could not invite carol: offline",
            "carol: offline; /remove carol at the menu takes them off your list",
            "lobby 1: Close(LEADER_LEFT)",
            "log 1: * lobby ended: nobody could be invited",
            "notice: The lobby has ended (nobody could be invited).",
            MENU_PROMPT,
        ],
    );
}

#[test]
fn a_name_nobody_has_is_not_news_to_the_lobby() {
    let mut app = leading();
    let asked = Incoming::Notice(Notice::InviteAsked {
        by: "carol".into(),
        name: "zed".into(),
    });
    check(
        &mut app,
        vec![
            line("/invite nobody"),
            members(MembersFor::Invite("nobody".into()), &["bob", "carol"]),
            ticket("nobody", None, Err(NotInvited::NotRegistered)),
            asked,
            ticket("zed", Some("carol"), Err(NotInvited::NotRegistered)),
        ],
        &[
            "lobby 1: Members(Invite(\"nobody\"))",
            "registry: Ticket(1, nobody, None)",
            "nobody: not registered (check the name)",
            "log 1: * could not invite nobody: not registered (check the name)",
            // Only the member who asked hears of it.
            "carol asks you to invite zed.",
            "registry: Ticket(1, zed, Some(\"carol\"))",
            "zed: not registered (check the name)",
            "log 1: * could not invite zed: not registered (check the name)",
            "lobby 1: Refuse(carol, zed is not registered)",
        ],
    );
}

#[test]
fn requests_answered_busy_in_a_chat_are_told_back_at_the_menu() {
    use chrono::TimeZone;
    let mut app = leading();
    let utc = chrono::Utc.with_ymd_and_hms(2026, 1, 2, 10, 42, 0).unwrap();
    let at = super::now().at;
    let mut effects = Vec::new();
    for input in [
        super::request(5, "erin", Some("T5")),
        line("/leave"),
        line("1"),
    ] {
        let (_, got) = app.handle(input, crate::peer::effect::Now { at, utc });
        effects.extend(got.iter().map(super::describe));
    }
    let local = utc.with_timezone(&chrono::Local).format("%H:%M");
    assert_eq!(
        effects,
        [
            "answer 5: Busy(InChat)".to_string(),
            // The leader leaves; the hub hands the lobby on or ends it.
            "lobby 1: Leave".into(),
            MENU_PROMPT.into(),
            format!(
                "notice: erin (name not checked) tried to reach you at {local}, while you were busy."
            ),
            // Told once.
            "registry: List(Menu)".into(),
        ]
    );
}

#[test]
fn the_conversation_list_is_shown_and_edited_at_the_menu() {
    let mut app = with_carol();
    check(
        &mut app,
        vec![
            line("/contacts"),
            line("/remove dave"),
            line("/remove CAROL"),
            line("/contacts"),
            line("3"),
        ],
        &[
            "Your conversation list ('3' invites them): carol. /remove <name> takes one off.",
            MENU_PROMPT,
            "dave is not on your conversation list; /contacts shows it.",
            MENU_PROMPT,
            "Removed CAROL from your conversation list.",
            MENU_PROMPT,
            "Your conversation list is empty: search a user with '2' and add them.",
            MENU_PROMPT,
            "Your conversation list is empty: search a user with '2' and add them first.",
            MENU_PROMPT,
        ],
    );
}

/// A leader's `/away` goes to its hub, which tells the members, and to the
/// registry; members' away notices are shown, logged and kept for `/who`.
#[test]
fn a_leader_away_goes_to_its_hub_and_members_away_show_in_who() {
    let mut app = leading();
    check(
        &mut app,
        vec![
            line("/away tea"),
            Incoming::Notice(Notice::Away {
                name: "carol".into(),
                text: "lunch".into(),
            }),
            line("/who"),
            members(MembersFor::Show, &["bob", "carol"]),
            Incoming::Notice(Notice::Back("carol".into())),
            line("/back"),
        ],
        &[
            "notice: You are marked away: tea.",
            "registry: Away(Some(\"tea\"))",
            "lobby 1: Away(Some(\"tea\"))",
            "log 1: * carol is away: lunch",
            "notice: carol is away: lunch",
            "lobby 1: Members(Show)",
            "Members: bob (away: tea), carol (away: lunch)",
            "notice: Still asking: carol (30 seconds left).",
            "log 1: * carol is back",
            "notice: carol is back",
            "notice: You are back.",
            "registry: Away(None)",
            "lobby 1: Away(None)",
        ],
    );
}
