//! The lobby while it runs (issue 14): invitations into a running lobby,
//! a member's invite requests, private messages, kicks and history for late
//! joiners, with real peers on loopback and members played over raw sockets.

use std::net::TcpListener;
use std::time::Duration;

use p2pchat::lobby::InvitePolicy;
use p2pchat::peer::PeerConfig;

use crate::support::{
    Client, TestServer, add, joined, joined_with, lobby, log_of, peer_config, register_and_join,
    see, see_all, see_lines, temp_dir,
};

/// A member with no program: joined at the registry over `nc`-like lines,
/// listening on its own chat port, answering chat requests by hand.
struct RawMember {
    _registry: Client,
    listener: TcpListener,
}

impl RawMember {
    fn join(server: &TestServer, name: &str) -> RawMember {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        RawMember {
            _registry: register_and_join(server.addr(), name, port),
            listener,
        }
    }

    /// Takes the next chat request from `leader`, answers `OK` and reads
    /// `MEMBERS`; returns the connection and the `MEMBERS` line.
    fn accept(&self, leader: &str) -> (Client, String) {
        let mut chat = Client::accept(&self.listener);
        let request = chat.recv();
        assert!(
            request.starts_with(&format!("CHAT_REQUEST {leader} ")),
            "{request}"
        );
        let members = chat.ask("OK");
        (chat, members)
    }
}

/// The next line from the leader that is not a heartbeat: a busy machine
/// may well take longer than the leader's `HELLO` interval between steps.
/// The lines of a lobby's succession (`CREDENTIAL`, `SEAT`, `SEQ`) are
/// skipped too, as a member from before them skips them.
#[track_caller]
fn next(chat: &mut Client) -> String {
    loop {
        let line = chat.recv();
        let keyword = line.split(' ').next().unwrap_or_default();
        if !matches!(keyword, "HELLO" | "CREDENTIAL" | "SEAT" | "SEQ") {
            return line;
        }
    }
}

/// Sends `line` and returns the next line that is not a heartbeat.
#[track_caller]
fn ask(chat: &mut Client, line: &str) -> String {
    chat.send(line);
    next(chat)
}

/// Reads until `wanted`, returning the lines before it, heartbeats aside.
#[track_caller]
fn recv_until(chat: &mut Client, wanted: &str) -> Vec<String> {
    let mut before = Vec::new();
    loop {
        let line = next(chat);
        if line == wanted {
            return before;
        }
        before.push(line);
    }
}

#[test]
fn the_leader_invites_into_a_running_lobby_and_everyone_sees_the_outcome() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let bob = joined(&server, logs.path(), "bob");
    let carol = joined(&server, logs.path(), "carol");
    let dave = joined(&server, logs.path(), "dave");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);
    alice.type_line("before carol");
    see(&bob, "[alice] before carol");

    // Carol was never on alice's list: /invite needs only her name.
    alice.type_line("/invite carol");
    see(&alice, "Sending a chat request to carol...");
    see(&bob, "alice invited carol");
    see(&carol, "Chat request from 'alice'");
    carol.type_line("OK");
    see(&carol, "You are in alice's lobby with: alice, bob, carol");
    see(&alice, "OK -> ('127.0.0.1', ");
    see(&alice, "Client ('carol') connected");
    see(&bob, "Peer ('carol') joined the lobby");
    carol.type_line("hi all");
    see(&alice, "[carol] hi all");
    see(&bob, "[carol] hi all");

    alice.type_line("/invite dave");
    see(&dave, "Chat request from 'alice'");
    dave.type_line("REJECT");
    see(&alice, "dave: rejected your chat request");
    see_all(
        &bob,
        &["alice invited dave", "dave rejected the invitation"],
    );
    see_all(
        &carol,
        &["alice invited dave", "dave rejected the invitation"],
    );

    // Mistakes are answered, never sent.
    alice.type_line("/invite bob");
    see(&alice, "bob is in this lobby already.");
    alice.type_line("/invite nobody");
    see(&alice, "nobody: not registered (check the name)");
    alice.type_line("/invite alice");
    see(&alice, "That is you.");
    alice.type_line("/dance");
    see(&alice, "Unknown command /dance.");
    alice.type_line("//dance is a command");
    // No request went out to a name nobody has: the members heard nothing.
    let heard = see_lines(&bob, "[alice] /dance is a command");
    assert!(!heard.iter().any(|l| l.contains("nobody")), "{heard:#?}");

    // The registry from inside the lobby, which goes on meanwhile. The
    // lines' wording is the menu's; the address is in them either way.
    bob.type_line("/search dave");
    see(&bob, "127.0.0.1");
    bob.type_line("/list");
    see(&bob, "dave");
    bob.type_line("still in the lobby");
    see(&alice, "[bob] still in the lobby");
    see(&carol, "[bob] still in the lobby");

    let alice_log = log_of(logs.path(), "alice");
    for line in ["* invited carol", "* carol joined", "[carol] hi all"] {
        assert!(
            alice_log.contains(line),
            "{line:?} missing from {alice_log}"
        );
    }
}

