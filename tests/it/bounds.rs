//! Floods of every lobby line kind, played by hand against real `peer`
//! processes (docs/SECURITY.md, "A peer's memory"): a hostile leader floods
//! a member, and a hostile member floods its leader, `FLOOD` lines of each
//! kind. The other side's resident memory (`VmRSS`) stays within
//! `ALLOWANCE_KIB` of what it was once the lobby ran, and after each kind a
//! normal message still gets through.
//!
//! Each kind is followed by a message that marks its end; the test reads
//! the peer's output until the marker shows, so it measures only once the
//! peer has handled the whole flood. A screen that falls behind leaves
//! chat lines off it (they are in the chat log) and says so in a summary
//! line; after such a line the marker is looked for in the log instead.

use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use p2pchat::peer::ADD_PROMPT;
use p2pchat::wire::MAX_LINE;

use crate::support::{
    Client, PASSWORD, PEER_WAIT, PeerProcess, TestServer, any_port, invite, join, register,
    register_and_join, temp_dir,
};

/// How many lines of each kind a flood sends, where what a peer would keep
/// grows with the number of lines (names, seats, numbers, asks).
const FLOOD: usize = 200_000;
/// How many lines a flood sends of a kind each of which the peer shows and
/// logs, or looks up in a full table, and so handles slowly: enough for a
/// growth of 1 KiB a line to show, in a tenth of the time. What a peer
/// keeps of these is bounded by count (the screen's held lines, the member
/// list, the seats), which the unit tests check up to their bounds.
const FLOOD_SHOWN: usize = 20_000;
/// How much a flooded peer may grow, in KiB.
const ALLOWANCE_KIB: u64 = 16 * 1024;

const LOBBY_ID: &str = "0123456789abcdef0123456789abcdef";

/// A line kind, the `i`th line of its flood, and how many lines it has.
type Kind = (&'static str, fn(usize) -> String, usize);

/// Writes `FLOOD` lines of `kind` and then `then`, buffered; stops at the
/// first error (the other side closed the connection).
fn flood(
    stream: &TcpStream,
    line: fn(usize) -> String,
    lines: usize,
    then: &str,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, stream);
    for i in 0..lines {
        writeln!(out, "{}", line(i))?;
    }
    writeln!(out, "{then}")?;
    out.flush()
}

/// True if a chat log of `owner` holds `text`.
fn logged(logs: &Path, owner: &str, text: &str) -> bool {
    let Ok(files) = fs::read_dir(logs.join(owner)) else {
        return false;
    };
    files
        .flatten()
        .any(|file| fs::read_to_string(file.path()).is_ok_and(|log| log.contains(text)))
}

/// Reads `peer`'s output until a line holds `shown`, or, once the screen
/// has said it left lines off, until its chat log holds `kept`.
#[track_caller]
fn wait_for(peer: &mut PeerProcess, logs: &Path, shown: &str, kept: &str) {
    loop {
        let line = peer.next_line();
        if line.contains(shown) {
            return;
        }
        if line.contains("lines not shown") && logged(logs, &peer.name, kept) {
            return;
        }
    }
}

/// Reads whatever `stream` brings until it ends, so that the peer at the
/// other end never waits to write to us.
fn drain(stream: &TcpStream) -> JoinHandle<()> {
    let reader = BufReader::new(stream.try_clone().unwrap());
    thread::spawn(move || for _ in reader.lines().map_while(Result::ok) {})
}

/// What each flood did to the flooded peer: its kind, and the peer's growth
/// in KiB since the lobby ran, after it.
struct Growth {
    peer: String,
    base: u64,
    after: Vec<(&'static str, u64, std::time::Duration)>,
    since: Instant,
}

impl Growth {
    fn new(peer: &PeerProcess) -> Growth {
        Growth {
            peer: peer.name.clone(),
            base: peer.rss_kib(),
            after: Vec::new(),
            since: Instant::now(),
        }
    }

    fn measure(&mut self, kind: &'static str, peer: &PeerProcess) {
        let grown = peer.rss_kib().saturating_sub(self.base);
        self.after.push((kind, grown, self.since.elapsed()));
        self.since = Instant::now();
    }

