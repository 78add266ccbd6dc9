//! The real `peer` binary at a terminal (a pseudo-terminal read through a
//! terminal emulator, or tmux): what arrives is drawn above the line being
//! typed, which stays whole, also when the window is resized; a long
//! message goes out in several parts; the keys people use work; a peer
//! ended by a signal leaves the terminal clean.

use p2pchat::peer::{ADD_PROMPT, MENU_PROMPT, WELCOME_PROMPT};
use p2pchat::screen::name_color;
use p2pchat::testing::ScriptedPeer;
use p2pchat::wire::MAX_TEXT;

use crate::support::{
    AtTerminal, PASSWORD, TerminalPeer, TestServer, TmuxPeer, add, joined_with, peer_config, see,
    temp_dir,
};

/// Registers and joins as `name` at the terminal, as a person would type it:
/// the new password twice, since it is not echoed.
#[track_caller]
fn register_and_join(peer: &mut impl AtTerminal, name: &str) {
    peer.answer(WELCOME_PROMPT, "1");
    peer.answer("User name:", name);
    peer.sees_times("Password:", 1);
    peer.press(&format!("{PASSWORD}\r"));
    peer.sees_times("Password again:", 1);
    peer.press(&format!("{PASSWORD}\r"));
    peer.answer(
        "The registration process is successful. You can 'join'",
        "2",
    );
    peer.answer("Please enter your user name and password to join.", name);
    peer.sees_times("Password:", 2);
    peer.press(&format!("{PASSWORD}\r"));
    peer.sees_times("The 'join' process is successful. You can 'search'", 1);
    peer.prompted_after(MENU_PROMPT);
}

/// A registry, alice as a scripted peer, and bob at a terminal (started
/// with `extra`) in alice's lobby.
fn bob_in_alices_lobby(extra: &[&str]) -> (TestServer, ScriptedPeer, TerminalPeer) {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined_with(peer_config(server.addr(), logs.path()), "alice");
    let mut bob = TerminalPeer::start(server.addr(), logs.path(), extra);
    into_alices_lobby(&alice, &mut bob);
    (server, alice, bob)
}

/// bob, at a terminal, registers, joins and accepts alice's invitation.
#[track_caller]
fn into_alices_lobby(alice: &ScriptedPeer, bob: &mut impl AtTerminal) {
    register_and_join(bob, "bob");
    add(alice, "bob");
    alice.type_line("3");
    bob.answer("Chat request from 'alice'", "OK");
    bob.prompted_after("You are in alice's lobby with: alice, bob.");
    see(alice, "Client ('bob') connected");
}

#[test]
fn a_message_arriving_mid_typing_goes_above_the_line_being_typed() {
    let (_server, alice, mut bob) = bob_in_alices_lobby(&["--timestamps"]);
    // Notices are dimmed.
    let (rows, ..) = bob.screen();
    let notice = rows
        .iter()
        .position(|r| r.starts_with("Joining alice's lobby"))
        .unwrap();
    assert_eq!(bob.look_at(notice, 0), (vt100::Color::Default, true));
    bob.press("half typed mess");
    bob.wait_until("the half-typed line", |rows, row, _| {
        rows[row].trim_end() == "> half typed mess"
    });

    alice.type_line("interrupting you");
    // The editor draws the message, then the prompt and the typed text
    // again: wait for both, the message right above the input line.
    bob.wait_until(
        "alice's message above the whole typed line",
        |rows, row, _| {
            row > 0
                && rows[row - 1].contains("[alice] interrupting you")
                && rows[row].trim_end() == "> half typed mess"
        },
    );
    let (rows, row, col) = bob.screen();
    let row = usize::from(row);
    assert_eq!(usize::from(col), "> half typed mess".len(), "{rows:#?}");
    let above = rows[row - 1].trim_end();
    // The message has a line of its own, stamped HH:MM (--timestamps).
    let (stamp, message) = above.split_at(6);
    assert_eq!(message, "[alice] interrupting you", "{rows:#?}");
    assert!(
        stamp.len() == 6
            && stamp.as_bytes()[2] == b':'
            && stamp[..2]
                .bytes()
                .chain(stamp[3..5].bytes())
                .all(|b| b.is_ascii_digit()),
        "{above:?}"
    );

    // The name has its own colour, the same on every peer: bright colours
    // (90 and up) are the palette's second eight.
    let color = match name_color("alice") {
        code @ 30..=37 => code - 30,
        code => code - 90 + 8,
    };
    assert_eq!(bob.look_at(row - 1, 7), (vt100::Color::Idx(color), false));
    assert_eq!(bob.look_at(row - 1, 0), (vt100::Color::Default, false));

    // Enter sends what was typed, all of it.
    bob.press("\r");
    see(&alice, "[bob] half typed mess");

    // Up brings back the line sent before, from this session's history.
    bob.prompted_after("[alice] interrupting you");
    bob.press("\x1b[A");
    bob.wait_until("the line from history", |rows, row, _| {
        rows[row].trim_end() == "> half typed mess"
    });
    bob.press(" again\r");
    see(&alice, "[bob] half typed mess again");

    // Ctrl-D on an empty line leaves the lobby, logs out and exits.
    bob.prompted_after("[alice] interrupting you");
    bob.press("\x04");
    see(&alice, "Peer ('bob') is offline");
    assert!(bob.wait().success());
}

