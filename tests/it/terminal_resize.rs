//! The real `peer` binary at a terminal when its window is resized:
//! every chat line stays, and the half-typed line shows once, in tmux (a
//! terminal that re-wraps its lines) and in one that does not.

use crate::support::{AtTerminal, TestServer, TmuxPeer, joined_with, peer_config, see, temp_dir};
use crate::terminal::{bob_in_alices_lobby, into_alices_lobby};

/// What bob types and does not send in the resize tests: 72 columns with
/// the prompt, so two rows at 50 columns and one at 120.
const HALF_TYPED: &str = "this line is typed but not sent and it wraps onto two rows";

/// bob's prompt in alice's lobby of two.
const LOBBY_PROMPT: &str = "[alice · 2] > ";

/// How much of `HALF_TYPED` fits the first row at 50 columns.
fn first_row() -> usize {
    50 - LOBBY_PROMPT.chars().count()
}

/// Waits until the window shows `line` right above the line being typed,
/// which is `HALF_TYPED` on two rows of 50 columns.
#[track_caller]
fn shows_above_half_typed(bob: &impl AtTerminal, line: &str) {
    let (head, tail) = HALF_TYPED.split_at(first_row());
    bob.wait_until(&format!("{line:?} above the typed line"), |rows, row, _| {
        row >= 2
            && rows[row - 2].trim_end() == line
            && rows[row - 1].trim_end() == format!("{LOBBY_PROMPT}{head}").trim_end()
            && rows[row].trim_end() == tail
    });
}

/// Types `HALF_TYPED` in a window wide enough for it to fit one row, then
/// narrows the window to 50 columns with `narrow`, and waits until the peer
/// has redrawn the line on two rows. Typed after narrowing, the line could
/// be taken in before the news of the resize, and drawn for the old width.
#[track_caller]
fn half_typed_then_narrowed<T: AtTerminal>(bob: &mut T, narrow: impl FnOnce(&mut T)) {
    // The prompt is taken when a line begins: if this one was begun before
    // the member list came (`[alice] > `), an empty line first, for one
    // that counts who is in.
    let early = std::cell::Cell::new(false);
    bob.wait_until("a prompt of alice's lobby", |rows, row, _| {
        let prompt = rows[row].trim_end();
        early.set(prompt == "[alice] >");
        early.get() || prompt == LOBBY_PROMPT.trim_end()
    });
    if early.get() {
        bob.press("\r");
        bob.wait_until("the prompt of a lobby of two", |rows, row, _| {
            rows[row].trim_end() == LOBBY_PROMPT.trim_end()
        });
    }
    let typed = format!("{LOBBY_PROMPT}{HALF_TYPED}");
    bob.press(HALF_TYPED);
    bob.wait_until("the typed line on one row", |rows, row, _| {
        rows[row].trim_end() == typed
    });
    narrow(bob);
    let (head, tail) = HALF_TYPED.split_at(first_row());
    bob.wait_until("the typed line redrawn on two rows", |rows, row, _| {
        row >= 1
            && rows[row - 1].trim_end() == format!("{LOBBY_PROMPT}{head}").trim_end()
            && rows[row].trim_end() == tail
    });
}

