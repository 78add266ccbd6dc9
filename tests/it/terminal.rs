//! The real `peer` binary at a terminal (a pseudo-terminal read through a
//! terminal emulator, or tmux): what arrives is drawn above the line being
//! typed, which stays whole (`terminal_resize.rs`: also when the window is
//! resized); a long message goes out in several parts; the keys people use work; a peer
//! ended by a signal leaves the terminal clean.

use p2pchat::peer::{ADD_PROMPT, MENU_PROMPT, WELCOME_PROMPT};
use p2pchat::screen::name_color;
use p2pchat::testing::ScriptedPeer;
use p2pchat::wire::MAX_TEXT;

use crate::support::{
    AtTerminal, PASSWORD, TerminalPeer, TestServer, add, joined_with, peer_config, see, temp_dir,
    typed,
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
    peer.sees_times("The registration process is successful. You can 'join'", 1);
    peer.answer(WELCOME_PROMPT, "2");
    peer.sees_times("Please enter your user name and password to join.", 1);
    peer.answer("User name:", name);
    peer.sees_times("Password:", 2);
    peer.press(&format!("{PASSWORD}\r"));
    peer.sees_times("The 'join' process is successful. You can 'search'", 1);
    peer.prompted_after(MENU_PROMPT);
}

/// A registry, alice as a scripted peer, and bob at a terminal (started
/// with `extra`) in alice's lobby.
pub(super) fn bob_in_alices_lobby(extra: &[&str]) -> (TestServer, ScriptedPeer, TerminalPeer) {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined_with(peer_config(server.addr(), logs.path()), "alice");
    let mut bob = TerminalPeer::start(server.addr(), logs.path(), extra);
    into_alices_lobby(&alice, &mut bob);
    (server, alice, bob)
}

/// bob, at a terminal, registers, joins and accepts alice's invitation.
#[track_caller]
pub(super) fn into_alices_lobby(alice: &ScriptedPeer, bob: &mut impl AtTerminal) {
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
        typed(&rows[row]) == Some("half typed mess")
    });

    alice.type_line("interrupting you");
    // The editor draws the message, then the prompt and the typed text
    // again: wait for both, the message right above the input line.
    bob.sees_above_typed("[alice] interrupting you", "half typed mess");
    let (rows, row, col) = bob.screen();
    let row = usize::from(row);
    // The cursor is at the end of the typed text, whatever the prompt.
    assert_eq!(
        usize::from(col),
        rows[row].trim_end().chars().count(),
        "{rows:#?}"
    );
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
        typed(&rows[row]) == Some("half typed mess")
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
        typed(&rows[row]) == Some("/msg")
    });
    bob.press("AL\t");
    bob.wait_until("alice's name completed", |rows, row, _| {
        typed(&rows[row]) == Some("/msg alice")
    });
    bob.press("psst\r");
    see(&alice, "psst");
    bob.wait_until("an empty line", |rows, row, _| {
        typed(&rows[row]) == Some("")
    });
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
    bob.sees_times("Added alice", 1);
    bob.answer(MENU_PROMPT, "3");
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
            && typed(&rows[row]) == Some("")
            && !rows.iter().any(|r| r.contains("> hello alice"))
    });
    // A command keeps its echo: it is not a message.
    bob.press("/who\r");
    bob.prompted_after("Members: alice, bob");
    assert!(bob.screen().0.iter().any(|r| typed(r) == Some("/who")));

    // alice names bob: highlighted, and the bell rings; a word that only
    // holds his name does neither.
    alice.type_line("bobcat food");
    bob.prompted_after("bobcat food");
    alice.type_line("look, Bob!");
    bob.sees_times("\x1b[1;7mlook, Bob!\x1b[0m\x07", 1);
    bob.prompted_after("look, Bob!");
    assert_eq!(bob.raw_count("\x07"), 1);
}

