//! Floods of every lobby line kind, played by hand against real `peer`
//! processes (docs/SECURITY.md, "What a lobby's lines can grow"): a hostile
//! leader floods a member, and a hostile member floods its leader, with
//! `FLOOD` lines of one kind, one test per kind, so they run side by side.
//! The flooded peer's resident memory (`VmRSS`, from `/proc`) stays within
//! `ALLOWANCE_KIB` of what it was once the lobby ran, and the peer still
//! works after it: what its user types then reaches the other side.
//!
//! Each flood is followed by a message that marks its end; the test reads
//! the peer's output until the marker shows, so it measures only once the
//! peer has handled the whole flood. A screen that falls behind leaves
//! chat lines off it (they are in the chat log) and says so in a summary
//! line; after such a line the marker is looked for in the log instead.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::Receiver;
use p2pchat::peer::ADD_PROMPT;
use p2pchat::wire::MAX_LINE;
use tempfile::TempDir;

use crate::support::{
    Client, PASSWORD, PEER_WAIT, PeerProcess, TestServer, any_port, invite, join, register,
    register_and_join, temp_dir,
};

/// How many lines of its kind each flood sends.
const FLOOD: usize = 200_000;
/// How much a flooded peer may grow, in KiB.
const ALLOWANCE_KIB: u64 = 16 * 1024;

const LOBBY_ID: &str = "0123456789abcdef0123456789abcdef";

/// The `i`th line of a flood.
type Line = fn(usize) -> String;

/// Writes `FLOOD` lines made by `line` and then `then`, buffered; stops at
/// the first error (the other side closed the connection).
fn flood(stream: &TcpStream, line: Line, then: &str) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, stream);
    for i in 0..FLOOD {
        writeln!(out, "{}", line(i))?;
    }
    writeln!(out, "{then}")?;
    out.flush()
}

/// A peer's chat logs, read as they grow: each file from where the last
/// look stopped, so that looking often costs what was written since.
struct LogTail {
    dir: PathBuf,
    /// How far each file was read.
    read: HashMap<PathBuf, u64>,
}

impl LogTail {
    fn new(logs: &Path, owner: &str) -> LogTail {
        LogTail {
            dir: logs.join(owner),
            read: HashMap::new(),
        }
    }

    /// True if what the logs gained since the last look holds `text`.
    fn gained(&mut self, text: &str) -> bool {
        let Ok(files) = fs::read_dir(&self.dir) else {
            return false;
        };
        let mut found = false;
        for file in files.flatten() {
            let path = file.path();
            let from = self.read.get(&path).copied().unwrap_or(0);
            // Back by the text's length, so a text cut in two by the last
            // look is found whole.
            let start = from.saturating_sub(text.len() as u64);
            let Ok(mut open) = fs::File::open(&path) else {
                continue;
            };
            let mut bytes = Vec::new();
            if open.seek(SeekFrom::Start(start)).is_err() || open.read_to_end(&mut bytes).is_err() {
                continue;
            }
            self.read.insert(path, start + bytes.len() as u64);
            found |= String::from_utf8_lossy(&bytes).contains(text);
        }
        found
    }
}

/// Reads `peer`'s output until a line holds `shown`, or, once the screen
/// has said it left lines off, until its chat log holds `kept`.
#[track_caller]
fn wait_for(peer: &mut PeerProcess, log: &mut LogTail, shown: &str, kept: &str) {
    loop {
        let line = peer.next_line();
        if line.contains(shown) {
            return;
        }
        if line.contains("lines not shown") && log.gained(kept) {
            return;
        }
    }
}

/// A connection played by hand, and what reads it.
struct Drained {
    stream: TcpStream,
    reading: JoinHandle<()>,
    /// Hears once the peer sends a line that holds `watched`.
    heard: Receiver<()>,
}

