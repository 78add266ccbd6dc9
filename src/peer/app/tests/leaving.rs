//! A leader's ways out of its lobby, and what its members hear of anyone
//! leaving, as data: `/leave` and `/quit` hand the lobby on (the hub's
//! `Leave`), `/end` ends it (asked first at a terminal), and every reason
//! of `LEFT` reads in words.

use crate::lobby::Notice;
use crate::wire::{CloseReason, LeftReason, Succession, ToMember};

use crate::peer::MENU_PROMPT;
use crate::peer::app::App;
use crate::peer::effect::{Incoming, LobbyAnswer};

use super::leader::leading;
use super::walk::{from_leader, member};
use super::{check, describe, line, now};

/// What `/end` asks at a terminal.
const END_QUESTION: &str = "End the lobby for everyone? Type y to end it; anything else keeps it going (/leave hands it on instead). [y/N]";

fn left(to: Option<&str>, notices: Vec<Notice>) -> Incoming {
    Incoming::Lobby(LobbyAnswer::Left {
        log: Some(crate::peer::effect::LogId(1)),
        to: to.map(str::to_string),
        notices,
    })
}

#[test]
fn a_leader_that_leaves_hands_the_lobby_on_and_logs_what_it_had_not_passed_on() {
    let mut app = leading();
    let bye = Notice::Msg {
        from: "carol".into(),
        text: "bye".into(),
    };
    check(
        &mut app,
        vec![line("/leave"), left(Some("carol"), vec![bye])],
        &[
            "lobby 1: Leave",
            MENU_PROMPT,
            "log 1: [carol] bye",
            "log 1: * you left; carol leads the lobby now",
            "notice: You left the lobby; carol leads it now.",
        ],
    );
    assert_eq!(app.lobby_in_use(), None);
}

#[test]
fn a_leader_that_leaves_with_nobody_to_lead_ends_the_lobby() {
    let mut app = leading();
    check(
        &mut app,
        vec![line("/leave"), left(None, Vec::new())],
        &[
            "lobby 1: Leave",
            MENU_PROMPT,
            "log 1: * lobby ended: you left",
            "notice: The lobby has ended (you left).",
        ],
    );
}

#[test]
fn a_leader_that_quits_leaves_as_by_leave() {
    // `/quit`, the end of the input, Ctrl-C and SIGTERM all make the
    // driver call `quit`.
    let mut app = leading();
    check(&mut app, vec![line("/quit")], &[]);
    app.quit();
    let effects: Vec<String> = app.out.take().iter().map(describe).collect();
    assert_eq!(effects, ["lobby 1: Leave"]);
}

#[test]
fn a_scripts_end_ends_the_lobby_for_everyone_at_once() {
    let mut app = leading();
    check(
        &mut app,
        vec![line("/end")],
        &[
            "lobby 1: Close(ENDED)",
            "log 1: * lobby ended: you ended it for everyone",
            "notice: The lobby has ended (you ended it for everyone).",
            MENU_PROMPT,
        ],
    );
}

/// Bob leads, at a terminal: `/end` asks.
fn leading_at_a_terminal() -> App {
    let mut app = leading();
    app.confirm_end = true;
    app
}

#[test]
fn at_a_terminal_end_asks_and_only_a_yes_ends_the_lobby() {
    let mut app = leading_at_a_terminal();
    check(
        &mut app,
        vec![line("/end"), line("n"), line("/end"), line("")],
        &[
            END_QUESTION,
            "notice: The lobby goes on.",
            END_QUESTION,
            "notice: The lobby goes on.",
        ],
    );
    check(
        &mut app,
        vec![line("/end"), line(" YES ")],
        &[
            END_QUESTION,
            "lobby 1: Close(ENDED)",
            "log 1: * lobby ended: you ended it for everyone",
            "notice: The lobby has ended (you ended it for everyone).",
            MENU_PROMPT,
        ],
    );
}

#[test]
fn a_line_typed_instead_of_an_answer_to_end_is_not_lost() {
    let mut app = leading_at_a_terminal();
    check(
        &mut app,
        vec![line("/end"), line("see you all"), line("/who")],
        &[
            END_QUESTION,
            "notice: The lobby goes on.",
            "lobby 1: Say(see you all)",
            "log 1: [bob] see you all",
            "[bob] see you all",
            "notice: Nobody has joined yet: whoever does will see this line among the last 20 said.",
            // Asked once: the next line is a line again.
            "lobby 1: Members(Show)",
        ],
    );
}

#[test]
fn a_member_cannot_end_the_lobby() {
    let mut app = member();
    check(
        &mut app,
        vec![line("/end")],
        &["Only the leader can end the lobby for everyone; /leave leaves it."],
    );
}

#[test]
fn a_member_hears_why_each_member_left() {
    let mut app = member();
    let names = ["alice", "bob", "c1", "c2", "c3", "c4", "c5", "c6"];
    let _ = app.handle(
        from_leader(ToMember::Members(
            names.iter().map(|n| n.to_string()).collect(),
        )),
        now(),
    );
    let gone = |name: &str, reason| {
        from_leader(ToMember::Left {
            name: name.into(),
            reason,
        })
    };
    check(
        &mut app,
        vec![
            gone("c1", LeftReason::Left),
            gone("c2", LeftReason::Lost),
            gone("c3", LeftReason::Silent),
            gone("c4", LeftReason::Slow),
            gone("c5", LeftReason::TooLong),
            gone("c6", LeftReason::Kicked),
            // Not in the list (a kicked member's `LEFT` after `KICKED`).
            gone("c6", LeftReason::Kicked),
            line("/who"),
        ],
        &[
            "log 1: * c1 left",
            "notice: Peer ('c1') is offline",
            "log 1: * c2's connection was lost",
            "notice: Peer ('c2') is offline (its connection was lost; it may come back)",
            "log 1: * c3 dropped: nothing heard from it",
            "notice: Peer ('c3') is offline (silent: nothing heard from it for too long)",
            "log 1: * c4 dropped: it stopped reading",
            "notice: Peer ('c4') is offline (too slow: it stopped reading and was dropped)",
            "log 1: * c5 dropped: it sent a line too long",
            "notice: Peer ('c5') is offline (it sent a line too long)",
            "log 1: * c6 removed by alice",
            "notice: Peer ('c6') is offline (removed by alice)",
            "Members: alice, bob",
        ],
    );
}

#[test]
fn a_member_hears_its_leader_leave_and_follows_the_lobby_to_the_next() {
    let mut app = member();
    check(
        &mut app,
        vec![
            from_leader(ToMember::Left {
                name: "alice".into(),
                reason: LeftReason::Left,
            }),
            from_leader(ToMember::Succession(Succession::Handover("carol".into()))),
        ],
        &[
            "log 1: * alice left",
            "notice: Peer ('alice') is offline",
            // Alice's seat went with her: the walk goes to carol alone.
            "start: rejoiner of lobby 2 as bob in L1 walking carol",
        ],
    );
}

#[test]
fn a_member_hears_that_the_leader_ended_the_lobby() {
    let mut app = member();
    check(
        &mut app,
        vec![from_leader(ToMember::Closed(CloseReason::Ended))],
        &[
            "log 1: * lobby ended: alice ended it for everyone",
            "notice: The lobby has ended (alice ended it for everyone).",
            MENU_PROMPT,
        ],
    );
}
