//! Peers whose identities are keys, over real TLS sockets on loopback: the
//! registry vouches for each user's key, every chat connection proves both
//! ends' keys before its first line, a changed key is said loudly, and
//! `/verify` gives both users the same code. Impostors are played by hand
//! with the crypto building blocks, so what they are sent can be seen.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use p2pchat::crypto::{self, ClientAuth, Identity, PeerKey, ServerKey};
use p2pchat::peer::{ADD_PROMPT, MENU_PROMPT, PeerConfig};
use p2pchat::testing::ScriptedPeer;

use crate::support::{
    self, Client, PASSWORD, READ_TIMEOUT, TestServer, add, chat_addr, check, joined_with, lobby,
    peer_config, see, see_lines, temp_dir,
};

/// A peer of `registry` whose keys live in `dir/<name>`, speaking TLS to
/// other peers unless `plaintext`.
fn keyed(registry: SocketAddr, dir: &Path, name: &str, plaintext: bool) -> PeerConfig {
    let mut config = peer_config(registry, &dir.join(name).join("logs"));
    config.data_dir = Some(dir.join(name).join("data"));
    config.plaintext = plaintext;
    config
}

/// A raw registry client that registers `name` and joins with chat port
/// `port`, announcing `key`.
fn join_with_key(server: &TestServer, name: &str, port: u16, key: &PeerKey) -> Client {
    let mut client = server.client();
    check(
        &mut client,
        &format!("REGISTER {name} {PASSWORD}"),
        &format!("OK REGISTERED {name}"),
    );
    rejoin_with_key(server, name, port, key)
}

/// A new registry connection that joins `name` (registered already).
fn rejoin_with_key(server: &TestServer, name: &str, port: u16, key: &PeerKey) -> Client {
    let mut client = server.client();
    check(
        &mut client,
        &format!("JOIN {name} {PASSWORD} {port} {key}"),
        &format!("OK JOINED {name} 127.0.0.1 {port} {key}"),
    );
    client
}

/// The key the registry vouches for `name`, from `SEARCH`.
fn vouched(client: &mut Client, name: &str) -> PeerKey {
    let reply = client.ask(&format!("SEARCH {name}"));
    let word = reply.rsplit(' ').next().unwrap();
    word.parse()
        .unwrap_or_else(|err| panic!("{reply:?}: {err}"))
}

/// The safety code in a `/verify` line.
fn safety_code(line: &str) -> String {
    let code = line
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split('.').next())
        .unwrap_or_else(|| panic!("no code in {line:?}"));
    assert_eq!(code.split(' ').count(), 4, "{line}");
    code.to_string()
}

/// Everything a peer's chat port sends a client that speaks plain text at
/// it, until it closes.
fn plain_text_answer(addr: SocketAddr, line: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    stream.write_all(line.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    answer
}

#[test]
fn a_leader_and_an_invitee_prove_their_keys_and_verify_them_by_voice() {
    let server = TestServer::start();
    let dir = temp_dir();
    let alice = joined_with(keyed(server.addr(), dir.path(), "alice", false), "alice");
    let bob = joined_with(keyed(server.addr(), dir.path(), "bob", false), "bob");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);
    bob.type_line("hello over TLS");
    see(&alice, "hello over TLS");

    // The chat port speaks TLS only: a line in plain text gets one
    // readable line saying what to do, and the connection ends.
    let answer = plain_text_answer(chat_addr(&bob), "CHAT_REQUEST mallory x\n");
    let answer = String::from_utf8(answer).unwrap();
    assert_eq!(answer.lines().count(), 1, "{answer:?}");
    assert!(answer.contains("speaks TLS"), "{answer:?}");
    assert!(answer.contains("--plaintext"), "{answer:?}");

    alice.type_line("/verify bob");
    bob.type_line("/verify alice");
    let at_alice = see(&alice, "Safety code for alice and bob");
    let at_bob = see(&bob, "Safety code for bob and alice");
    assert_eq!(safety_code(&at_alice), safety_code(&at_bob));
    // The code is that of the keys each user has on disk.
    let key = |name: &str| {
        Identity::load_or_create(&dir.path().join(name).join("data/users").join(name))
            .unwrap()
            .public()
    };
    assert_eq!(
        safety_code(&at_alice),
        key("alice").safety_code(&key("bob"))
    );
}

