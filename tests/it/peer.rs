//! End-to-end tests of the peer: a real registry and several peers on
//! loopback, each peer driven as its user would drive it.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::thread;
use std::time::Duration;

use p2pchat::peer::{MENU_PROMPT, WELCOME_PROMPT};
use p2pchat::testing::ScriptedPeer;

use crate::support::{
    Client, PASSWORD, PEER_WAIT, PeerProcess, TestServer, add, joined, joined_with, lobby,
    peer_config, register_and_join, see, see_all, see_lines, temp_dir,
};

/// Issue #23's last race: at a terminal, Enter pressed in the moment after
/// the peer asked a new question, before it was drawn, gave the line to
/// that question. A line that had seen only an older question is shown
/// back as not used, and the question is asked again; a piped line is
/// taken as it comes.
#[test]
fn a_line_entered_before_a_new_question_is_drawn_is_not_its_answer() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let bob = joined(&server, logs.path(), "bob");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);

    // The lobby ends as bob sends a chat line `1`: the menu was asked, not
    // yet drawn.
    let in_lobby = bob.questions_seen();
    alice.type_line("/end");
    see(&bob, "The lobby has ended (alice ended it for everyone).");
    bob.type_seen("1", in_lobby);
    let lines = see_lines(
        &bob,
        "Not used: \"1\" was typed before the question above, so it is not taken as its answer.",
    );
    assert!(lines.iter().any(|l| l.contains(MENU_PROMPT)), "{lines:#?}");
    // No menu action ran; the menu is asked again, and answers the next line.
    let lines = see_lines(&bob, MENU_PROMPT);
    bob.type_seen("x", bob.questions_seen());
    let lines = [lines, see_lines(&bob, "Please type 1, 2 or 3")].concat();
    assert!(
        !lines.iter().any(|l| l.contains("ONLINE USER LIST")),
        "{lines:#?}"
    );

    // A chat request comes as bob enters a name to search.
    see(&bob, MENU_PROMPT);
    bob.type_seen("2", bob.questions_seen());
    see(&bob, "User name to search:");
    let searching = bob.questions_seen();
    alice.type_line("3");
    let question = "Chat request from 'alice'. Accept? ['OK', 'REJECT']";
    see(&bob, question);
    bob.type_seen("carol", searching);
    see(
        &bob,
        "Not used: \"carol\" was typed before the question above",
    );
    // A piped line is never judged: it answers whatever is asked.
    bob.type_line("OK");
    see(&bob, "You are in alice's lobby");
    see(&alice, "Client ('bob') connected");
}

#[test]
fn menus_answer_mistakes_and_show_the_list() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = ScriptedPeer::start(peer_config(server.addr(), logs.path())).unwrap();
    see(&alice, WELCOME_PROMPT);
    alice.type_line("9");
    see(&alice, "Please type 1 to register or 2 to join");
    alice.type_line("2");
    alice.type_line("bad name!");
    see(&alice, "That name will not do");
    alice.type_line("alice");
    alice.type_line("no");
    see(&alice, "That password will not do");
    alice.type_line("wrongpass");
    see(&alice, "Could not join alice: wrong user name or password");
    see(&alice, WELCOME_PROMPT);
    drop(alice);

    let alice = joined(&server, logs.path(), "alice");
    let _bob = joined(&server, logs.path(), "bob");
    alice.type_line("x");
    see(&alice, "Please type 1, 2 or 3");
    alice.type_line("1");
    see(&alice, "<<< ONLINE USER LIST >>>");
    see(&alice, "User name");
    let row = see(&alice, "bob");
    assert!(row.contains("127.0.0.1"), "{row}");
    see(&alice, "2 users online.");
    alice.type_line("3");
    see(&alice, "Your conversation list is empty");
    for (name, answer) in [
        ("nobody", "There is no user called nobody"),
        ("alice", "That is you"),
    ] {
        alice.type_line("2");
        alice.type_line(name);
        see(&alice, answer);
    }
    add(&alice, "bob");
    alice.type_line("2");
    alice.type_line("bob");
    see(&alice, "bob is on your conversation list already");
}

#[test]
fn a_piped_peer_hears_that_a_name_is_taken_before_its_password_is_asked() {
    let server = TestServer::start();
    let logs = temp_dir();
    let _alice = joined(&server, logs.path(), "alice");
    let mut bob = PeerProcess::start_with("bob", server.addr(), logs.path(), &[]);
    bob.sees(WELCOME_PROMPT);
    bob.types("1");
    bob.types("ALICE");
    bob.types(PASSWORD);
    bob.sees("The name ALICE is taken; please pick another.");
    assert_eq!(bob.seen_count("Password:"), 0);
    // The password written after the name is taken for no name: the first
    // menu answers it, and shows none of it.
    bob.sees(WELCOME_PROMPT);
    bob.sees("Please type 1 to register or 2 to join.");
    for line in ["1", "bob", PASSWORD] {
        bob.types(line);
    }
    bob.sees("Password:");
    bob.sees("The registration process is successful.");
    let (status, printed, _) = bob.wait();
    assert!(status.success(), "{status}");
    assert!(
        !printed.iter().any(|line| line.contains(PASSWORD)),
        "{printed:#?}"
    );
}