#[test]
fn the_prompt_names_the_leader_and_counts_who_is_in_from_the_next_line() {
    let (server, alice, mut bob) = bob_in_alices_lobby(&[]);
    // The prompt is taken as a line begins: once bob has said something,
    // it names alice and counts the two of them.
    bob.press("hi\r");
    see(&alice, "[bob] hi");
    bob.wait_until("the lobby's prompt", |rows, row, _| {
        rows[row].trim_end() == "[alice · 2] >"
    });
    let logs = temp_dir();
    let carol = joined_with(peer_config(server.addr(), logs.path()), "carol");
    alice.type_line("/invite carol");
    see(&carol, "Chat request from 'alice'");
    carol.type_line("OK");
    bob.sees_times("Peer ('carol') joined the lobby", 1);
    // The line after the news begins with the new count.
    bob.press("welcome\r");
    see(&carol, "[bob] welcome");
    bob.wait_until("three in the lobby", |rows, row, _| {
        rows[row].trim_end() == "[alice · 3] >"
    });
    carol.type_line("/leave");
    bob.sees_times("Peer ('carol') is offline", 1);
    bob.press("bye carol\r");
    see(&alice, "[bob] bye carol");
    bob.wait_until("two in the lobby again", |rows, row, _| {
        rows[row].trim_end() == "[alice · 2] >"
    });
    // Back at the menu, the prompt says nothing more.
    bob.press("/leave\r");
    bob.wait_until("the menu's prompt", |rows, row, _| {
        rows[row].trim_end() == ">" && rows[..row].iter().any(|r| r.contains(MENU_PROMPT))
    });
}

#[test]
fn a_line_half_typed_when_the_lobby_ends_is_not_taken_as_a_menu_choice() {
    let (_server, alice, mut bob) = bob_in_alices_lobby(&[]);
    bob.press("hello");
    bob.wait_until("the half-typed line", |rows, row, _| {
        typed(&rows[row]) == Some("hello")
    });
    alice.type_line("/end");
    // The news and the menu's question are drawn above the line bob is
    // still typing (the menu shown at the join is higher up).
    bob.wait_until("the menu above the half-typed line", |rows, row, _| {
        let ended = rows[..row]
            .iter()
            .position(|r| r.contains("The lobby has ended (alice ended it for everyone)."));
        typed(&rows[row]) == Some("hello")
            && ended.is_some_and(|at| rows[at..row].iter().any(|r| r.contains(MENU_PROMPT)))
    });
    let menus = bob.raw_count(MENU_PROMPT);
    bob.press("\r");
    bob.sees_times(
        "Not used: \"hello\" was typed before the question above, so it is not taken as its answer. Type it again if you meant it.",
        1,
    );
    // It was no answer to the menu: the menu is asked again, not answered.
    bob.sees_times(MENU_PROMPT, menus + 1);
    bob.prompted_after(MENU_PROMPT);
    assert_eq!(bob.raw_count("Please type 1, 2 or 3"), 0);
    // The menu answers the next line.
    bob.press("x\r");
    bob.prompted_after("Please type 1, 2 or 3");
}

#[test]
fn a_name_half_typed_when_a_chat_request_comes_is_not_its_answer() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined_with(peer_config(server.addr(), logs.path()), "alice");
    let mut bob = TerminalPeer::start(server.addr(), logs.path(), &[]);
    register_and_join(&mut bob, "bob");
    bob.press("2\r");
    bob.prompted_after("User name to search:");
    bob.press("carol");
    bob.wait_until("the half-typed name", |rows, row, _| {
        typed(&rows[row]) == Some("carol")
    });
    add(&alice, "bob");
    alice.type_line("3");
    let question = "Chat request from 'alice'. Accept? ['OK', 'REJECT']";
    bob.sees_times(question, 1);
    bob.press("\r");
    bob.sees_times(
        "Not used: \"carol\" was typed before the question above, so it is not taken as its answer. Type it again if you meant it.",
        1,
    );
    // The question is asked again, and answered by the next line.
    bob.sees_times(question, 2);
    bob.prompted_after(question);
    bob.press("OK\r");
    see(&alice, "Client ('bob') connected");
    bob.prompted_after("You are in alice's lobby with: alice, bob.");
}