#[test]
fn tab_completes_a_command_and_a_name_in_the_lobby() {
    let (_server, alice, mut bob) = bob_in_alices_lobby(&[]);
    bob.press("/ms\t");
    bob.wait_until("the command completed", |rows, row, _| {
        rows[row].trim_end() == "> /msg"
    });
    bob.press("AL\t");
    bob.wait_until("alice's name completed", |rows, row, _| {
        rows[row].trim_end() == "> /msg alice"
    });
    bob.press("psst\r");
    see(&alice, "psst");
    bob.wait_until("an empty line", |rows, row, _| rows[row].trim_end() == ">");
    bob.press("\x04");
    see(&alice, "Peer ('bob') is offline");
    assert!(bob.wait().success());
}

#[test]
fn a_long_turkish_message_arrives_whole_in_several_parts() {
    let (_server, alice, mut bob) = bob_in_alices_lobby(&["--color", "never"]);
    // No colour, and no dimmed notices, with --color never.
    let (rows, ..) = bob.screen();
    let notice = rows
        .iter()
        .position(|r| r.starts_with("Joining alice's lobby"))
        .unwrap();
    assert_eq!(bob.look_at(notice, 0), (vt100::Color::Default, false));
    let sentence = "Çok güzel bir gün; şimdi ağaçların altında oturup çay içiyoruz 🌳☕. ";
    let text = sentence.repeat(30);
    let text = text.trim_end();
    assert!(text.len() > 2 * MAX_TEXT, "{} bytes", text.len());
    bob.press(text);
    bob.press("\r");
    bob.sees_times(
        "Sent as 3 messages. One message holds at most 987 bytes: 987 plain letters, 493 letters such as ç or ş, or 246 emoji; a longer line is sent as several messages.",
        1,
    );

    let mut pieces = Vec::new();
    let mut got = String::new();
    while got.replace(' ', "") != text.replace(' ', "") {
        let line = see(&alice, "[bob] ");
        let piece = line.strip_prefix("[bob] ").unwrap().to_string();
        assert!(piece.len() <= MAX_TEXT, "{} bytes", piece.len());
        assert!(
            text.contains(piece.trim_end()),
            "{piece:?} is not part of the text"
        );
        got.push_str(&piece);
        pieces.push(piece);
        assert!(pieces.len() <= 3, "{pieces:#?}");
    }
    assert_eq!(pieces.len(), 3);
    // Each part but the last ends at a word.
    for piece in &pieces[..2] {
        assert!(piece.ends_with(' '), "{piece:?}");
    }
}

