//! The defences of docs/SECURITY.md, each attacked the way an attacker
//! would: invitation tickets at the registry and forged chat requests at a
//! real peer, the throttle on failed JOINs, the connection cap, and
//! passwords that must never show up in a trace, an output or the database.
//!
//! Timing is configured short (a ticket lifetime of zero or two seconds,
//! a cool-down of 300 ms), and time passes by reading under a timeout.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use p2pchat::password::HashParams;
use p2pchat::peer::{MENU_PROMPT, WELCOME_PROMPT};
use p2pchat::registry::{DEFAULT_TICKET_TTL, ThrottleConfig};
use p2pchat::testing::ScriptedPeer;

use crate::support::{
    Client, PASSWORD, PeerProcess, READ_TIMEOUT, ServerProcess, TestServer, add, chat_addr, check,
    invite, join_as, joined_with, peer_config, register, register_and_join, see, see_lines,
    temp_dir,
};

const WRONG: &str = "not-the-pw";

// ---------------------------------------------------------------------------
// Tickets at the registry

#[test]
fn a_ticket_checks_once_and_only_for_its_invitee() {
    let server = TestServer::start();
    let mut alice = register_and_join(server.addr(), "alice", 5001);
    let mut bob = register_and_join(server.addr(), "bob", 5002);
    let mut carol = register_and_join(server.addr(), "carol", 5003);

    let ticket = invite(&mut alice, "bob");
    let check_ticket = format!("CHECK {ticket}");
    // Nobody else can use it, and their trying does not use it up.
    check(&mut carol, &check_ticket, "ERR BAD_TICKET");
    check(&mut alice, &check_ticket, "ERR BAD_TICKET");
    check(&mut bob, &check_ticket, "OK TICKET alice bob");
    // A replay of a ticket that has been checked.
    check(&mut bob, &check_ticket, "ERR BAD_TICKET");

    // Near misses of a good ticket are refused and leave it good.
    let ticket = invite(&mut alice, "bob");
    for forged in [
        "0123456789abcdef0123456789abcdef".to_string(),
        ticket.to_uppercase(),
        ticket[..31].to_string(),
        format!("{ticket}0"),
        "x".to_string(),
    ] {
        check(&mut bob, &format!("CHECK {forged}"), "ERR BAD_TICKET");
    }
    // Tickets that are not even well formed get the same code.
    for malformed in ["not-hex!".to_string(), "t".repeat(65)] {
        check(&mut bob, &format!("CHECK {malformed}"), "ERR BAD_TICKET");
    }
    check(&mut bob, &format!("CHECK {ticket}"), "OK TICKET alice bob");

    // The invitee's name is matched whatever its case, and the reply names
    // both users as they registered.
    let ticket = invite(&mut alice, "BOB");
    check(&mut bob, &format!("CHECK {ticket}"), "OK TICKET alice bob");
}

#[test]
fn a_ticket_expires_after_its_lifetime() {
    // The registry takes the lifetime from its configuration: within it a
    // ticket is good, past it not. A lifetime of zero is past at once, so
    // no test waits it out; `tickets::tests::tickets_expire` checks the
    // rule at its boundary with an injected `now`.
    for (ttl, answer) in [
        (DEFAULT_TICKET_TTL, "OK TICKET alice bob"),
        (Duration::ZERO, "ERR BAD_TICKET"),
    ] {
        let server = TestServer::with_config(|config| config.ticket_ttl = ttl);
        let mut alice = register_and_join(server.addr(), "alice", 5001);
        let mut bob = register_and_join(server.addr(), "bob", 5002);
        let ticket = invite(&mut alice, "bob");
        check(&mut bob, &format!("CHECK {ticket}"), answer);
    }
}