/// Reads whatever `stream` brings until it ends, so that the peer at the
/// other end never waits to write to us, and says when a line holds
/// `watched`.
fn drain(stream: TcpStream, watched: &'static str) -> Drained {
    let reader = BufReader::new(stream.try_clone().unwrap());
    let (tx, heard) = crossbeam_channel::unbounded();
    let reading = thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if line.contains(watched) {
                let _ = tx.send(());
            }
        }
    });
    Drained {
        stream,
        reading,
        heard,
    }
}

impl Drained {
    /// Waits until the peer has sent the watched text.
    #[track_caller]
    fn hears_it(&self) {
        self.heard
            .recv_timeout(PEER_WAIT)
            .expect("the peer sends what it was told to");
    }

    /// Ends the connection, and waits for what read it.
    fn close(self) {
        // The reader holds a handle of its own: the socket ends only once
        // both halves are shut.
        let _ = self.stream.shutdown(Shutdown::Both);
        self.reading.join().unwrap();
    }
}

/// What the flooded peer's user types after a flood, and the peer at the
/// other end must then get: the flooded peer still reads its keyboard and
/// still sends.
const STILL_HERE: &str = "still here after the flood";

/// The flooded peer's resident memory once its lobby ran, to measure the
/// flood's growth against.
struct Growth {
    base: u64,
    since: Instant,
}

impl Growth {
    fn new(peer: &PeerProcess) -> Growth {
        Growth {
            base: peer.rss_kib(),
            since: Instant::now(),
        }
    }

    /// Prints the growth since the lobby ran, then fails if it passed the
    /// allowance.
    #[track_caller]
    fn check(&self, kind: &str, peer: &PeerProcess) {
        let grown = peer.rss_kib().saturating_sub(self.base);
        eprintln!(
            "{}: {FLOOD} {kind}: +{grown} KiB (from {} KiB) in {:?}",
            peer.name,
            self.base,
            self.since.elapsed()
        );
        assert!(
            grown <= ALLOWANCE_KIB,
            "{} grew by {grown} KiB, past {ALLOWANCE_KIB} KiB, under a flood of {kind}",
            peer.name
        );
    }
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

// ---------------------------------------------------------------------------
// A hostile leader floods a member

/// Bob, a real member, in the lobby of mallory, a leader played by hand.
struct Member {
    server: TestServer,
    _logs: TempDir,
    log: LogTail,
    bob: PeerProcess,
    port: u16,
    /// Mallory's connection to bob, and what reads it.
    lobby: Drained,
}

impl Member {
    /// Bob joins, and mallory admits him to her lobby.
    fn start() -> Member {
        let server = TestServer::start();
        let logs = temp_dir();
        let mut bob = PeerProcess::start_with("bob", server.addr(), logs.path(), &[]);
        let port = bob.chat_port();
        bob.join(PASSWORD);
        register(server.addr(), &["mallory"]);
        let stream = invite_bob(&mut bob, server.addr(), port);
        writeln!(&stream, "MSG mallory ready").unwrap();
        let lobby = drain(stream, STILL_HERE);
        let mut log = LogTail::new(logs.path(), "bob");
        wait_for(&mut bob, &mut log, "[mallory] ready", "[mallory] ready");
        Member {
            server,
            _logs: logs,
            log,
            bob,
            port,
            lobby,
        }
    }

    /// Mallory floods bob with `line`, then a message; bob grows by at
    /// most the allowance, and then still sends what his user types.
    #[track_caller]
    fn floods(kind: &str, line: Line) {
        let mut member = Member::start();
        let growth = Growth::new(&member.bob);
        let marker = format!("flood of {kind} done");
        let stream = &member.lobby.stream;
        thread::scope(|scope| {
            let writer = scope.spawn(|| flood(stream, line, &format!("MSG mallory {marker}")));
            wait_for(&mut member.bob, &mut member.log, &marker, &marker);
            writer.join().unwrap().unwrap();
        });
        growth.check(kind, &member.bob);
        member.bob.types(STILL_HERE);
        member.lobby.hears_it();
        member.lobby.close();
    }