#[test]
fn an_invitee_whose_key_is_not_the_vouched_one_is_never_sent_a_chat_request() {
    let server = TestServer::start();
    let dir = temp_dir();
    // The registry vouches for bob's key, but bob's address is held by
    // someone with another key.
    let bob = Identity::generate().unwrap();
    let squatter = Identity::generate().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _bob_online = join_with_key(&server, "bob", port, &bob.public());
    let config = crypto::server_config(squatter.tls(), ClientAuth::Required).unwrap();
    let squatting = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let deadline = Instant::now() + READ_TIMEOUT;
        // Whatever the handshake gives, the first line is what the
        // squatter would learn.
        crypto::accept(tcp, config, deadline).map(|tls| {
            let mut line = String::new();
            let _ = BufReader::new(tls).read_line(&mut line);
            line
        })
    });

    let alice = joined_with(keyed(server.addr(), dir.path(), "alice", false), "alice");
    add(&alice, "bob");
    alice.type_line("3");
    let line = see(&alice, "bob: unreachable");
    for part in [
        squatter.tls().fingerprint().to_string(),
        bob.public().identity.fingerprint().to_string(),
        "posing".to_string(),
    ] {
        assert!(line.contains(&part), "{line}");
    }
    let learned = squatting.join().unwrap();
    assert!(learned.is_err(), "the squatter read {learned:?}");
}

#[test]
fn a_leader_whose_key_is_not_the_one_check_vouches_for_is_rejected() {
    let server = TestServer::start();
    let dir = temp_dir();
    let bob = joined_with(keyed(server.addr(), dir.path(), "bob", false), "bob");
    // alice is online with her key; mallory has alice's password (or her
    // ticket) but not her key.
    let alice = Identity::generate().unwrap();
    let mallory = Identity::generate().unwrap();
    let mut alice_online = join_with_key(&server, "alice", 9, &alice.public());
    let ticket = support::invite(&mut alice_online, "bob");
    let bob_key = vouched(&mut alice_online, "bob");

    let config = crypto::client_config(
        ServerKey::pinned(bob_key.identity.fingerprint()),
        Some(mallory.tls()),
    )
    .unwrap();
    let tcp = TcpStream::connect(chat_addr(&bob)).unwrap();
    tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut tls = crypto::connect(tcp, config, Instant::now() + READ_TIMEOUT).unwrap();
    tls.write_all(format!("CHAT_REQUEST alice {ticket}\n").as_bytes())
        .unwrap();
    let mut answer = String::new();
    BufReader::new(tls).read_line(&mut answer).unwrap();
    assert_eq!(answer, "REJECT\n");
    let mut lines = see_lines(
        &bob,
        "Warning: refused a chat request claiming to be from 'alice'",
    );
    let warning = lines.pop().unwrap();
    // bob was never asked.
    assert!(
        !lines.iter().any(|l| l.contains("Chat request from")),
        "{lines:?}"
    );
    for fingerprint in [mallory.tls().fingerprint(), alice.tls().fingerprint()] {
        assert!(warning.contains(&fingerprint.to_string()), "{warning}");
    }
}

#[test]
fn a_known_users_changed_key_is_said_loudly() {
    let server = TestServer::start();
    let dir = temp_dir();
    let first = Identity::generate().unwrap().public();
    let second = Identity::generate().unwrap().public();
    let _bob = join_with_key(&server, "bob", 9, &first);
    let alice = joined_with(keyed(server.addr(), dir.path(), "alice", false), "alice");
    let search = |peer: &ScriptedPeer| {
        peer.type_line("2");
        peer.type_line("bob");
        let mut lines = see_lines(peer, ADD_PROMPT);
        peer.type_line("No");
        lines.extend(see_lines(peer, MENU_PROMPT));
        lines
    };
    let lines = search(&alice);
    assert!(
        !lines.iter().any(|l| l.contains("key has changed")),
        "a first key is no change: {lines:?}"
    );
    // bob joins again, with other keys: a new computer, or an impostor
    // the registry vouches for.
    let _bob_again = rejoin_with_key(&server, "bob", 9, &second);
    let lines = search(&alice);
    let warning = lines
        .iter()
        .find(|l| l.contains("bob's key has changed"))
        .unwrap_or_else(|| panic!("no warning in {lines:?}"));
    for part in [
        first.identity.fingerprint().to_string(),
        second.identity.fingerprint().to_string(),
        "/verify bob".to_string(),
    ] {
        assert!(warning.contains(&part), "{warning}");
    }
    alice.type_line("/verify bob");
    let line = see(&alice, "Safety code for alice");
    assert!(
        line.contains(&second.identity.fingerprint().to_string()),
        "{line}"
    );
}