#[test]
fn requests_are_answered_ok_reject_and_busy() {
    let server = TestServer::start();
    let logs = temp_dir();
    let names = ["alice", "bob", "carol", "dave", "erin", "frank", "gina"];
    let peers: Vec<ScriptedPeer> = names
        .iter()
        .map(|name| joined(&server, logs.path(), name))
        .collect();
    let [alice, bob, carol, dave, erin, frank, gina] = &peers[..] else {
        unreachable!()
    };

    // Dave is in erin's lobby; frank has gina's request waiting unanswered.
    add(erin, "dave");
    lobby(erin, "erin", &[dave]);
    add(gina, "frank");
    gina.type_line("3");
    see(frank, "Chat request from 'gina'");

    for name in ["bob", "carol", "dave", "frank"] {
        add(alice, name);
    }
    alice.type_line("3");
    see(bob, "Chat request from 'alice'");
    bob.type_line("ok");
    see(carol, "Chat request from 'alice'");
    carol.type_line("REJECT");
    see(carol, "Rejected the chat request from 'alice'");
    see(carol, MENU_PROMPT);
    see_all(
        alice,
        &[
            "Client ('bob') connected",
            "carol: rejected",
            "dave: busy (in a chat)",
            "frank: busy (answering another request)",
        ],
    );
    see(bob, "You are in alice's lobby with: alice, bob");

    // Frank's own request is still his to answer.
    frank.type_line("no");
    see(gina, "frank: rejected");
}

#[test]
fn unanswered_and_unreachable_invitees_are_reported() {
    let server = TestServer::start();
    let logs = temp_dir();
    let mut quick = peer_config(server.addr(), logs.path());
    quick.invite_timeout = Duration::from_millis(300);
    let alice = joined_with(quick, "alice");
    let bob = joined(&server, logs.path(), "bob");
    let carol = joined(&server, logs.path(), "carol");
    // Dave is online at the registry, but nothing listens on his chat port.
    let dave = FakeMember::join(&server, "dave");
    add(&alice, "bob");
    add(&alice, "carol");
    add(&alice, "dave");
    drop(dave.listener);
    carol.finish().unwrap();

    alice.type_line("3");
    see(&bob, "Chat request from 'alice'");
    see_all(
        &alice,
        &["bob: no answer", "carol: offline", "dave: unreachable"],
    );
    see(&alice, "The lobby has ended (nobody else is in it)");
    see(&alice, MENU_PROMPT);

    // The request is withdrawn as soon as the leader gives up; Bob's "ok"
    // is then a menu choice, and no lobby was logged for him.
    see(
        &bob,
        "The chat request from 'alice' was withdrawn: the leader closed the connection.",
    );
    see(&bob, MENU_PROMPT);
    bob.type_line("ok");
    see(&bob, "Please type 1, 2 or 3");
    assert!(
        !logs.path().join("bob").exists()
            || fs::read_dir(logs.path().join("bob"))
                .unwrap()
                .next()
                .is_none(),
        "a log was written for a lobby bob never joined"
    );
}

#[test]
fn a_lobby_chats_survives_a_member_leaving_and_ends_with_its_leader() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let bob = joined(&server, logs.path(), "bob");
    let carol = joined(&server, logs.path(), "carol");
    add(&alice, "bob");
    add(&alice, "carol");
    lobby(&alice, "alice", &[&bob, &carol]);
    see_all(
        &alice,
        &["Client ('bob') connected", "Client ('carol') connected"],
    );

    alice.type_line("hello both");
    see(&bob, "[alice] hello both");
    see(&carol, "[alice] hello both");
    bob.type_line("hi from bob");
    see(&alice, "[bob] hi from bob");
    see(&carol, "[bob] hi from bob");
    carol.type_line("/members");
    see(&carol, "Members: alice, bob, carol");
    alice.type_line("/members");
    see(&alice, "Members: alice, bob, carol");

    bob.type_line("/leave");
    see(&bob, "You left alice's lobby");
    see(&bob, MENU_PROMPT);
    see(&alice, "Peer ('bob') is offline");
    see(&carol, "Peer ('bob') is offline");
    carol.type_line("still here");
    see(&alice, "[carol] still here");

    alice.type_line("/end");
    see(&alice, "The lobby has ended (you ended it for everyone)");
    see(&carol, "The lobby has ended (alice ended it for everyone)");
    see(&carol, MENU_PROMPT);

    let alice_log = only_log(&logs.path().join("alice"));
    for line in [
        "* lobby started by alice",
        "* bob joined",
        "[alice] hello both",
        "[bob] hi from bob",
        "* bob left",
        "[carol] still here",
        "* lobby ended: you ended it for everyone",
    ] {
        assert!(
            alice_log.contains(line),
            "{line:?} missing from {alice_log}"
        );
    }
    let carol_log = only_log(&logs.path().join("carol"));
    for line in [
        "* joined the lobby of alice",
        "[alice] hello both",
        "[bob] hi from bob",
        "* bob left",
        "[carol] still here",
        "* lobby ended: alice ended it for everyone",
    ] {
        assert!(
            carol_log.contains(line),
            "{line:?} missing from {carol_log}"
        );
    }
}