    /// Mallory floods bob with `line`, the first of which ends his
    /// membership, as bob's output shows with `ended`; bob grows by at most
    /// the allowance, and a new lobby of mallory's works.
    #[track_caller]
    fn floods_to_the_end(kind: &str, line: Line, ended: &str) {
        let mut member = Member::start();
        let growth = Growth::new(&member.bob);
        let stream = &member.lobby.stream;
        thread::scope(|scope| {
            let writer = scope.spawn(|| flood(stream, line, "HELLO"));
            wait_for(&mut member.bob, &mut member.log, ended, ended);
            // Bob closes the connection: the flood ends in an error.
            let _ = writer.join().unwrap();
        });
        growth.check(kind, &member.bob);
        let stream = invite_bob(&mut member.bob, member.server.addr(), member.port);
        writeln!(&stream, "MSG mallory still here").unwrap();
        member.bob.sees("[mallory] still here");
        member.lobby.close();
    }
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
fn leader_floods_members() {
    Member::floods("MEMBERS", |i| format!("MEMBERS mallory bob {}", name(i)));
}

#[test]
fn leader_floods_joined() {
    Member::floods("JOINED", |i| format!("JOINED {}", name(i)));
}

#[test]
fn leader_floods_msg() {
    Member::floods("MSG", |_| "MSG mallory m".to_string());
}

#[test]
fn leader_floods_left() {
    Member::floods("LEFT", |i| format!("LEFT {}", name(i)));
}

/// Pieces of one message, never numbered: the bytes are what a member would
/// keep, so these lines are as long as they may be.
#[test]
fn leader_floods_history() {
    Member::floods("HISTORY", |_| {
        let stamp = "2026-01-01T00:00:00Z";
        let text = "x".repeat(MAX_LINE - "HISTORY ".len() - stamp.len() - " mallory ".len());
        format!("HISTORY {stamp} mallory {text}")
    });
}

#[test]
fn leader_floods_pm() {
    Member::floods("PM", |_| "PM mallory p".to_string());
}

#[test]
fn leader_floods_kicked() {
    Member::floods("KICKED", |i| format!("KICKED {} r", name(i)));
}

#[test]
fn leader_floods_invitation() {
    Member::floods("INVITATION", |i| {
        format!("INVITATION {} SENT mallory", name(i))
    });
}

#[test]
fn leader_floods_credential() {
    Member::floods("CREDENTIAL", |_| format!("CREDENTIAL {LOBBY_ID}"));
}

/// A member looks each seat up among up to `MAX_SEATS`, so new names past
/// that cost it a look-up each, and no memory.
#[test]
fn leader_floods_seat() {
    Member::floods("SEAT", |i| {
        format!("SEAT {} 127.0.0.1 4000 {}", name(i), key())
    });
}

#[test]
fn leader_floods_seq() {
    Member::floods("SEQ", |i| format!("SEQ {i}"));
}

#[test]
fn leader_floods_err() {
    Member::floods("ERR", |_| "ERR BAD_ARGS e".to_string());
}

#[test]
fn leader_floods_hello() {
    Member::floods("HELLO", |_| "HELLO".to_string());
}

#[test]
fn leader_floods_unknown_lines() {
    Member::floods("unknown", |i| format!("NONSENSE {i}"));
}

/// The first ends the membership; the rest go nowhere.
#[test]
fn leader_floods_closed() {
    Member::floods_to_the_end(
        "CLOSED",
        |_| "CLOSED flood-of-closed".to_string(),
        "flood-of-closed",
    );
}

/// A handover to a name with no seat ends the membership too.
#[test]
fn leader_floods_handover() {
    Member::floods_to_the_end(
        "HANDOVER",
        |_| "HANDOVER nobody".to_string(),
        "is not in the roster",
    );
}

// ---------------------------------------------------------------------------
// A hostile member floods its leader

/// Alice, a real leader, with bob, a member played by hand, in her lobby.
struct Leader {
    server: TestServer,
    _logs: TempDir,
    log: LogTail,
    alice: PeerProcess,
    /// Where bob takes chat requests.
    listener: TcpListener,
    /// Bob's connection to alice, and what reads it.
    lobby: Drained,
}

impl Leader {
    /// Alice joins, adds bob as a contact, and invites him to her lobby.
    fn start() -> Leader {
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
        writeln!(&stream, "MSG ready").unwrap();
        let lobby = drain(stream, STILL_HERE);
        let mut log = LogTail::new(logs.path(), "alice");
        wait_for(&mut alice, &mut log, "[bob] ready", "[bob] ready");
        Leader {
            server,
            _logs: logs,
            log,
            alice,
            listener,
            lobby,
        }
    }