#[test]
fn a_members_invite_request_is_granted_unless_only_the_leader_invites() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let bob = joined(&server, logs.path(), "bob");
    let carol = joined(&server, logs.path(), "carol");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);

    bob.type_line("/invite carol");
    see(&bob, "Asked alice to invite carol.");
    see(&alice, "bob asks you to invite carol.");
    see(
        &bob,
        "bob asked to invite carol; alice sent the chat request",
    );
    see(&carol, "Chat request from 'alice'");
    carol.type_line("OK");
    see(&carol, "You are in alice's lobby with: alice, bob, carol");
    see(&bob, "Peer ('carol') joined the lobby");
    // Asking again for someone who is here is refused by the leader.
    bob.type_line("/invite carol");
    see(&bob, "carol is in this lobby already.");
    alice.type_line("/end");
    see(&bob, "The lobby has ended (alice ended it for everyone)");
    see(&carol, "The lobby has ended (alice ended it for everyone)");

    let mut strict: PeerConfig = peer_config(server.addr(), logs.path());
    strict.invites = InvitePolicy::Leader;
    let erin = joined_with(strict, "erin");
    let frank = joined(&server, logs.path(), "frank");
    add(&erin, "frank");
    lobby(&erin, "erin", &[&frank]);
    frank.type_line("/invite carol");
    see(
        &frank,
        "The leader says: only the leader invites in this lobby; ask erin.",
    );
    see(
        &erin,
        "frank asked to invite carol; only you invite in this lobby",
    );
    // Carol was asked nothing: erin's next message is the next thing frank
    // sees, and carol is still free to be invited by erin herself.
    erin.type_line("/invite carol");
    see(&carol, "Chat request from 'erin'");
    carol.type_line("OK");
    see(&frank, "erin invited carol");
    see(&frank, "Peer ('carol') joined the lobby");
}

#[test]
fn a_private_message_reaches_its_addressee_and_nobody_else() {
    let server = TestServer::with_timeout(Duration::from_secs(3600));
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let bob = joined(&server, logs.path(), "bob");
    let dave = joined(&server, logs.path(), "dave");
    let carol = RawMember::join(&server, "carol");
    add(&alice, "bob");
    add(&alice, "carol");
    add(&alice, "dave");
    alice.type_line("3");
    let (mut carol_chat, members) = carol.accept("alice");
    assert_eq!(members, "MEMBERS alice carol");
    for member in [&bob, &dave] {
        see(member, "Chat request from 'alice'");
        member.type_line("OK");
        see(member, "You are in alice's lobby");
    }
    recv_until(&mut carol_chat, "JOINED dave");

    bob.type_line("/msg carol psst carol");
    see(&bob, "[you -> carol] psst carol");
    bob.type_line("public after");
    let before = recv_until(&mut carol_chat, "MSG bob public after");
    assert_eq!(before, ["PM bob psst carol"]);
    for other in [&alice, &dave] {
        let lines = see_lines(other, "[bob] public after");
        assert!(
            lines.iter().all(|l| !l.contains("psst")),
            "the PM leaked: {lines:?}"
        );
    }

    // Carol by hand: to a member, to the leader, to nobody, to herself.
    carol_chat.send("PM bob hi bob");
    see(&bob, "[carol -> you] hi bob");
    carol_chat.send("PM Alice hi alice");
    see(&alice, "[carol -> you] hi alice");
    assert_eq!(
        ask(&mut carol_chat, "PM nobody hi"),
        "ERR NOT_IN_LOBBY nobody is not in this lobby"
    );
    assert_eq!(
        ask(&mut carol_chat, "PM carol hi me"),
        "ERR BAD_ARGS a private message to yourself goes nowhere"
    );
    assert_eq!(
        ask(&mut carol_chat, "PM bob"),
        "ERR BAD_ARGS a message needs some text"
    );
    assert_eq!(
        ask(&mut carol_chat, "INVITE bob"),
        "ERR ALREADY_IN_LOBBY bob is in this lobby already"
    );
    alice.type_line("/msg carol from the leader");
    see(&alice, "[you -> carol] from the leader");
    assert_eq!(next(&mut carol_chat), "PM alice from the leader");
    carol_chat.send("MSG public from carol");
    let lines = see_lines(&dave, "[carol] public from carol");
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("hi ") && !l.contains("leader")),
        "{lines:?}"
    );

    let bob_log = log_of(logs.path(), "bob");
    assert!(bob_log.contains("[you -> carol] psst carol"), "{bob_log}");
    assert!(bob_log.contains("[carol -> you] hi bob"), "{bob_log}");
    let alice_log = log_of(logs.path(), "alice");
    assert!(alice_log.contains("[carol -> you] hi alice"), "{alice_log}");
    assert!(alice_log.contains("[you -> carol] from the leader"));
    assert!(!alice_log.contains("psst"), "{alice_log}");
    let dave_log = log_of(logs.path(), "dave");
    assert!(!dave_log.contains("psst") && !dave_log.contains("hi bob"));

    // The leader removes carol: her lobby ends with the reason, the others
    // see who was removed, and the peers' lists follow.
    alice.type_line("/kick carol  too  chatty");
    assert_eq!(
        recv_until(&mut carol_chat, "CLOSED KICKED too  chatty"),
        Vec::<String>::new()
    );
    carol_chat.expect_eof();
    see(
        &alice,
        "Peer ('carol') is offline (removed by you: too  chatty)",
    );
    see(
        &bob,
        "Peer ('carol') is offline (removed by alice: too  chatty)",
    );
    bob.type_line("/who");
    see(&bob, "Members: alice, bob, dave");
    alice.type_line("/kick carol");
    see(&alice, "carol is not in this lobby.");
    bob.type_line("/kick dave");
    see(&bob, "Only the leader can remove members.");
}