    /// Prints every figure, then fails if any passed the allowance.
    #[track_caller]
    fn check(&self) {
        for (kind, grown, took) in &self.after {
            eprintln!(
                "{}: {kind}: +{grown} KiB (from {} KiB) in {took:?}",
                self.peer, self.base
            );
        }
        let over: Vec<_> = self
            .after
            .iter()
            .filter(|(_, grown, _)| *grown > ALLOWANCE_KIB)
            .collect();
        assert!(
            over.is_empty(),
            "{} grew past {ALLOWANCE_KIB} KiB: {over:?}",
            self.peer
        );
    }
}

// ---------------------------------------------------------------------------
// A hostile leader floods a member

/// The lines a leader sends a member, each a flood that leaves the lobby
/// running. Names and numbers differ from line to line where a member
/// could keep each one.
fn leader_lines() -> Vec<Kind> {
    vec![
        (
            "MEMBERS",
            |i| format!("MEMBERS mallory bob {}", name(i)),
            FLOOD_SHOWN,
        ),
        ("JOINED", |i| format!("JOINED {}", name(i)), FLOOD),
        ("MSG", |_| "MSG mallory m".to_string(), FLOOD_SHOWN),
        ("LEFT", |i| format!("LEFT {}", name(i)), FLOOD),
        // Pieces of one message, never numbered: the bytes are what a
        // member would keep, so these lines are as long as they may be.
        ("HISTORY", |_| history_piece(), FLOOD_SHOWN),
        ("PM", |_| "PM mallory p".to_string(), FLOOD_SHOWN),
        ("KICKED", |i| format!("KICKED {} r", name(i)), FLOOD_SHOWN),
        (
            "INVITATION",
            |i| format!("INVITATION {} SENT mallory", name(i)),
            FLOOD_SHOWN,
        ),
        ("CREDENTIAL", |_| format!("CREDENTIAL {LOBBY_ID}"), FLOOD),
        // A member looks each seat up in a roster of up to `MAX_SEATS`,
        // so a long flood of new names costs time rather than memory.
        (
            "SEAT",
            |i| format!("SEAT {} 127.0.0.1 4000 {}", name(i), key()),
            FLOOD_SHOWN,
        ),
        ("SEQ", |i| format!("SEQ {i}"), FLOOD),
        ("ERR", |_| "ERR BAD_ARGS e".to_string(), FLOOD_SHOWN),
        ("HELLO", |_| "HELLO".to_string(), FLOOD),
        ("unknown", |i| format!("NONSENSE {i}"), FLOOD),
    ]
}

/// A seat's public key, as `SEAT` lines carry it.
fn key() -> String {
    use p2pchat::crypto::{IdentityKey, PeerKey, SealKey};
    let key = PeerKey {
        identity: IdentityKey::from_bytes([7; 32]),
        seal: SealKey::from_bytes([7; 32]),
    };
    key.to_string()
}

/// The `i`th of many names, each as long as a name may be, so that a peer
/// that kept them would show it.
fn name(i: usize) -> String {
    format!("u{i:0>31}")
}

/// A piece of a replayed message as long as a line allows.
fn history_piece() -> String {
    let stamp = "2026-01-01T00:00:00Z";
    let text = "x".repeat(MAX_LINE - "HISTORY ".len() - stamp.len() - " mallory ".len());
    format!("HISTORY {stamp} mallory {text}")
}

/// Mallory, a leader played by hand, invites bob (a real peer listening on
/// `port`) with a registry ticket, and admits him with a credential and
/// seats, as a leader whose lobby can outlive it does.
#[track_caller]
fn invite_bob(bob: &mut PeerProcess, registry: SocketAddr, port: u16) -> TcpStream {
    // A connection of its own: one left idle through a flood would have
    // timed out.
    let mut client = Client::connect(registry);
    join(&mut client, "mallory", 4999);
    let ticket = invite(&mut client, "bob");
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(PEER_WAIT)).unwrap();
    stream.set_write_timeout(Some(PEER_WAIT)).unwrap();
    writeln!(&stream, "CHAT_REQUEST mallory {ticket}").unwrap();
    bob.sees("Chat request from 'mallory'");
    bob.types("OK");
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer).unwrap();
    // `OK`, with the member's key after it.
    assert!(answer.starts_with("OK"), "{answer}");
    let verifier = key();
    let admission = [
        "MEMBERS mallory bob".to_string(),
        format!("CREDENTIAL {LOBBY_ID}"),
        format!("SEAT mallory 127.0.0.1 4999 {verifier}"),
        format!("SEAT bob 127.0.0.1 {port} {verifier}"),
    ];
    for line in admission {
        writeln!(&stream, "{line}").unwrap();
    }
    bob.sees("You are in mallory's lobby");
    stream
}