    /// Bob floods alice with `line`, then a message; alice grows by at
    /// most the allowance, and then still sends what her user types.
    #[track_caller]
    fn floods(kind: &str, line: Line) {
        let mut leader = Leader::start();
        let growth = Growth::new(&leader.alice);
        let marker = format!("flood of {kind} done");
        let stream = &leader.lobby.stream;
        thread::scope(|scope| {
            let writer = scope.spawn(|| flood(stream, line, &format!("MSG {marker}")));
            wait_for(&mut leader.alice, &mut leader.log, &marker, &marker);
            writer.join().unwrap().unwrap();
        });
        growth.check(kind, &leader.alice);
        leader.alice.types(STILL_HERE);
        leader.lobby.hears_it();
        leader.lobby.close();
    }
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
fn member_floods_msg() {
    Leader::floods("MSG", |_| "MSG m".to_string());
}

#[test]
fn member_floods_pm_to_the_leader() {
    Leader::floods("PM to the leader", |_| "PM alice p".to_string());
}

#[test]
fn member_floods_pm_to_nobody() {
    Leader::floods("PM to nobody", |i| format!("PM {} p", name(i)));
}

#[test]
fn member_floods_invite() {
    Leader::floods("INVITE", |i| format!("INVITE {}", name(i)));
}

#[test]
fn member_floods_hello() {
    Leader::floods("HELLO", |_| "HELLO".to_string());
}

#[test]
fn member_floods_ok() {
    Leader::floods("OK", |_| "OK".to_string());
}

#[test]
fn member_floods_reject() {
    Leader::floods("REJECT", |_| "REJECT".to_string());
}

#[test]
fn member_floods_busy() {
    Leader::floods("BUSY", |_| "BUSY IN_CHAT".to_string());
}

#[test]
fn member_floods_rejoin() {
    Leader::floods("REJOIN", |i| format!("REJOIN {LOBBY_ID} bob {i}"));
}

#[test]
fn member_floods_chat_request() {
    Leader::floods("CHAT_REQUEST", |i| format!("CHAT_REQUEST {}", name(i)));
}

#[test]
fn member_floods_unknown_lines() {
    Leader::floods("unknown", |i| format!("NONSENSE {i}"));
}

/// `LEAVE` ends the membership, and with it alice's lobby; the rest go
/// nowhere. Bob can come back to a new one.
#[test]
fn member_floods_leave() {
    let mut leader = Leader::start();
    let growth = Growth::new(&leader.alice);
    let stream = &leader.lobby.stream;
    thread::scope(|scope| {
        let writer = scope.spawn(|| flood(stream, |_| "LEAVE".to_string(), "HELLO"));
        wait_for(
            &mut leader.alice,
            &mut leader.log,
            "Peer ('bob') is offline",
            "* bob left",
        );
        let _ = writer.join().unwrap();
    });
    growth.check("LEAVE", &leader.alice);
    leader.lobby.close();
    let stream = accept_alice(&mut leader.alice, &leader.listener, leader.server.addr());
    writeln!(&stream, "MSG still here").unwrap();
    leader.alice.sees("[bob] still here");
}