#[test]
fn at_a_terminal_a_taken_name_is_told_before_the_password_and_asked_again() {
    let server = TestServer::start();
    let logs = temp_dir();
    let _alice = joined_with(peer_config(server.addr(), logs.path()), "alice");
    let mut carol = TerminalPeer::start(server.addr(), logs.path(), &[]);
    carol.answer(WELCOME_PROMPT, "1");
    carol.answer("User name:", "Alice");
    carol.prompted_after("The name Alice is taken; please pick another.");
    assert_eq!(carol.raw_count("Password:"), 0);
    // Asked again in the line editor: a name is no secret, and shows.
    carol.sees_times("User name:", 2);
    carol.press("carol");
    carol.wait_until("the new name typed", |rows, row, _| {
        typed(&rows[row]) == Some("carol")
    });
    carol.press("\r");
    carol.sees_times("Password:", 1);
    carol.press(&format!("{PASSWORD}\r"));
    carol.sees_times("Password again:", 1);
    carol.press(&format!("{PASSWORD}\r"));
    carol.sees_times("The registration process is successful. You can 'join'", 1);
}

#[test]
fn a_password_typed_while_the_name_is_checked_is_never_shown_nor_taken_for_a_name() {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    // A registry that holds its answer to NAME until the test says, as a
    // slow one (or one whose packets someone delays) would.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (heard_tx, heard) = crossbeam_channel::bounded::<String>(4);
    let (go_tx, go) = crossbeam_channel::bounded::<()>(1);
    let registry = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut lines = BufReader::new(stream).lines();
        let mut next_name = || loop {
            let line = lines.next()?.ok()?;
            if line.starts_with("NAME ") {
                return Some(line);
            }
        };
        let first = next_name().unwrap();
        heard_tx.send(first).unwrap();
        go.recv().unwrap();
        writeln!(
            writer,
            "ERR NAME_TAKEN the name victim is taken; pick another"
        )
        .unwrap();
        let second = next_name().unwrap_or_default();
        heard_tx.send(second).unwrap();
        writeln!(writer, "OK NAME_FREE carol").unwrap();
    });
    let logs = temp_dir();
    let mut peer = TerminalPeer::start(addr, logs.path(), &[]);
    peer.answer(WELCOME_PROMPT, "1");
    peer.answer("User name:", "victim");
    let wait = std::time::Duration::from_secs(30);
    assert_eq!(heard.recv_timeout(wait).unwrap(), "NAME victim");
    // Out of habit, the password right after the name, before it is asked.
    peer.press("Hunter2secret\r");
    go_tx.send(()).unwrap();
    peer.prompted_after("The name victim is taken; please pick another.");
    peer.sees_times("User name:", 2);
    peer.press("carol\r");
    // The next name is the one typed after the question: the password
    // typed ahead was dropped unread, and never drawn.
    assert_eq!(heard.recv_timeout(wait).unwrap(), "NAME carol");
    peer.sees_times("Password:", 1);
    assert_eq!(peer.raw_count("Hunter2secret"), 0);
    registry.join().unwrap();
}

/// `kill` (SIGTERM) ends a peer as Ctrl-C does: it says goodbye and exits,
/// and leaves no `> ` where the shell's prompt comes next; what was typed
/// and not sent is said.
#[test]
fn sigterm_mid_typing_leaves_no_prompt_and_says_what_was_not_sent() {
    let (_server, alice, mut bob) = bob_in_alices_lobby(&[]);
    bob.press("half typed");
    bob.wait_until("the half-typed line", |rows, row, _| {
        typed(&rows[row]) == Some("half typed")
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
    assert!(!rows.iter().any(|r| r.contains("> half")), "{rows:#?}");

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