#[test]
fn plaintext_peers_with_keys_chat_as_today() {
    let server = TestServer::start();
    let dir = temp_dir();
    let alice = joined_with(keyed(server.addr(), dir.path(), "alice", true), "alice");
    let bob = joined_with(keyed(server.addr(), dir.path(), "bob", true), "bob");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);
    bob.type_line("hello in plain text");
    see(&alice, "hello in plain text");
    // The chat port answers a person with nc in plain text, as today.
    let answer = plain_text_answer(chat_addr(&bob), "CHAT_REQUEST mallory x\n");
    assert_eq!(String::from_utf8_lossy(&answer), "BUSY IN_CHAT\n");
    // The registry still vouches for their keys.
    support::register(server.addr(), &["carol"]);
    let mut client = server.client();
    support::join(&mut client, "carol", 9);
    let _ = vouched(&mut client, "bob");
}

#[test]
fn a_chat_connection_before_login_is_closed_without_a_word() {
    let server = TestServer::start();
    let dir = temp_dir();
    let peer = ScriptedPeer::start(keyed(server.addr(), dir.path(), "alice", false)).unwrap();
    see(&peer, p2pchat::peer::WELCOME_PROMPT);
    // No user, so no key to shake hands with: not even a BUSY in plain
    // text, which a TLS leader could not read anyway.
    let answer = plain_text_answer(chat_addr(&peer), "CHAT_REQUEST mallory x\n");
    assert_eq!(answer, b"");
}