#[test]
fn a_kicked_peer_sees_why_and_is_back_at_the_menu() {
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
    alice.type_line("/kick bob");
    see(&bob, "The lobby has ended (alice removed you)");
    see(&bob, p2pchat::peer::MENU_PROMPT);
    see(&carol, "Peer ('bob') is offline (removed by alice)");
    carol.type_line("/members");
    see(&carol, "Members: alice, carol");
    let bob_log = log_of(logs.path(), "bob");
    assert!(
        bob_log.contains("* lobby ended: alice removed you"),
        "{bob_log}"
    );
}

#[test]
fn a_late_joiner_gets_exactly_the_last_messages_and_no_private_one() {
    let server = TestServer::with_timeout(Duration::from_secs(3600));
    let logs = temp_dir();
    let mut config = peer_config(server.addr(), logs.path());
    config.history = 3;
    let alice = joined_with(config, "alice");
    let bob = joined(&server, logs.path(), "bob");
    let carol = joined(&server, logs.path(), "carol");
    let dave = RawMember::join(&server, "dave");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);
    // Each message is seen before the next is typed, so the hub gets them
    // in this order.
    for (from, text) in [
        ("alice", "m1"),
        ("bob", "m2"),
        ("alice", "m3"),
        ("bob", "m4"),
    ] {
        if from == "alice" {
            alice.type_line(text);
            see(&bob, &format!("[alice] {text}"));
        } else {
            bob.type_line(text);
            see(&alice, &format!("[bob] {text}"));
        }
    }
    bob.type_line("/msg alice secret");
    see(&alice, "[bob -> you] (verified) secret");
    alice.type_line("m5");
    see(&bob, "[alice] m5");

    alice.type_line("/invite carol");
    see(&carol, "Chat request from 'alice'");
    carol.type_line("OK");
    see(&carol, "You are in alice's lobby with: alice, bob, carol");
    see(&carol, "--- earlier in this lobby ---");
    alice.type_line("live now");
    let earlier = see_lines(&carol, "--- end of earlier messages ---");
    let earlier: Vec<&str> = earlier[..earlier.len() - 1]
        .iter()
        .map(|line| line.split_once(' ').expect("a time first").1)
        .collect();
    assert_eq!(earlier, ["[alice] m3", "[bob] m4", "[alice] m5"]);
    see(&carol, "[alice] live now");

    // The same over a raw socket: the lines themselves.
    alice.type_line("/invite dave");
    let (mut dave_chat, members) = dave.accept("alice");
    assert_eq!(members, "MEMBERS alice bob carol dave");
    let mut replayed = Vec::new();
    for _ in 0..3 {
        let line = next(&mut dave_chat);
        let mut words = line.splitn(4, ' ');
        assert_eq!(words.next(), Some("HISTORY"), "{line}");
        let time = words.next().unwrap();
        assert!(time.ends_with('Z') && time.len() == 20, "{line}");
        replayed.push(format!(
            "{} {}",
            words.next().unwrap(),
            words.next().unwrap()
        ));
    }
    assert_eq!(replayed, ["bob m4", "alice m5", "alice live now"]);
    // A private message never reaches the history: the next line is live.
    alice.type_line("after dave");
    assert_eq!(next(&mut dave_chat), "MSG alice after dave");
    let carol_log = log_of(logs.path(), "carol");
    assert!(carol_log.contains("* history, said "), "{carol_log}");
    assert!(carol_log.contains(": [bob] m4"), "{carol_log}");
    assert!(!carol_log.contains("secret"), "{carol_log}");
}