#[test]
fn ctrl_c_at_the_password_prompt_exits_and_leaves_echo_on() {
    let server = TestServer::start();
    let logs = temp_dir();
    let mut carol = TerminalPeer::start(server.addr(), logs.path(), &[]);
    carol.answer(WELCOME_PROMPT, "2");
    carol.answer("User name:", "carol");
    carol.sees_times("Password:", 1);
    carol.press("s3cr");
    carol.press("\x03");
    assert!(carol.wait().success());
    assert!(carol.echoes(), "the terminal was left without echo");
}

#[test]
fn at_a_terminal_end_asks_first_and_only_a_yes_ends_the_lobby() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined_with(peer_config(server.addr(), logs.path()), "alice");
    let mut bob = TerminalPeer::start(server.addr(), logs.path(), &[]);
    register_and_join(&mut bob, "bob");
    bob.press("2\r");
    bob.answer("User name to search:", "alice");
    bob.answer(ADD_PROMPT, "Yes");
    bob.answer("Added alice", "3");
    see(&alice, "Chat request from 'bob'");
    alice.type_line("OK");
    see(&alice, "You are in bob's lobby");
    bob.answer("Client ('alice') connected", "/end");
    // The question is asked; a no keeps the lobby going.
    bob.answer("End the lobby for everyone?", "n");
    bob.answer("The lobby goes on.", "still here");
    see(&alice, "[bob] still here");
    bob.press("/end\r");
    bob.sees_times("End the lobby for everyone?", 2);
    bob.press("y\r");
    see(&alice, "The lobby has ended (bob ended it for everyone).");
    bob.sees_times("The lobby has ended (you ended it for everyone).", 1);
}

#[test]
fn own_lines_show_with_the_users_name_and_a_line_that_names_the_user_rings() {
    let (_server, alice, mut bob) = bob_in_alices_lobby(&["--color", "always"]);
    // The echo "> hello alice" gives way to the line as alice sees it.
    bob.press("hello alice\r");
    see(&alice, "[bob] hello alice");
    let own = format!("[\x1b[{}mbob\x1b[0m] hello alice", name_color("bob"));
    bob.sees_times(&own, 1);
    bob.wait_until("bob's own line with his name", |rows, row, _| {
        row > 0
            && rows[row - 1].trim_end() == "[bob] hello alice"
            && rows[row].trim_end() == ">"
            && !rows.iter().any(|r| r.contains("> hello alice"))
    });
    // A command keeps its echo: it is not a message.
    bob.press("/who\r");
    bob.prompted_after("Members: alice, bob");
    assert!(bob.screen().0.iter().any(|r| r.trim_end() == "> /who"));

    // alice names bob: highlighted, and the bell rings; a word that only
    // holds his name does neither.
    alice.type_line("bobcat food");
    bob.prompted_after("bobcat food");
    alice.type_line("look, Bob!");
    bob.sees_times("\x1b[1;7mlook, Bob!\x1b[0m\x07", 1);
    bob.prompted_after("look, Bob!");
    assert_eq!(bob.raw_count("\x07"), 1);
}

/// What bob types and does not send in the resize tests: 60 columns with
/// the prompt, so two rows at 50 columns and one at 120.
const HALF_TYPED: &str = "this line is typed but not sent and it wraps onto two rows";

/// Waits until the window shows `line` right above the line being typed,
/// which is `HALF_TYPED` on two rows of 50 columns.
#[track_caller]
fn shows_above_half_typed(bob: &impl AtTerminal, line: &str) {
    let (head, tail) = HALF_TYPED.split_at(48);
    bob.wait_until(&format!("{line:?} above the typed line"), |rows, row, _| {
        row >= 2
            && rows[row - 2].trim_end() == line
            && rows[row - 1].trim_end() == format!("> {head}")
            && rows[row].trim_end() == tail
    });
}