#[test]
fn tickets_need_a_joined_user_and_an_online_invitee() {
    let server = TestServer::start();
    let mut alice = register_and_join(server.addr(), "alice", 5001);
    let _bob = register_and_join(server.addr(), "bob", 5002);
    let ticket = invite(&mut alice, "bob");

    let mut stranger = server.client();
    check(&mut stranger, "INVITE alice", "ERR NOT_JOINED");
    check(&mut stranger, &format!("CHECK {ticket}"), "ERR NOT_JOINED");
    // Having an account is not enough: the user must have joined.
    check(
        &mut stranger,
        &format!("REGISTER dave {PASSWORD}"),
        "OK REGISTERED dave",
    );
    check(&mut stranger, "INVITE alice", "ERR NOT_JOINED");
    check(&mut stranger, &format!("CHECK {ticket}"), "ERR NOT_JOINED");

    check(&mut alice, "INVITE dave", "ERR OFFLINE");
    check(&mut alice, "INVITE nobody", "ERR NOT_FOUND");
    check(&mut alice, "INVITE bad!name", "ERR BAD_NAME");
    check(&mut alice, "INVITE", "ERR BAD_ARGS");
}

#[test]
fn tickets_are_32_lowercase_hex_digits_and_never_repeat() {
    let server = TestServer::start();
    let mut alice = register_and_join(server.addr(), "alice", 5001);
    let _bob = register_and_join(server.addr(), "bob", 5002);
    let tickets: Vec<String> = (0..50).map(|_| invite(&mut alice, "bob")).collect();
    for ticket in &tickets {
        assert_eq!(ticket.len(), 32, "{ticket}");
        assert!(
            ticket
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{ticket}"
        );
    }
    let distinct: HashSet<&String> = tickets.iter().collect();
    assert_eq!(distinct.len(), tickets.len(), "{tickets:#?}");
}

// ---------------------------------------------------------------------------
// Forged chat requests at a real peer

/// Asserts that none of `seen` asked the user about a chat request.
#[track_caller]
fn never_asked(seen: &[String]) {
    let asked: Vec<&String> = seen
        .iter()
        .filter(|line| line.contains("Chat request from"))
        .collect();
    assert!(asked.is_empty(), "the user was asked: {asked:#?}");
}

/// Has `peer` show its online list and come back to the menu, and returns
/// what it showed: a peer that is not stuck answers its menu.
#[track_caller]
fn menu_works(peer: &ScriptedPeer) -> Vec<String> {
    peer.type_line("1");
    let mut seen = see_lines(peer, " online.");
    seen.extend(see_lines(peer, MENU_PROMPT));
    seen
}

/// A forger connects to `victim`'s chat port and sends `line` claiming to
/// be alice: the answer is `REJECT`, the victim's user sees a warning that
/// names alice and says `why`, is never asked, and the menu still works.
#[track_caller]
fn check_forged(victim: &ScriptedPeer, line: &str, why: &str) {
    let mut forger = Client::connect(chat_addr(victim));
    assert_eq!(forger.ask(line), "REJECT", "{line}");
    forger.expect_eof();
    // The same warning soon after the last is counted, not shown again:
    // either line is the peer's answer.
    let mut seen = Vec::new();
    loop {
        let shown = see(victim, "");
        seen.push(shown.clone());
        if shown.starts_with("Warning: refused a chat request claiming to be from 'alice': ") {
            assert!(
                shown.contains(why),
                "{line}: {shown:?} does not say {why:?}"
            );
            break;
        }
        if shown.starts_with("(The same warning came ") {
            break;
        }
    }
    seen.extend(menu_works(victim));
    never_asked(&seen);
}