#[test]
fn members_hear_of_an_invitation_nobody_answers() {
    let server = TestServer::with_timeout(Duration::from_secs(3600));
    let logs = temp_dir();
    let mut config = peer_config(server.addr(), logs.path());
    // Carol answers at once, over loopback, from this thread: well within
    // the window. Dave never answers, and this is how long he has.
    config.invite_timeout = Duration::from_millis(700);
    let alice = joined_with(config, "alice");
    let carol = RawMember::join(&server, "carol");
    let dave = RawMember::join(&server, "dave");
    add(&alice, "carol");
    alice.type_line("3");
    let (mut carol_chat, members) = carol.accept("alice");
    assert_eq!(members, "MEMBERS alice carol");

    alice.type_line("/invite dave");
    let mut dave_chat = Client::accept(&dave.listener);
    assert!(next(&mut dave_chat).starts_with("CHAT_REQUEST alice "));
    assert_eq!(next(&mut carol_chat), "INVITATION dave SENT alice");
    assert_eq!(next(&mut carol_chat), "INVITATION dave NO_ANSWER");
    see(&alice, "dave: no answer");
    dave_chat.expect_eof();
}

#[test]
fn an_invitee_that_withdraws_the_request_did_not_answer() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let carol = RawMember::join(&server, "carol");
    let dave = RawMember::join(&server, "dave");
    add(&alice, "carol");
    alice.type_line("3");
    let (mut carol_chat, _) = carol.accept("alice");

    // Dave's peer reads the request and closes, as a real one does when
    // its own answer window runs out before the leader's.
    alice.type_line("/invite dave");
    let mut dave_chat = Client::accept(&dave.listener);
    assert!(next(&mut dave_chat).starts_with("CHAT_REQUEST alice "));
    drop(dave_chat);
    assert_eq!(next(&mut carol_chat), "INVITATION dave SENT alice");
    assert_eq!(next(&mut carol_chat), "INVITATION dave NO_ANSWER");
    see(&alice, "dave: no answer");
    // The log is flushed before the app waits again: one more round trip.
    alice.type_line("/who");
    see(&alice, "Members: ");
    let alice_log = log_of(logs.path(), "alice");
    assert!(alice_log.contains("* dave: no answer"), "{alice_log}");
}

/// LAB.md: `--invite-timeout` on the leader is how long it waits; a real
/// invitee answers within its own, which it shows, and when that runs out
/// first the leader reads no answer.
#[test]
fn an_invitee_answers_within_its_own_window_and_says_how_long_it_is() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let mut config = peer_config(server.addr(), logs.path());
    config.invite_timeout = Duration::from_millis(1400);
    let bob = joined_with(config, "bob");
    add(&alice, "bob");
    alice.type_line("3");
    see(&alice, "Still asking: bob (30 seconds left).");
    see(&bob, "Chat request from 'alice'");
    see(&bob, "You have 1 second to answer.");
    see(
        &bob,
        "The chat request from 'alice' was withdrawn: it was not answered in time.",
    );
    see(&alice, "bob: no answer");
    see(&alice, "The lobby has ended (nobody else is in it).");
}

/// A request answered busy while its user was in a chat is told to that
/// user back at the menu.
#[test]
fn a_request_answered_busy_in_a_chat_is_told_at_the_menu() {
    let server = TestServer::start();
    let logs = temp_dir();
    let alice = joined(&server, logs.path(), "alice");
    let bob = joined(&server, logs.path(), "bob");
    let erin = joined(&server, logs.path(), "erin");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);
    add(&erin, "bob");
    erin.type_line("3");
    see(&erin, "bob: busy (in a chat)");
    bob.type_line("/leave");
    see(&bob, p2pchat::peer::MENU_PROMPT);
    see(&bob, "erin (name not checked) tried to reach you at ");
}