/// Copies `from` to `to`, keeping a copy of every byte in `seen`.
fn pump(mut from: TcpStream, mut to: TcpStream, seen: &Mutex<Vec<u8>>) {
    let mut buf = [0; 4096];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

#[test]
fn a_relay_between_two_peers_sees_no_line_of_their_lobby() {
    let server = TestServer::start();
    let dir = temp_dir();
    // bob is reached through a relay that records every byte both ways.
    let relay = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = keyed(server.addr(), dir.path(), "bob", false);
    config.advertise_port = Some(relay.local_addr().unwrap().port());
    let bob = joined_with(config, "bob");
    let bob_addr = chat_addr(&bob);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recording = Arc::clone(&seen);
    let relaying = thread::spawn(move || {
        let (outside, _) = relay.accept().unwrap();
        let inside = TcpStream::connect(bob_addr).unwrap();
        let (outside_back, inside_back) =
            (outside.try_clone().unwrap(), inside.try_clone().unwrap());
        let back = Arc::clone(&recording);
        let upstream = thread::spawn(move || pump(outside, inside, &recording));
        pump(inside_back, outside_back, &back);
        upstream.join().unwrap();
    });

    let alice = joined_with(keyed(server.addr(), dir.path(), "alice", false), "alice");
    add(&alice, "bob");
    lobby(&alice, "alice", &[&bob]);
    bob.type_line("the secret plan");
    see(&alice, "the secret plan");
    alice.type_line("agreed, in confidence");
    see(&bob, "agreed, in confidence");
    bob.type_line("/leave");
    alice.type_line("/quit");
    drop(alice.finish());
    relaying.join().unwrap();

    let seen = seen.lock().unwrap();
    assert!(
        seen.len() > 100,
        "the relay carried the lobby: {} bytes",
        seen.len()
    );
    for text in [
        "the secret plan",
        "agreed",
        "CHAT_REQUEST",
        "MEMBERS",
        "alice",
    ] {
        assert!(
            !seen.windows(text.len()).any(|w| w == text.as_bytes()),
            "{text:?} crossed the relay in plain text"
        );
    }
}

/// The id of the lobby a hand-played leader runs.
const LOBBY: &str = "5f1c0e0c3b5e4d8f9a7b6c5d4e3f2a1b";

/// A leader played by hand: mallory, online with her own key, invites a
/// real peer with a real ticket over TLS (pinned to the key the registry
/// vouches for it), and greets it with `greeting` once it says `OK`.
/// Returns the TLS connection, for the test to read and write by hand.
fn hand_led(
    online: &mut Client,
    mallory: &Identity,
    member: &ScriptedPeer,
    name: &str,
    greeting: &str,
) -> BufReader<crypto::TlsStream> {
    let ticket = support::invite(online, name);
    let key = vouched(online, name);
    let config = crypto::client_config(
        ServerKey::pinned(key.identity.fingerprint()),
        Some(mallory.tls()),
    )
    .unwrap();
    let tcp = TcpStream::connect(chat_addr(member)).unwrap();
    tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut tls = crypto::connect(tcp, config, Instant::now() + READ_TIMEOUT).unwrap();
    tls.write_all(format!("CHAT_REQUEST mallory {ticket}\n").as_bytes())
        .unwrap();
    see(member, "Chat request from 'mallory'");
    member.type_line("OK");
    let mut tls = BufReader::new(tls);
    assert_eq!(read_line(&mut tls), format!("OK {key}"));
    tls.get_mut().write_all(greeting.as_bytes()).unwrap();
    // A line after the seats: once it shows, the member has taken them in
    // (the leader's lines are handled in order, typed lines meanwhile).
    tls.get_mut()
        .write_all(b"MSG mallory the seats are out\n")
        .unwrap();
    see(member, "You are in mallory's lobby");
    see(member, "[mallory] the seats are out");
    tls
}

/// The next line a hand-played leader reads, without its end; HELLOs
/// (heartbeats) are passed over.
fn read_line(tls: &mut BufReader<crypto::TlsStream>) -> String {
    loop {
        let mut line = String::new();
        tls.read_line(&mut line).unwrap();
        let line = line.trim_end().to_string();
        if line != "HELLO" {
            return line;
        }
    }
}

/// `MEMBERS` and the lobby's seats, as a leader greets a newcomer.
fn greeting(seats: &[(&str, PeerKey)]) -> String {
    let names: Vec<&str> = seats.iter().map(|(name, _)| *name).collect();
    let mut lines = format!("MEMBERS {}\nCREDENTIAL {LOBBY}\n", names.join(" "));
    for (name, key) in seats {
        lines.push_str(&format!("SEAT {name} 127.0.0.1 9 {key}\n"));
    }
    lines
}

/// What a sealed `PM` line carries, parsed.
fn sealed_in(line: &str, to: &str) -> crypto::seal::Sealed {
    let prefix = format!("PM {to} SEALED ");
    let sealed = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("not a sealed PM to {to}: {line:?}"));
    sealed.parse().unwrap()
}

#[test]
fn a_leader_played_by_hand_relays_sealed_text_it_cannot_read_or_forge() {
    let server = TestServer::start();
    let dir = temp_dir();
    let bob = joined_with(keyed(server.addr(), dir.path(), "bob", false), "bob");
    let carol = joined_with(keyed(server.addr(), dir.path(), "carol", false), "carol");
    let mallory = Identity::generate().unwrap();
    let mut online = join_with_key(&server, "mallory", 9, &mallory.public());
    let (bob_key, carol_key) = (vouched(&mut online, "bob"), vouched(&mut online, "carol"));
    let seats = [
        ("mallory", mallory.public()),
        ("bob", bob_key),
        ("carol", carol_key),
    ];
    let mut to_bob = hand_led(&mut online, &mallory, &bob, "bob", &greeting(&seats));
    let mut to_carol = hand_led(&mut online, &mallory, &carol, "carol", &greeting(&seats));

    bob.type_line("/msg carol the secret plan");
    see(&bob, "[you -> carol] (sealed) the secret plan");
    let line = read_line(&mut to_bob);
    assert!(!line.contains("secret"), "the leader read {line:?}");
    let sealed = sealed_in(&line, "carol");
    // The leader's own key opens nothing sealed to carol.
    let binding = crypto::seal::Binding {
        lobby: LOBBY,
        sender: "bob",
        recipient: "carol",
    };
    assert!(crypto::seal::open(mallory.seal_secret(), &bob_key.seal, &binding, &sealed).is_err());

    // Relayed as it came, it opens at carol's, verified as bob's.
    let relayed = format!("PM bob SEALED {sealed}\n");
    to_carol.get_mut().write_all(relayed.as_bytes()).unwrap();
    see(&carol, "[bob -> you] (verified) the secret plan");
    // Relayed again, it is a replay, and shown as one, without its text.
    to_carol.get_mut().write_all(relayed.as_bytes()).unwrap();
    let shown = see(&carol, "did not open");
    assert!(
        shown.contains("replay") && !shown.contains("secret"),
        "{shown}"
    );
    // Passed off as from someone else, or sealed by the leader as bob's,
    // it does not open.
    let forged =
        crypto::seal::seal(mallory.seal_secret(), &carol_key.seal, &binding, "forged").unwrap();
    for line in [
        format!("PM mallory SEALED {sealed}\n"),
        format!("PM bob SEALED {forged}\n"),
    ] {
        to_carol.get_mut().write_all(line.as_bytes()).unwrap();
        let shown = see(&carol, "did not open");
        assert!(
            !shown.contains("secret") && !shown.contains("forged"),
            "{shown}"
        );
    }
}