#[test]
fn forged_chat_requests_are_refused_without_asking_the_user() {
    // Long enough for the tickets issued just before they are used, on a
    // loaded machine too; the test waits out what the other checks leave
    // of it, for the expired one.
    let ttl = Duration::from_secs(2);
    let server = TestServer::with_config(|config| config.ticket_ttl = ttl);
    let logs = temp_dir();
    let bob = joined_with(peer_config(server.addr(), logs.path()), "bob");
    let bob_chat = chat_addr(&bob);
    // The forgers' own accounts: alice's is real, but the forger is not the
    // alice peer; tickets are what tell the two apart.
    let mut alice = register_and_join(server.addr(), "alice", 6001);
    let mut carol = register_and_join(server.addr(), "carol", 6003);
    let mut mallory = register_and_join(server.addr(), "mallory", 6004);
    let used_up = "that ticket is unknown, used, expired or not for you";

    // Lines that are not a chat request at all get an error, not a question.
    for (line, reply) in [
        ("CHAT_REQUEST alice bad-ticket!", "ERR BAD_TICKET "),
        ("CHAT_REQUEST al!ce", "ERR BAD_NAME "),
        (
            "MSG alice hello",
            "ERR BAD_ARGS expected CHAT_REQUEST <name>",
        ),
        ("HELLO", "ERR BAD_ARGS expected CHAT_REQUEST <name>"),
    ] {
        let mut forger = Client::connect(bob_chat);
        let got = forger.ask(line);
        assert!(got.starts_with(reply), "{line:?} got {got:?}");
        forger.expect_eof();
    }
    let seen = menu_works(&bob);
    never_asked(&seen);
    assert!(
        !seen.iter().any(|line| line.contains("Warning")),
        "{seen:#?}"
    );

    check_forged(
        &bob,
        "CHAT_REQUEST alice",
        "it carried no ticket from the registry",
    );
    check_forged(
        &bob,
        "CHAT_REQUEST alice 0123456789abcdef0123456789abcdef",
        used_up,
    );

    // A ticket that expires while the rest is checked: carol's for bob
    // (a pair no other check uses), shown at the end as alice's.
    let expiring = invite(&mut carol, "bob");
    let expires = Instant::now() + ttl;

    // A captured request works once (bob is asked, and says no)...
    let ticket = invite(&mut alice, "bob");
    let captured = format!("CHAT_REQUEST alice {ticket}");
    let mut first = Client::connect(bob_chat);
    first.send(&captured);
    see(&bob, "Chat request from 'alice'. Accept?");
    bob.type_line("REJECT");
    assert_eq!(first.recv(), "REJECT");
    see(&bob, MENU_PROMPT);
    // ...and its replay does not.
    check_forged(&bob, &captured, used_up);

    let for_carol = invite(&mut alice, "carol");
    check_forged(&bob, &format!("CHAT_REQUEST alice {for_carol}"), used_up);
    // Bob's check of carol's ticket failed, so it did not use it up.
    check(
        &mut carol,
        &format!("CHECK {for_carol}"),
        "OK TICKET alice carol",
    );

    let from_mallory = invite(&mut mallory, "bob");
    check_forged(
        &bob,
        &format!("CHAT_REQUEST alice {from_mallory}"),
        "its ticket was issued to 'mallory'",
    );

    // A ticket past its lifetime is refused like a used one.
    let past = expires + Duration::from_millis(50);
    let left = past.saturating_duration_since(Instant::now());
    alice.expect_silence(left.max(Duration::from_millis(1)));
    check_forged(&bob, &format!("CHAT_REQUEST alice {expiring}"), used_up);

    // The real alice still gets through. Her peer's JOIN replaces the
    // forger's session.
    drop(alice);
    let real_alice = ScriptedPeer::start(peer_config(server.addr(), logs.path())).unwrap();
    see(&real_alice, WELCOME_PROMPT);
    // Her account exists: registering it again is refused at the name,
    // and she joins.
    for line in ["1", "alice", PASSWORD] {
        real_alice.type_line(line);
    }
    join_as(&real_alice, "alice");
    add(&real_alice, "bob");
    real_alice.type_line("3");
    see(&bob, "Chat request from 'alice'. Accept?");
    bob.type_line("OK");
    see(&bob, "You are in alice's lobby with: alice, bob");
    see(&real_alice, "OK -> ('127.0.0.1', ");
    see(&real_alice, "Client ('bob') connected");
}

// ---------------------------------------------------------------------------
// The throttle on failed JOINs

/// A cool-down far longer than any test takes, so that a test sees the
/// lock in place however slowly the machine runs it.
const COOLDOWN: Duration = Duration::from_secs(60);

/// A cool-down that a test waits out, once, to see the lock lifted. No
/// check has to fit inside it, so it is short.
const SHORT_COOLDOWN: Duration = Duration::from_millis(300);

