//! The prompt a terminal shows, as data: where the core is, after each
//! input, as the driver hands it to the line editor.

use crate::lobby::Notice;
use crate::wire::LeftReason;

use super::leader::{leading, with_carol};
use super::member::asked_by_alice;
use super::*;

/// Feeds `input` and checks the prompt after it.
#[track_caller]
fn check_prompt(app: &mut App, input: Incoming, expected: &str) {
    let _ = app.handle(input, now());
    assert_eq!(app.prompt_text(), expected);
}

#[test]
fn a_menu_has_the_plain_prompt_and_away_says_so() {
    let mut app = app();
    assert_eq!(app.prompt_text(), "> ");
    check_prompt(&mut app, line("2"), "> ");
    let mut app = joined();
    assert_eq!(app.prompt_text(), "> ");
    // The user's own /away and /back set it.
    check_prompt(&mut app, line("/away lunch"), "(away) > ");
    check_prompt(&mut app, line("/back"), "> ");
    check_prompt(&mut app, line("/away"), "(away) > ");
    check_prompt(&mut app, line("/away"), "> ");
}

#[test]
fn a_leader_sees_the_requests_out_then_itself_and_the_count() {
    // From the start: a terminal may keep this prompt until the hub runs.
    let mut app = with_carol();
    check_prompt(&mut app, line("3"), "[inviting 1] > ");
    let mut app = leading();
    // carol has not answered yet, and nobody is in.
    assert_eq!(app.prompt_text(), "[inviting 1] > ");
    check_prompt(
        &mut app,
        Incoming::Notice(Notice::Joined("carol".into())),
        "[bob · 2] > ",
    );
    check_prompt(
        &mut app,
        Incoming::Notice(Notice::Joined("dave".into())),
        "[bob · 3] > ",
    );
    app.place.set_away(true);
    assert_eq!(app.prompt_text(), "[bob · 3] (away) > ");
    app.place.set_away(false);
    check_prompt(
        &mut app,
        Incoming::Notice(Notice::Left("dave".into())),
        "[bob · 2] > ",
    );
}

#[test]
fn a_member_sees_the_leader_and_the_count_and_the_menu_after() {
    let mut app = asked_by_alice();
    // At the accept question, still at the menu.
    assert_eq!(app.prompt_text(), "> ");
    check_prompt(&mut app, line("ok"), "[alice] > ");
    check_prompt(&mut app, linked(1), "[alice] > ");
    let members = ToMember::Members(vec!["alice".into(), "bob".into()]);
    check_prompt(
        &mut app,
        Incoming::Feed(FromLeader::Line(members)),
        "[alice · 2] > ",
    );
    let carol = ToMember::Joined("carol".into());
    check_prompt(
        &mut app,
        Incoming::Feed(FromLeader::Line(carol)),
        "[alice · 3] > ",
    );
    let gone = ToMember::Left {
        name: "carol".into(),
        reason: LeftReason::Left,
    };
    check_prompt(
        &mut app,
        Incoming::Feed(FromLeader::Line(gone)),
        "[alice · 2] > ",
    );
    check_prompt(&mut app, line("/leave"), "> ");
}