#[test]
fn a_leader_that_names_its_own_key_for_a_member_gets_no_private_message() {
    let server = TestServer::start();
    let dir = temp_dir();
    let bob = joined_with(keyed(server.addr(), dir.path(), "bob", false), "bob");
    let _carol = joined_with(keyed(server.addr(), dir.path(), "carol", false), "carol");
    let mallory = Identity::generate().unwrap();
    let mut online = join_with_key(&server, "mallory", 9, &mallory.public());
    let bob_key = vouched(&mut online, "bob");
    // bob has looked carol up: the registry vouched for her key to him.
    bob.type_line("1");
    see(&bob, "carol");
    see(&bob, MENU_PROMPT);
    // The leader names its own key for carol's seat, to open what bob
    // seals to her, and to seal to bob as her.
    let seats = [
        ("mallory", mallory.public()),
        ("bob", bob_key),
        ("carol", mallory.public()),
    ];
    let mut to_bob = hand_led(&mut online, &mallory, &bob, "bob", &greeting(&seats));

    bob.type_line("/msg carol the secret plan");
    let refused = see(&bob, "Not sent:");
    for part in [
        mallory.tls().fingerprint().to_string(),
        "/verify carol".to_string(),
    ] {
        assert!(refused.contains(&part), "{refused}");
    }
    bob.type_line("public after");
    assert_eq!(read_line(&mut to_bob), "MSG public after");

    let binding = crypto::seal::Binding {
        lobby: LOBBY,
        sender: "carol",
        recipient: "bob",
    };
    let forged =
        crypto::seal::seal(mallory.seal_secret(), &bob_key.seal, &binding, "trust me").unwrap();
    let line = format!("PM carol SEALED {forged}\n");
    to_bob.get_mut().write_all(line.as_bytes()).unwrap();
    let shown = see(&bob, "[carol -> you]");
    assert!(
        !shown.contains("verified") && !shown.contains("trust me"),
        "{shown}"
    );
}

#[test]
fn a_key_announced_by_one_who_does_not_hold_it_reaches_no_one_as_them() {
    let server = TestServer::start();
    let dir = temp_dir();
    let bob = joined_with(keyed(server.addr(), dir.path(), "bob", false), "bob");
    let alice = joined_with(keyed(server.addr(), dir.path(), "alice", false), "alice");
    // mallory, on bob's machine, announces bob's key as hers and bob's
    // chat port as her own: the registry asks for no certificate, so it
    // vouches for that key as mallory's.
    let bob_key = Identity::load_or_create(&dir.path().join("bob/data/users/bob"))
        .unwrap()
        .public();
    let bob_port = chat_addr(&bob).port();
    let _mallory = join_with_key(&server, "mallory", bob_port, &bob_key);

    // alice invites mallory: the handshake reaches bob, the only holder of
    // that key, and bob turns the request away unasked (its ticket names
    // mallory); alice's lobby gets nobody.
    add(&alice, "mallory");
    alice.type_line("3");
    see(&alice, "mallory: rejected your chat request");
    let mut lines = see_lines(&bob, "Warning: refused a chat request");
    let warning = lines.pop().unwrap();
    assert!(warning.contains("not for you"), "{warning}");
    assert!(
        !lines.iter().any(|l| l.contains("Chat request from")),
        "{lines:?}"
    );
}