/// A server that locks a name or an address for `COOLDOWN` after three
/// failed JOINs within a minute.
fn throttled_server() -> TestServer {
    throttled_server_with(COOLDOWN)
}

fn throttled_server_with(cooldown: Duration) -> TestServer {
    TestServer::with_config(|config| {
        config.throttle = ThrottleConfig {
            max_failures: 3,
            window: Duration::from_secs(60),
            cooldown,
        }
    })
}

/// Checks the seconds a throttle reply asks to wait: at most the whole
/// cool-down, and at least one.
#[track_caller]
fn check_wait(reply: &str, cooldown: Duration) {
    let wait = seconds(reply);
    assert!(
        (1..=cooldown.as_secs()).contains(&wait),
        "{reply} (the cool-down is {cooldown:?})"
    );
}

/// The number of seconds in an `ERR TOO_MANY_ATTEMPTS <seconds> ...` reply.
#[track_caller]
fn seconds(reply: &str) -> u64 {
    let rest = reply
        .strip_prefix("ERR TOO_MANY_ATTEMPTS ")
        .unwrap_or_else(|| panic!("not a throttle reply: {reply:?}"));
    let word = rest.split(' ').next().unwrap();
    word.parse()
        .unwrap_or_else(|_| panic!("no number of seconds in {reply:?}"))
}

/// Two client machines: on Linux all of `127.0.0.0/8` is this host, and
/// the server tells the addresses apart.
#[cfg(target_os = "linux")]
mod machines {
    use std::net::{Ipv4Addr, SocketAddr};

    use crate::support::Client;

    pub const HOME: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
    pub const AWAY: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

    pub fn from(machine: Ipv4Addr, server: SocketAddr) -> Client {
        Client::connect_from(machine, server)
    }
}

/// Three wrong passwords for alice, from two addresses so that neither
/// address reaches the limit on its own; returns when the third was
/// answered, the moment alice was locked at the latest.
#[cfg(target_os = "linux")]
fn lock_alice(home: &mut Client, away: &mut Client) -> Instant {
    let wrong = format!("JOIN alice {WRONG} 5000");
    check(home, &wrong, "ERR BAD_CREDENTIALS");
    check(away, &wrong, "ERR BAD_CREDENTIALS");
    let locked_at = Instant::now();
    check(home, &wrong, "ERR BAD_CREDENTIALS");
    locked_at
}