/// Types `HALF_TYPED` in a window wide enough for it to fit one row, then
/// narrows the window to 50 columns with `narrow`, and waits until the peer
/// has redrawn the line on two rows. Typed after narrowing, the line could
/// be taken in before the news of the resize, and drawn for the old width.
#[track_caller]
fn half_typed_then_narrowed<T: AtTerminal>(bob: &mut T, narrow: impl FnOnce(&mut T)) {
    let typed = format!("> {HALF_TYPED}");
    bob.press(HALF_TYPED);
    bob.wait_until("the typed line on one row", |rows, row, _| {
        rows[row].trim_end() == typed
    });
    narrow(bob);
    let (head, tail) = HALF_TYPED.split_at(48);
    bob.wait_until("the typed line redrawn on two rows", |rows, row, _| {
        row >= 1 && rows[row - 1].trim_end() == format!("> {head}") && rows[row].trim_end() == tail
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
            .filter(|row| row.starts_with("> this line is typed"))
            .count()
    };

    // Widened: the typed line is redrawn on one row, and every chat line
    // stays, on the screen and in the scrollback.
    let drawn = bob.written_count(&format!("> {HALF_TYPED}"));
    bob.resize(120);
    bob.wait_until("the typed line redrawn on one row", |rows, row, _| {
        bob.written_count(&format!("> {HALF_TYPED}")) > drawn
            && rows[row].trim_end() == format!("> {HALF_TYPED}")
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
    let drawn = bob.written_count(&format!("> {HALF_TYPED}"));
    bob.resize(50);
    bob.wait_until("the typed line redrawn on two rows", |rows, row, _| {
        bob.written_count(&format!("> {HALF_TYPED}")) > drawn
            && row > 0
            && rows[row - 1].starts_with("> this line is typed")
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
    let typed = format!("> {HALF_TYPED}");
    let drawn = bob.raw_count(&typed);
    bob.resize(crate::support::ROWS, 120);
    bob.wait_until("the typed line redrawn on one row", |rows, row, raw| {
        raw.matches(&typed).count() > drawn
            && row > 0
            && rows[row].trim_end() == format!("> {HALF_TYPED}")
            && rows[row - 1].trim_end() == "[alice] MARKER-B"
    });
    let drawn = bob.raw_count(&typed);
    bob.resize(crate::support::ROWS, 50);
    bob.wait_until("the typed line redrawn", |_, _, raw| {
        raw.matches(&typed).count() > drawn
    });
    shows_above_half_typed(&bob, "[alice] MARKER-B");
    let (rows, ..) = bob.screen();
    let typed = rows.iter().filter(|row| row.starts_with("> this line"));
    assert_eq!(typed.count(), 1, "{rows:#?}");
    bob.press("\r");
    see(&alice, &format!("[bob] {HALF_TYPED}"));
}

/// `kill` (SIGTERM) ends a peer as Ctrl-C does: it says goodbye and exits,
/// and leaves no `> ` where the shell's prompt comes next; what was typed
/// and not sent is said.
#[test]
fn sigterm_mid_typing_leaves_no_prompt_and_says_what_was_not_sent() {
    let (_server, alice, mut bob) = bob_in_alices_lobby(&[]);
    bob.press("half typed");
    bob.wait_until("the half-typed line", |rows, row, _| {
        rows[row].trim_end() == "> half typed"
    });
    bob.signal(libc::SIGTERM);
    see(&alice, "Peer ('bob') is offline");
    assert!(bob.wait().success());
    let (rows, row, col) = bob.screen();
    let row = usize::from(row);
    assert_eq!((rows[row].trim_end(), col), ("", 0), "{rows:#?}");
    assert_eq!(
        rows[row - 1].trim_end(),
        "Not sent: half typed",
        "{rows:#?}"
    );
    assert!(!rows.iter().any(|r| r.starts_with("> half")), "{rows:#?}");

    // With nothing typed, nothing is said, and no `> ` is left either.
    let server = TestServer::start();
    let logs = temp_dir();
    let mut carol = TerminalPeer::start(server.addr(), logs.path(), &[]);
    carol.prompted_after(WELCOME_PROMPT);
    carol.signal(libc::SIGTERM);
    assert!(carol.wait().success());
    let (rows, row, col) = carol.screen();
    let row = usize::from(row);
    assert_eq!((rows[row].trim_end(), col), ("", 0), "{rows:#?}");
    assert!(
        row > 0 && !rows[row - 1].starts_with('>') && !rows[row - 1].starts_with("Not sent"),
        "{rows:#?}"
    );
}