#[test]
fn a_leader_flooding_every_line_kind_grows_a_member_by_at_most_16_mib() {
    let started = Instant::now();
    let server = TestServer::start();
    let logs = temp_dir();
    let mut bob = PeerProcess::start_with("bob", server.addr(), logs.path(), &[]);
    let port = bob.chat_port();
    bob.join(PASSWORD);
    register(server.addr(), &["mallory"]);
    let registry = server.addr();

    let stream = invite_bob(&mut bob, registry, port);
    let draining = drain(&stream);
    writeln!(&stream, "MSG mallory ready").unwrap();
    wait_for(&mut bob, logs.path(), "[mallory] ready", "[mallory] ready");
    let mut growth = Growth::new(&bob);
    for (kind, line, lines) in leader_lines() {
        let marker = format!("flood of {kind} done");
        thread::scope(|scope| {
            let writer =
                scope.spawn(|| flood(&stream, line, lines, &format!("MSG mallory {marker}")));
            wait_for(&mut bob, logs.path(), &marker, &marker);
            writer.join().unwrap().unwrap();
        });
        growth.measure(kind, &bob);
    }

    // The lines that end a membership: the first ends it, the rest go
    // nowhere. Each in a lobby of its own; a new one after both shows that
    // bob still works.
    let ending: [(Kind, &str); 2] = [
        (
            ("CLOSED", |_| "CLOSED flood-of-closed".to_string(), FLOOD),
            "flood-of-closed",
        ),
        (
            ("HANDOVER", |_| "HANDOVER nobody".to_string(), FLOOD),
            "is not in the roster",
        ),
    ];
    let mut lobbies = vec![(stream, draining)];
    for (i, ((kind, line, lines), ended)) in ending.into_iter().enumerate() {
        if i > 0 {
            let stream = invite_bob(&mut bob, registry, port);
            let draining = drain(&stream);
            lobbies.push((stream, draining));
        }
        let stream = &lobbies.last().unwrap().0;
        thread::scope(|scope| {
            let writer = scope.spawn(|| flood(stream, line, lines, "HELLO"));
            wait_for(&mut bob, logs.path(), ended, ended);
            // Bob closes the connection: the flood ends in an error.
            let _ = writer.join().unwrap();
        });
        growth.measure(kind, &bob);
    }
    let stream = invite_bob(&mut bob, registry, port);
    writeln!(&stream, "MSG mallory still here").unwrap();
    bob.sees("[mallory] still here");
    drop(stream);
    for (stream, draining) in lobbies {
        drop(stream);
        draining.join().unwrap();
    }
    growth.check();
    eprintln!("leader floods took {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------
// A hostile member floods its leader

/// The lines a member sends its leader, each a flood that leaves the
/// member in the lobby.
fn member_lines() -> Vec<Kind> {
    vec![
        ("MSG", |_| "MSG m".to_string(), FLOOD_SHOWN),
        (
            "PM to the leader",
            |_| "PM alice p".to_string(),
            FLOOD_SHOWN,
        ),
        ("PM to nobody", |i| format!("PM {} p", name(i)), FLOOD),
        ("INVITE", |i| format!("INVITE {}", name(i)), FLOOD),
        ("HELLO", |_| "HELLO".to_string(), FLOOD),
        ("OK", |_| "OK".to_string(), FLOOD),
        ("REJECT", |_| "REJECT".to_string(), FLOOD),
        ("BUSY", |_| "BUSY IN_CHAT".to_string(), FLOOD),
        ("REJOIN", |i| format!("REJOIN {LOBBY_ID} bob {i}"), FLOOD),
        (
            "CHAT_REQUEST",
            |i| format!("CHAT_REQUEST {}", name(i)),
            FLOOD,
        ),
        ("unknown", |i| format!("NONSENSE {i}"), FLOOD),
    ]
}

/// Bob, a member played by hand, takes alice's chat request on `listener`
/// and reads up to `MEMBERS`.
#[track_caller]
fn accept_alice(
    alice: &mut PeerProcess,
    listener: &TcpListener,
    registry: SocketAddr,
) -> TcpStream {
    // Bob's registry connection of its own: one left idle through a flood
    // would have timed out, and alice would find him offline.
    let mut client = Client::connect(registry);
    join(&mut client, "bob", listener.local_addr().unwrap().port());
    alice.types("3");
    let (stream, _) = thread::scope(|scope| {
        let accepting = scope.spawn(|| listener.accept());
        // Unblocks the accept if alice never connects, so the test fails
        // instead of hanging.
        let (tx, rx) = crossbeam_channel::bounded(1);
        scope.spawn(move || {
            if rx.recv_timeout(PEER_WAIT).is_err() {
                let _ = TcpStream::connect(listener.local_addr().unwrap());
            }
        });
        let accepted = accepting.join().unwrap().unwrap();
        let _ = tx.send(());
        accepted
    });
    stream.set_read_timeout(Some(PEER_WAIT)).unwrap();
    stream.set_write_timeout(Some(PEER_WAIT)).unwrap();
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("CHAT_REQUEST alice "), "{line}");
    writeln!(&stream, "OK").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("MEMBERS alice bob"), "{line}");
    alice.sees("Client ('bob') connected");
    stream
}