#[cfg(target_os = "linux")]
#[test]
fn failures_for_a_name_lock_it_from_anywhere() {
    use machines::{AWAY, HOME, from};

    let server = throttled_server();
    let addr = server.addr();
    register(addr, &["alice", "bob"]);
    let mut home = from(HOME, addr);
    let mut away = from(AWAY, addr);
    lock_alice(&mut home, &mut away);

    // Now alice is locked from anywhere, even with the right password, and
    // attempts during the cool-down do not count as failures.
    for client in [&mut home, &mut away] {
        for password in [PASSWORD, WRONG] {
            let reply = check(
                client,
                &format!("JOIN alice {password} 5000"),
                "ERR TOO_MANY_ATTEMPTS",
            );
            check_wait(&reply, COOLDOWN);
        }
    }
    // Other names are not locked, nor are the addresses.
    check(
        &mut home,
        &format!("JOIN bob {PASSWORD} 5001"),
        "OK JOINED bob 127.0.0.1 5001",
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_locked_name_is_let_in_once_the_cool_down_passes() {
    use machines::{AWAY, HOME, from};

    // The lock itself is checked under a long cool-down (above); this one
    // is waited out, and the rule at its boundary is a unit test of
    // `JoinThrottle` with an injected `now`.
    let server = throttled_server_with(SHORT_COOLDOWN);
    let addr = server.addr();
    register(addr, &["alice"]);
    let mut home = from(HOME, addr);
    let mut away = from(AWAY, addr);
    let locked_at = lock_alice(&mut home, &mut away);

    let join_alice = format!("JOIN alice {PASSWORD} 5000");
    let deadline = Instant::now() + SHORT_COOLDOWN + READ_TIMEOUT;
    loop {
        let reply = away.ask(&join_alice);
        if reply == "OK JOINED alice 127.0.0.2 5000" {
            break;
        }
        assert!(
            reply.starts_with("ERR TOO_MANY_ATTEMPTS "),
            "during the cool-down: {reply:?}"
        );
        assert!(
            Instant::now() < deadline,
            "alice is still locked: {reply:?}"
        );
        // A read under a timeout paces the poll.
        away.expect_silence(Duration::from_millis(20));
    }
    assert!(
        locked_at.elapsed() >= SHORT_COOLDOWN,
        "released after {:?}",
        locked_at.elapsed()
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_successful_join_clears_the_failures_of_its_name() {
    use machines::{AWAY, HOME, from};

    let server = throttled_server();
    let addr = server.addr();
    register(addr, &["alice"]);
    // Each attempt on a new connection, alternating addresses so that no
    // address reaches the limit: only the name's count matters here.
    for (machine, password, expected) in [
        (HOME, WRONG, "ERR BAD_CREDENTIALS"),
        (AWAY, WRONG, "ERR BAD_CREDENTIALS"),
        (HOME, PASSWORD, "OK JOINED alice 127.0.0.1 5000"),
        (AWAY, WRONG, "ERR BAD_CREDENTIALS"),
        (HOME, WRONG, "ERR BAD_CREDENTIALS"),
        (AWAY, PASSWORD, "OK JOINED alice 127.0.0.2 5000"),
    ] {
        let mut client = from(machine, addr);
        check(
            &mut client,
            &format!("JOIN alice {password} 5000"),
            expected,
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn failures_from_an_address_lock_it_for_every_name() {
    use machines::{AWAY, HOME, from};

    let server = throttled_server();
    let addr = server.addr();
    register(addr, &["alice", "bob"]);
    let mut home = from(HOME, addr);
    // Unknown names count like wrong passwords.
    for name in ["nobody", "bob", "nobody-else"] {
        check(
            &mut home,
            &format!("JOIN {name} {WRONG} 5000"),
            "ERR BAD_CREDENTIALS",
        );
    }
    let reply = check(
        &mut home,
        &format!("JOIN alice {PASSWORD} 5000"),
        "ERR TOO_MANY_ATTEMPTS",
    );
    check_wait(&reply, COOLDOWN);
    // Another address is not locked.
    let mut away = from(AWAY, addr);
    check(
        &mut away,
        &format!("JOIN alice {PASSWORD} 5000"),
        "OK JOINED alice 127.0.0.2 5000",
    );
}

// Guesses sent at the same moment on several connections must not all pass
// the throttle while the first ones are still being hashed: an attempt
// counts as a failure from the moment it is let through.
#[test]
fn guesses_sent_at_once_are_limited_too() {
    // Production-cost hashes, so the guesses a hashing thread has taken
    // are still being checked while the others arrive.
    let server = TestServer::with_config(|config| {
        config.throttle = ThrottleConfig {
            max_failures: 3,
            window: Duration::from_secs(60),
            cooldown: COOLDOWN,
        };
        config.password = HashParams::PRODUCTION;
    });
    register(server.addr(), &["alice"]);
    let mut guessers: Vec<Client> = (0..10).map(|_| server.client()).collect();
    for guesser in &mut guessers {
        guesser.send(&format!("JOIN alice {WRONG} 5000"));
    }
    let replies: Vec<String> = guessers.iter_mut().map(|guesser| guesser.recv()).collect();
    let tried = replies
        .iter()
        .filter(|reply| reply.starts_with("ERR BAD_CREDENTIALS "))
        .count();
    assert!(
        replies
            .iter()
            .all(|reply| reply.starts_with("ERR BAD_CREDENTIALS ")
                || reply.starts_with("ERR TOO_MANY_ATTEMPTS ")),
        "{replies:#?}"
    );
    assert!(
        tried <= 3,
        "{tried} of 10 guesses sent at once were tried; at most 3 should be: {replies:#?}"
    );
}

#[test]
fn a_peer_tells_its_user_how_long_to_wait() {
    let server = throttled_server();
    let logs = temp_dir();
    let peer = ScriptedPeer::start(peer_config(server.addr(), logs.path())).unwrap();
    see(&peer, WELCOME_PROMPT);
    for line in ["1", "alice", PASSWORD] {
        peer.type_line(line);
    }
    see(
        &peer,
        "The registration process is successful. You can 'join'",
    );
    for _ in 0..3 {
        for line in ["2", "alice", WRONG] {
            peer.type_line(line);
        }
        see(&peer, "Could not join alice: wrong user name or password.");
        see(&peer, WELCOME_PROMPT);
    }
    for line in ["2", "alice", PASSWORD] {
        peer.type_line(line);
    }
    let line = see(&peer, "Too many failed attempts for alice; try again in ");
    let wait = line
        .rsplit("try again in ")
        .next()
        .and_then(|rest| rest.strip_suffix(" seconds."))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no wait in {line:?}"));
    assert!((1..=COOLDOWN.as_secs()).contains(&wait), "{line}");
    see(&peer, WELCOME_PROMPT);
}

// ---------------------------------------------------------------------------
// The connection cap

/// Connects, asks HELP, and returns the first line back, or `None` if the
/// connection closed first (a refused connection may be reset before its
/// `ERR SERVER_FULL` is read).
fn first_answer_to_help(addr: SocketAddr) -> Option<String> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let _ = stream.write_all(b"HELP\n");
    let mut line = String::new();
    match BufReader::new(stream).read_line(&mut line) {
        Ok(n) if n > 0 => Some(line.trim_end().to_string()),
        _ => None,
    }
}

#[test]
fn the_refusal_counts_in_english() {
    let server = TestServer::with_config(|config| config.max_connections = 1);
    let mut served = server.client();
    check(&mut served, "HELP", "OK HELP");
    let mut over = server.client();
    assert_eq!(
        over.recv(),
        "ERR SERVER_FULL the server holds 1 connection already; try again later"
    );
    over.expect_eof();
}

#[test]
fn a_connection_over_the_cap_is_refused_and_closed() {
    let server = TestServer::with_config(|config| config.max_connections = 3);
    let mut served: Vec<Client> = (0..3)
        .map(|_| {
            let mut client = server.client();
            check(&mut client, "HELP", "OK HELP");
            client
        })
        .collect();

    let mut over = server.client();
    let reply = over.recv();
    assert!(
        reply.starts_with("ERR SERVER_FULL "),
        "a fourth connection got {reply:?}"
    );
    over.expect_eof();
    for client in &mut served {
        check(client, "HELP", "OK HELP");
    }

    // A connection counts until its thread has seen it close, a moment
    // after the client let go of it.
    drop(served.pop());
    let deadline = Instant::now() + READ_TIMEOUT;
    loop {
        match first_answer_to_help(server.addr()) {
            Some(line) if line.starts_with("OK HELP ") => break,
            Some(line) if line.starts_with("ERR SERVER_FULL ") => {}
            None => {}
            Some(other) => panic!("unexpected answer {other:?}"),
        }
        assert!(Instant::now() < deadline, "the freed place never came back");
        served[0].expect_silence(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Passwords

/// The bytes of the database and its `-wal` and `-shm` files, those that
/// exist.
fn database_bytes(db: &Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let path = format!("{}{suffix}", db.display());
            std::fs::read(&path).ok().map(|bytes| (path, bytes))
        })
        .collect()
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
fn passwords_never_reach_a_trace_an_output_or_the_database() {
    const RIGHT: &str = "Xyzzy-Right-7731";
    const TAKEN: &str = "Xyzzy-Taken-7731";
    const BAD: &str = "Xyzzy-Wrong-7731";

    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let logs = dir.path().join("logs");
    let server = ServerProcess::start(&db, &["--trace"]);
    let mut carol = PeerProcess::start_with("carol", server.addr(), &logs, &["--trace"]);
    carol.sees("press '1' for registration");
    for (lines, outcome) in [
        (
            ["1", "carol", RIGHT],
            "The registration process is successful",
        ),
        (["1", "carol", TAKEN], "The name carol is taken"),
        (["2", "carol", BAD], "Could not join carol"),
        (["2", "carol", RIGHT], "Joined as carol"),
    ] {
        for line in lines {
            carol.types(line);
        }
        carol.sees(outcome);
    }
    carol.types("/quit");
    carol.sees("Bye.");
    let (status, printed, peer_trace) = carol.wait();
    assert!(status.success(), "{status}");

    // The database files while the server has them open (the -wal and -shm
    // files exist now), and again once it has stopped.
    let mut files = database_bytes(&db);
    server.interrupt();
    let (status, server_out, server_trace) = server.wait();
    assert_eq!(status.code(), Some(0), "{server_trace}");
    files.extend(database_bytes(&db));
    assert!(files.len() >= 2, "no database files found next to {db:?}");

    // The traces did show those lines, with the password hidden.
    for line in ["REGISTER carol ****", "JOIN carol ****"] {
        assert!(
            server_trace.contains(line),
            "{line:?} not in:\n{server_trace}"
        );
        assert!(peer_trace.contains(line), "{line:?} not in:\n{peer_trace}");
    }
    let printed = printed.join("\n");
    for secret in [RIGHT, TAKEN, BAD] {
        for (what, text) in [
            ("the server's output", &server_out),
            ("the server's trace", &server_trace),
            ("the peer's output", &printed),
            ("the peer's trace", &peer_trace),
        ] {
            assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
        }
        for (path, bytes) in &files {
            assert!(!holds(bytes, secret), "{path} holds {secret}");
        }
    }
}

// ---------------------------------------------------------------------------
// Names in a trace

/// A stranger connects to `port`, says `line`, and reads the one answer;
/// returns the address the peer sees it at, as its trace should name it.
fn stranger_says(port: u16, line: &str, answer: &str) -> String {
    let mut stranger = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)));
    let reply = stranger.ask(line);
    assert!(reply.starts_with(answer), "{line}: {reply}");
    stranger.local_addr().to_string()
}

#[test]
fn a_trace_names_a_connection_by_its_address_until_its_name_is_verified() {
    let server = TestServer::start();
    let logs = temp_dir();
    let mut bob = PeerProcess::start_with("bob", server.addr(), logs.path(), &["--trace"]);
    let mut alice = PeerProcess::start_with("alice", server.addr(), logs.path(), &[]);
    let port = bob.chat_port();
    bob.join(PASSWORD);
    alice.join(PASSWORD);
    let id = "0123456789abcdef0123456789abcdef";
    let rejoin = format!("REJOIN {id} carol2 0");

    // At the menu: a chat request claiming to be alice's, and a member
    // claiming to come back to a lobby bob does not lead.
    let forger = stranger_says(port, "CHAT_REQUEST alice", "REJECT");
    let unled = stranger_says(port, &rejoin, "ERR NOT_LEADER");
    // Leading: a member claiming a seat it does not hold.
    for line in ["2", "alice", "Yes", "3"] {
        bob.types(line);
    }
    alice.sees("Chat request from 'bob'");
    alice.types("OK");
    bob.sees("Client ('alice') connected");
    let claimant = stranger_says(port, &rejoin, "ERR BAD_CREDENTIALS");
    bob.types("/quit");
    bob.sees("Bye.");
    let (status, _, trace) = bob.wait();
    assert!(status.success(), "{trace}");

    for line in [
        format!("<< {forger} CHAT_REQUEST alice"),
        format!(">> {forger} REJECT"),
        format!("<< {unled} REJOIN"),
        format!(">> {unled} ERR NOT_LEADER"),
        format!("<< {claimant} REJOIN"),
        format!(">> {claimant} ERR BAD_CREDENTIALS"),
        // The real alice, whom bob invited, is named.
        ">> alice CHAT_REQUEST bob".to_string(),
        "<< alice OK".to_string(),
    ] {
        assert!(trace.contains(&line), "{line:?} not in:\n{trace}");
    }
    for label in ["<< carol2 ", ">> carol2 ", ">> alice REJECT"] {
        assert!(!trace.contains(label), "{label:?} in:\n{trace}");
    }
}