/// Reads the one log file in `dir`, checking its name's shape.
fn only_log(dir: &Path) -> String {
    let files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    // <YYYY-MM-DD_HH-MM-SS>_<leader>.log
    assert!(name.ends_with("_alice.log"), "{name}");
    assert_eq!(name.as_bytes()[10], b'_', "{name}");
    fs::read_to_string(&files[0]).unwrap()
}

#[test]
fn quitting_in_a_lobby_leaves_it_and_logs_out() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let bob = joined(&server, logs.path(), "bob");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);
    bob.type_line("bye now");
    see(&alice, "[bob] bye now");
    let shown = bob.finish().unwrap();
    assert_eq!(shown.last().map(String::as_str), Some("Bye."), "{shown:?}");
    see(&alice, "Peer ('bob') is offline");
    let mut client = register_and_join(server.addr(), "zed", 5000);
    assert!(client.ask("SEARCH bob").starts_with("ERR OFFLINE"));
    let bob_log = fs::read_to_string(
        fs::read_dir(logs.path().join("bob"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    assert!(bob_log.contains("[bob] bye now"), "{bob_log}");
    assert!(bob_log.contains("* you left the lobby"), "{bob_log}");
}

/// A stand-in member: registered and joined over the registry protocol,
/// listening on its own chat port, answering `OK` to the first request.
struct FakeMember {
    name: String,
    _registry: Client,
    listener: TcpListener,
}

impl FakeMember {
    fn join(server: &TestServer, name: &str) -> FakeMember {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let registry = register_and_join(server.addr(), name, port);
        FakeMember {
            name: name.to_string(),
            _registry: registry,
            listener,
        }
    }

    /// Accepts the chat request, then reads until `wanted` arrives.
    fn accept_and_wait_for(self, wanted: String) -> String {
        let (stream, _) = self.listener.accept().unwrap();
        stream.set_read_timeout(Some(PEER_WAIT)).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("CHAT_REQUEST alice"), "{line}");
        (&stream).write_all(b"OK\n").unwrap();
        loop {
            line.clear();
            assert!(
                reader.read_line(&mut line).unwrap() > 0,
                "{} got EOF",
                self.name
            );
            if line.trim_end() == wanted {
                return line;
            }
        }
    }
}

#[test]
fn a_lobby_of_200_members_reaches_everyone() {
    // The fake members never say HELLO, and 200 registrations on a loaded
    // machine can take longer than the default idle timeout: the first of
    // them must still be online when alice searches them. They never CHECK
    // their tickets either, so all 200 stay unused: more than a user may
    // hold by default.
    let server = TestServer::with_config(|config| {
        config.hello_timeout = Duration::from_secs(3600);
        config.max_invites_per_user = 256;
    });
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    // A few threads share the registrations and the listeners.
    let members: Vec<FakeMember> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let server = &server;
                scope.spawn(move || {
                    (0..50)
                        .map(|i| FakeMember::join(server, &format!("m{t}_{i}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    for member in &members {
        add(&alice, &member.name);
    }
    let waiting: Vec<_> = members
        .into_iter()
        .map(|m| thread::spawn(move || m.accept_and_wait_for("MSG alice hello 200".into())))
        .collect();
    alice.type_line("3");
    for _ in 0..200 {
        see(&alice, "OK -> ('127.0.0.1', ");
    }
    alice.type_line("/members");
    let members_line = see(&alice, "Members: alice, ");
    assert_eq!(members_line.matches(", ").count(), 200, "{members_line}");
    alice.type_line("hello 200");
    for handle in waiting {
        assert_eq!(handle.join().unwrap().trim_end(), "MSG alice hello 200");
    }
}

#[test]
fn a_member_dropped_for_a_line_too_long_is_offline_with_the_reason() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let mallory = FakeMember::join(&server, "mallory");
    add(&alice, "mallory");
    alice.type_line("3");
    let rude = thread::spawn(move || {
        let (mut stream, _) = mallory.listener.accept().unwrap();
        stream.set_read_timeout(Some(PEER_WAIT)).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        stream.write_all(b"OK\n").unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("MEMBERS "), "{line}");
        let long = format!("MSG {}\n", "x".repeat(1100));
        stream.write_all(long.as_bytes()).unwrap();
        // Other lines (a lobby secret, heartbeats) may come first.
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap() == 0 || line.starts_with("ERR ") {
                return line;
            }
        }
    });
    see(&alice, "Client ('mallory') connected");
    see(
        &alice,
        "Peer ('mallory') is offline (it sent a line too long)",
    );
    assert!(rude.join().unwrap().starts_with("ERR LINE_TOO_LONG"));
}