#[test]
fn a_member_flooding_every_line_kind_grows_its_leader_by_at_most_16_mib() {
    let started = Instant::now();
    let server = TestServer::start();
    let logs = temp_dir();
    let mut alice = PeerProcess::start_with("alice", server.addr(), logs.path(), &[]);
    alice.chat_port();
    alice.join(PASSWORD);
    let listener = TcpListener::bind(any_port()).unwrap();
    let port = listener.local_addr().unwrap().port();
    let _registry = register_and_join(server.addr(), "bob", port);
    for line in ["2", "bob"] {
        alice.types(line);
    }
    alice.sees(ADD_PROMPT);
    alice.types("Yes");
    alice.sees("Added bob");

    let stream = accept_alice(&mut alice, &listener, server.addr());
    let draining = drain(&stream);
    writeln!(&stream, "MSG ready").unwrap();
    wait_for(&mut alice, logs.path(), "[bob] ready", "[bob] ready");
    let mut growth = Growth::new(&alice);
    for (kind, line, lines) in member_lines() {
        let marker = format!("flood of {kind} done");
        thread::scope(|scope| {
            let writer = scope.spawn(|| flood(&stream, line, lines, &format!("MSG {marker}")));
            wait_for(&mut alice, logs.path(), &marker, &marker);
            writer.join().unwrap().unwrap();
        });
        growth.measure(kind, &alice);
    }

    // `LEAVE` ends the membership, and with it alice's lobby.
    thread::scope(|scope| {
        let writer = scope.spawn(|| flood(&stream, |_| "LEAVE".to_string(), FLOOD, "HELLO"));
        wait_for(
            &mut alice,
            logs.path(),
            "Peer ('bob') is offline",
            "* bob left",
        );
        let _ = writer.join().unwrap();
    });
    growth.measure("LEAVE", &alice);
    drop(stream);
    draining.join().unwrap();

    let stream = accept_alice(&mut alice, &listener, server.addr());
    writeln!(&stream, "MSG still here").unwrap();
    alice.sees("[bob] still here");
    growth.check();
    eprintln!("member floods took {:?}", started.elapsed());
}