/// In a terminal that re-wraps its lines on a resize, as most do (tmux
/// here): issue #23's widened window erased the chat line above a wrapped
/// half-typed line, and a narrowed one left a stale copy of that line.
#[test]
fn in_tmux_a_resize_keeps_every_chat_line_and_the_half_typed_line_once() {
    let test = "in_tmux_a_resize_keeps_every_chat_line_and_the_half_typed_line_once";
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined_with(peer_config(server.addr(), logs.path()), "alice");
    // Wide while bob joins, so that every line the helpers wait for fits
    // one row; then 50 columns, as in the issue.
    let Some(mut bob) = TmuxPeer::start(test, server.addr(), logs.path(), &[], (120, 20)) else {
        return;
    };
    into_alices_lobby(&alice, &mut bob);
    half_typed_then_narrowed(&mut bob, |bob| bob.resize(50));
    alice.type_line("MARKER-A");
    shows_above_half_typed(&bob, "[alice] MARKER-A");
    alice.type_line("MARKER-B");
    shows_above_half_typed(&bob, "[alice] MARKER-B");
    let typed_rows = |rows: &[String]| {
        rows.iter()
            .filter(|row| row.starts_with(&format!("{LOBBY_PROMPT}this line is typed")))
            .count()
    };

    // Widened: the typed line is redrawn on one row, and every chat line
    // stays, on the screen and in the scrollback.
    let drawn = bob.written_count(&format!("{LOBBY_PROMPT}{HALF_TYPED}"));
    bob.resize(120);
    bob.wait_until("the typed line redrawn on one row", |rows, row, _| {
        bob.written_count(&format!("{LOBBY_PROMPT}{HALF_TYPED}")) > drawn
            && rows[row].trim_end() == format!("{LOBBY_PROMPT}{HALF_TYPED}")
    });
    let all = bob.scrollback();
    for marker in ["[alice] MARKER-A", "[alice] MARKER-B"] {
        assert!(
            all.iter().any(|row| row == marker),
            "{marker} is gone: {all:#?}"
        );
    }
    assert_eq!(typed_rows(&all), 1, "{all:#?}");

    // Narrowed again: the line on two rows, and no stale copy above it.
    let drawn = bob.written_count(&format!("{LOBBY_PROMPT}{HALF_TYPED}"));
    bob.resize(50);
    bob.wait_until("the typed line redrawn on two rows", |rows, row, _| {
        bob.written_count(&format!("{LOBBY_PROMPT}{HALF_TYPED}")) > drawn
            && row > 0
            && rows[row - 1].starts_with(&format!("{LOBBY_PROMPT}this line is typed"))
    });
    let all = bob.scrollback();
    assert_eq!(typed_rows(&all), 1, "a stale copy: {all:#?}");

    // Lines still arrive above it, and it is sent whole.
    alice.type_line("MARKER-C");
    shows_above_half_typed(&bob, "[alice] MARKER-C");
    let all = bob.scrollback();
    assert!(all.iter().any(|row| row == "[alice] MARKER-B"), "{all:#?}");
    assert_eq!(typed_rows(&all), 1, "{all:#?}");
    bob.press("\r");
    see(&alice, &format!("[bob] {HALF_TYPED}"));
}

/// A terminal that does not re-wrap on a resize (vt100 here, xterm for
/// people) keeps rustyline's own redraw, which suits it: the same steps
/// keep every line and leave no stale copy.
#[test]
fn in_a_terminal_that_does_not_rewrap_a_resize_keeps_every_line_too() {
    let (_server, alice, mut bob) = bob_in_alices_lobby(&[]);
    half_typed_then_narrowed(&mut bob, |bob| bob.resize(crate::support::ROWS, 50));
    alice.type_line("MARKER-A");
    shows_above_half_typed(&bob, "[alice] MARKER-A");
    alice.type_line("MARKER-B");
    shows_above_half_typed(&bob, "[alice] MARKER-B");

    // The closures count in the text they are given: `raw_count` would
    // wait for the lock `wait_until` holds while it calls them.
    let typed = format!("{LOBBY_PROMPT}{HALF_TYPED}");
    let drawn = bob.raw_count(&typed);
    bob.resize(crate::support::ROWS, 120);
    bob.wait_until("the typed line redrawn on one row", |rows, row, raw| {
        raw.matches(&typed).count() > drawn
            && row > 0
            && rows[row].trim_end() == format!("{LOBBY_PROMPT}{HALF_TYPED}")
            && rows[row - 1].trim_end() == "[alice] MARKER-B"
    });
    let drawn = bob.raw_count(&typed);
    bob.resize(crate::support::ROWS, 50);
    bob.wait_until("the typed line redrawn", |_, _, raw| {
        raw.matches(&typed).count() > drawn
    });
    shows_above_half_typed(&bob, "[alice] MARKER-B");
    let (rows, ..) = bob.screen();
    let typed = rows
        .iter()
        .filter(|row| row.starts_with(&format!("{LOBBY_PROMPT}this line")));
    assert_eq!(typed.count(), 1, "{rows:#?}");
    bob.press("\r");
    see(&alice, &format!("[bob] {HALF_TYPED}"));
}
