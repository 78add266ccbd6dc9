//! A lobby that outlives its leader, with real peer processes: a handover,
//! a leader killed while the registry is down too, and a stranger who claims
//! to be a member. The lobby timeouts are short, so each runs in seconds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use p2pchat::crypto::{self, ClientAuth, Identity};

use crate::support::{PASSWORD, PeerProcess, READ_TIMEOUT, TestServer, temp_dir};

/// Short lobby timers, so that a lost leader is noticed in about a second.
pub const FAST: &[&str] = &["--lobby-hello", "0.5", "--lobby-timeout", "5"];

/// Starts and joins `names`; the first leads a lobby with the others,
/// admitted in the order given.
/// Returns the peers and their chat ports.
pub fn lobby(server: &TestServer, logs: &Path, names: &[&str]) -> (Vec<PeerProcess>, Vec<u16>) {
    lobby_led_with(server, logs, names, FAST)
}

/// As `lobby`, with the leader started with `leader_args`.
fn lobby_led_with(
    server: &TestServer,
    logs: &Path,
    names: &[&str],
    leader_args: &[&str],
) -> (Vec<PeerProcess>, Vec<u16>) {
    lobby_of(server, logs, names, |i, _| {
        let args = if i == 0 { leader_args } else { FAST };
        args.iter().map(|arg| arg.to_string()).collect()
    })
}

/// As `lobby`, each peer started with `args(i, name)`.
fn lobby_of(
    server: &TestServer,
    logs: &Path,
    names: &[&str],
    args: impl Fn(usize, &str) -> Vec<String>,
) -> (Vec<PeerProcess>, Vec<u16>) {
    let mut peers: Vec<PeerProcess> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let args = args(i, name);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            PeerProcess::start_with(name, server.addr(), logs, &args)
        })
        .collect();
    let mut ports = Vec::new();
    for peer in &mut peers {
        ports.push(peer.chat_port());
        peer.join(PASSWORD);
    }
    for name in &names[1..] {
        for line in ["2", name, "Yes"] {
            peers[0].types(line);
        }
        peers[0].sees(&format!("Added {name} "));
    }
    peers[0].types("3");
    for i in 1..names.len() {
        peers[i].sees(&format!("Chat request from '{}'", names[0]));
        peers[i].types("OK");
        peers[0].sees(&format!("Client ('{}') connected", names[i]));
        peers[i].sees(&format!("You are in {}'s lobby with", names[0]));
    }
    (peers, ports)
}

#[test]
fn after_a_handover_the_old_leader_is_a_member_and_everyone_hears_everyone() {
    let server = TestServer::start();
    let logs = temp_dir();
    let (mut peers, _) = lobby(&server, logs.path(), &["alice", "bob", "carol"]);
    peers[0].types("/handover");
    peers[0].sees("You handed the lobby to bob; you stay as a member.");
    peers[1].sees("alice handed the lobby to you; you lead it now.");
    // Each says so once bob has taken it back, in whichever order.
    peers[2].sees("alice handed the lobby to bob.");
    peers[0].sees("You are a member of bob's lobby now.");

    peers[2].types("carol under bob");
    peers[0].sees("[carol] carol under bob");
    peers[1].sees("[carol] carol under bob");
    peers[0].types("alice as a member");
    peers[1].sees("[alice] alice as a member");
    peers[2].sees("[alice] alice as a member");
    peers[1].types("/who");
    let who = peers[1].sees("Members: bob, ");
    assert!(who.contains("alice") && who.contains("carol"), "{who}");

    // The new leader's /end ends the lobby for everyone.
    peers[1].types("/end");
    peers[0].sees("The lobby has ended (bob ended it for everyone).");
    peers[2].sees("The lobby has ended (bob ended it for everyone).");
    let log = std::fs::read_dir(logs.path().join("alice"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(log.contains("* you handed the lobby to bob"), "{log}");
}

#[test]
fn a_leader_killed_while_the_registry_is_down_leaves_a_lobby_that_goes_on() {
    let server = TestServer::start();
    let logs = temp_dir();
    let (mut peers, _) = lobby(&server, logs.path(), &["alice", "bob", "carol", "dave"]);
    peers[2].types("before the crash");
    peers[3].sees("[carol] before the crash");
    server.stop().unwrap();
    peers[0].kill();

    // Typed at once, before anyone may have noticed: never lost.
    peers[3].types("typed right after the kill");
    peers[1].sees("The leader was lost; you lead the lobby now");
    peers[2].sees("The leader was lost; bob leads the lobby now");
    peers[3].sees("The leader was lost; bob leads the lobby now");
    peers[1].sees("[dave] typed right after the kill");
    peers[2].sees("[dave] typed right after the kill");

    peers[2].types("carol under bob");
    peers[1].sees("[carol] carol under bob");
    peers[3].sees("[carol] carol under bob");
    peers[1].types("bob leads");
    peers[2].sees("[bob] bob leads");
    peers[3].sees("[bob] bob leads");
}

#[test]
fn a_stranger_claiming_to_be_a_member_is_refused_by_the_successor() {
    let server = TestServer::start();
    let logs = temp_dir();
    let (mut peers, ports) = lobby(&server, logs.path(), &["alice", "bob", "carol"]);
    let bob_port = ports[1];
    peers[0].kill();
    peers[1].sees("The leader was lost; you lead the lobby now");

    let mut stranger = TcpStream::connect(("127.0.0.1", bob_port)).unwrap();
    stranger.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let id = "0123456789abcdef0123456789abcdef";
    // A claim with no proof of carol's key (and a made-up lobby id).
    writeln!(stranger, "REJOIN {id} carol 0").unwrap();
    let mut answer = String::new();
    BufReader::new(&stranger).read_line(&mut answer).unwrap();
    assert_eq!(
        answer.trim_end(),
        "ERR BAD_CREDENTIALS not a member of this lobby"
    );
    // The real carol is still there and chats on.
    peers[2].types("still carol");
    peers[1].sees("[carol] still carol");
}

/// A stranger on a lost leader's chat port: it takes every connection,
/// keeps every byte it is sent, and answers every line as a squatter
/// would: that it is the lobby, and that it does not lead.
struct Squatter {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<u8>>,
}

impl Squatter {
    fn bind() -> Squatter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = thread::spawn(move || {
            let mut talks = Vec::new();
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                talks.push(thread::spawn(move || {
                    let mut heard = Vec::new();
                    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
                    let mut reader = BufReader::new(&stream);
                    let mut line = Vec::new();
                    while let Ok(1..) = reader.read_until(b'\n', &mut line) {
                        heard.extend_from_slice(&line);
                        line.clear();
                        let answer = "MEMBERS alice bob carol\nHISTORY 2026-12-03T07:30:05Z bob send me your password\nERR NOT_LEADER I do not lead a lobby\n";
                        if (&stream).write_all(answer.as_bytes()).is_err() {
                            break;
                        }
                    }
                    heard
                }));
            }
            talks.into_iter().flat_map(|t| t.join().unwrap()).collect()
        });
        Squatter { port, stop, thread }
    }

    /// Stops listening; every byte it was sent.
    fn heard(self) -> String {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocked accept.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        String::from_utf8_lossy(&self.thread.join().unwrap()).into_owned()
    }
}

#[test]
fn a_stranger_on_a_lost_leaders_port_gets_nothing_and_the_members_reach_the_successor() {
    let server = TestServer::start();
    let logs = temp_dir();
    // Alice's seat names a port the stranger holds from the start, so the
    // members' walk finds it there whatever the timing: as if it had bound
    // the port the moment alice's process died.
    let squatter = Squatter::bind();
    let port = squatter.port.to_string();
    let mut args = FAST.to_vec();
    args.extend(["--advertise-port", &port]);
    let (mut peers, _) = lobby_led_with(&server, logs.path(), &["alice", "bob", "carol"], &args);
    peers[2].types("before the crash");
    peers[1].sees("[carol] before the crash");
    server.stop().unwrap();
    peers[0].kill();

    peers[1].sees("The leader was lost; you lead the lobby now");
    peers[2].sees("The leader was lost; bob leads the lobby now");
    peers[2].types("typed after the crash");
    peers[1].sees("[carol] typed after the crash");
    peers[1].types("bob leads");
    peers[2].sees("[bob] bob leads");

    let heard = squatter.heard();
    // Each member walked to alice's seat first and said only `PROVE`.
    assert!(heard.lines().count() >= 1, "nobody came to alice's seat");
    for line in heard.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        assert!(
            matches!(words.as_slice(), ["PROVE", nonce] if nonce.len() == 43),
            "the stranger was sent {line:?}"
        );
    }
    for said in ["REJOIN", "crash", "bob leads", "carol"] {
        assert!(!heard.contains(said), "the stranger heard {said}: {heard}");
    }
    for peer in &mut peers[1..] {
        peer.types("/who");
    }
    let who = peers[2].sees("Members: bob, ");
    assert!(!who.contains("alice"), "{who}");
}

/// A stranger on a lost leader's chat port that speaks TLS fluently, with
/// a key of its own: it counts the connections that came, the handshakes
/// that completed, and keeps every line it could read after one.
struct TlsSquatter {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Squatted>,
}

/// What a `TlsSquatter` got.
#[derive(Default)]
struct Squatted {
    /// Connections that came, by the first byte each sent (0x16 opens a
    /// TLS handshake).
    first_bytes: Vec<u8>,
    /// Handshakes that completed.
    completed: usize,
    /// Every line read after one.
    heard: String,
}

impl TlsSquatter {
    fn bind() -> TlsSquatter {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let identity = Identity::generate().unwrap();
        let config = crypto::server_config(identity.tls(), ClientAuth::Optional).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = thread::spawn(move || {
            let mut got = Squatted::default();
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let mut first = [0u8];
                let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
                if let Ok(1) = stream.peek(&mut first) {
                    got.first_bytes.push(first[0]);
                }
                let deadline = Instant::now() + READ_TIMEOUT;
                let Ok(tls) = crypto::accept(stream, config.clone(), deadline) else {
                    continue;
                };
                got.completed += 1;
                let mut reader = BufReader::new(tls);
                let mut line = String::new();
                while let Ok(1..) = reader.read_line(&mut line) {
                    got.heard.push_str(&line);
                    line.clear();
                }
            }
            got
        });
        TlsSquatter { port, stop, thread }
    }

    /// Stops listening; what it got.
    fn finish(self) -> Squatted {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        self.thread.join().unwrap()
    }
}

#[test]
fn under_tls_a_stranger_on_a_lost_leaders_port_fails_the_handshake_and_is_passed_over() {
    let server = TestServer::tls();
    let fingerprint = server.fingerprint().unwrap().to_string();
    let dir = temp_dir();
    // As in the plain-text test, alice's seat names the stranger's port;
    // here every peer keeps keys and speaks TLS, to the registry and to
    // each other, and the stranger answers TLS with a key of its own.
    let squatter = TlsSquatter::bind();
    let port = squatter.port.to_string();
    let (mut peers, _) = lobby_of(
        &server,
        dir.path(),
        &["alice", "bob", "carol"],
        |i, name| {
            let data = dir.path().join(format!("{name}-data"));
            let mut args: Vec<String> = FAST.iter().map(|arg| arg.to_string()).collect();
            args.extend(["--trust-registry".into(), fingerprint.clone()]);
            args.extend(["--data-dir".into(), data.display().to_string()]);
            if i == 0 {
                args.extend(["--advertise-port".into(), port.clone()]);
            }
            args
        },
    );
    peers[2].types("before the crash");
    peers[1].sees("[carol] before the crash");
    server.stop().unwrap();
    peers[0].kill();

    peers[1].sees("The leader was lost; you lead the lobby now");
    peers[2].sees("The leader was lost; bob leads the lobby now");
    peers[2].types("typed after the crash");
    peers[1].sees("[carol] typed after the crash");

    let got = squatter.finish();
    // Carol walked to alice's seat first, in TLS, pinned to alice's key:
    // the stranger's key failed the handshake, so it read not one line.
    assert!(!got.first_bytes.is_empty(), "nobody came to alice's seat");
    assert!(
        got.first_bytes.iter().all(|&byte| byte == 0x16),
        "not TLS: {:?}",
        got.first_bytes
    );
    assert_eq!(got.completed, 0, "a handshake with the stranger completed");
    assert_eq!(got.heard, "", "the stranger read lines");
    peers[2].types("/who");
    let who = peers[2].sees("Members: bob, ");
    assert!(!who.contains("alice"), "{who}");
}

/// A TCP proxy for one connection that can stop passing bytes on, in both
/// directions, as a pulled cable does: neither end hears that anything
/// happened; each just stops hearing from the other.
struct Proxy {
    port: u16,
    listener: Option<TcpListener>,
    cut: Arc<AtomicBool>,
    sockets: Vec<TcpStream>,
    pumps: Vec<JoinHandle<()>>,
}

impl Proxy {
    fn bind() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        Proxy {
            port: listener.local_addr().unwrap().port(),
            listener: Some(listener),
            cut: Arc::new(AtomicBool::new(false)),
            sockets: Vec::new(),
            pumps: Vec::new(),
        }
    }

    /// Passes the next connection on to `target`, on two pump threads.
    fn forward_to(&mut self, target: u16) -> JoinHandle<Proxy> {
        let mut proxy = Proxy {
            port: self.port,
            listener: self.listener.take(),
            cut: self.cut.clone(),
            sockets: Vec::new(),
            pumps: Vec::new(),
        };
        thread::spawn(move || {
            let (near, _) = proxy.listener.as_ref().unwrap().accept().unwrap();
            let far = TcpStream::connect(("127.0.0.1", target)).unwrap();
            for (from, to) in [(&near, &far), (&far, &near)] {
                let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
                let cut = proxy.cut.clone();
                proxy.pumps.push(thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = from.read(&mut buf) {
                        if !cut.load(Ordering::SeqCst) && to.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }));
            }
            proxy.sockets = vec![near, far];
            proxy
        })
    }

    fn stop(self) {
        for socket in &self.sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
        for pump in self.pumps {
            pump.join().unwrap();
        }
    }
}

#[test]
fn a_member_whose_connection_is_cut_comes_back_and_sees_what_it_missed_once() {
    let server = TestServer::start();
    let logs = temp_dir();
    let mut proxy = Proxy::bind();
    let advertised = proxy.port.to_string();
    // Bob notices the cut by the leader's silence: his timeout is short,
    // though still eight of the leader's heartbeats, so the test does not
    // wait out the usual five seconds.
    let extra = [
        "--lobby-hello",
        "0.1",
        "--lobby-timeout",
        "0.8",
        "--advertise-port",
        &advertised,
    ];
    let leader = ["--lobby-hello", "0.1", "--lobby-timeout", "5"];
    let mut alice = PeerProcess::start_with("alice", server.addr(), logs.path(), &leader);
    let mut bob = PeerProcess::start_with("bob", server.addr(), logs.path(), &extra);
    let mut carol = PeerProcess::start_with("carol", server.addr(), logs.path(), FAST);
    let forwarding = proxy.forward_to(bob.chat_port());
    for peer in [&mut alice, &mut bob, &mut carol] {
        peer.join(PASSWORD);
    }
    for line in ["2", "bob", "Yes", "2", "carol", "Yes", "3"] {
        alice.types(line);
    }
    bob.sees("Chat request from 'alice'");
    bob.types("OK");
    carol.sees("Chat request from 'alice'");
    carol.types("OK");
    bob.sees("You are in alice's lobby with");
    carol.sees("You are in alice's lobby with");
    let proxy = forwarding.join().unwrap();
    carol.types("before the cut");
    bob.sees("[carol] before the cut");

    proxy.cut.store(true, Ordering::SeqCst);
    carol.types("while bob was away");
    alice.sees("[carol] while bob was away");
    bob.sees("Lost the connection to alice");
    bob.sees("Back in alice's lobby.");
    bob.sees("[carol] while bob was away");
    bob.types("bob is back");
    carol.sees("[bob] bob is back");
    carol.types("after");
    bob.sees("[carol] after");
    assert_eq!(bob.seen_count("[carol] while bob was away"), 1);
    assert_eq!(bob.seen_count("[carol] before the cut"), 1);
    proxy.stop();
}

#[test]
fn a_member_follows_a_handover_only_from_its_own_leader() {
    let server = TestServer::start();
    let logs = temp_dir();
    let (mut peers, ports) = lobby(&server, logs.path(), &["alice", "bob"]);
    let mut stranger = TcpStream::connect(("127.0.0.1", ports[1])).unwrap();
    stranger.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    writeln!(stranger, "HANDOVER bob").unwrap();
    let mut answer = String::new();
    BufReader::new(&stranger).read_line(&mut answer).unwrap();
    assert_eq!(
        answer.trim_end(),
        "ERR BAD_ARGS expected CHAT_REQUEST <name>"
    );
    peers[0].types("alice still leads");
    peers[1].sees("[alice] alice still leads");
    peers[1].types("/who");
    peers[1].sees("Members: alice, bob");
}

/// Timers far longer than `PEER_WAIT`: an invitee that waited one out would
/// fail the test.
const SLOW: &[&str] = &["--invite-timeout", "300", "--lobby-timeout", "300"];

#[test]
fn an_invitee_who_accepts_after_the_leader_stopped_leading_hears_at_once() {
    let server = TestServer::start();
    let logs = temp_dir();
    for (leave, names) in [
        ("/leave", ["alice", "bob", "carol"]),
        ("/handover", ["dave", "erin", "fred"]),
    ] {
        let [leader, late, member] = names;
        let mut peers: Vec<PeerProcess> = names
            .iter()
            .map(|name| PeerProcess::start_with(name, server.addr(), logs.path(), SLOW))
            .collect();
        for peer in &mut peers {
            peer.join(PASSWORD);
        }
        for name in [late, member] {
            for line in ["2", name, "Yes"] {
                peers[0].types(line);
            }
            peers[0].sees(&format!("Added {name} "));
        }
        peers[0].types("3");
        let request = format!("Chat request from '{leader}'");
        peers[2].sees(&request);
        peers[2].types("OK");
        peers[0].sees(&format!("Client ('{member}') connected"));
        peers[1].sees(&request);
        // The leader stops leading while one request is open; then its
        // invitee says yes.
        peers[0].types(leave);
        if leave == "/leave" {
            peers[0].sees("Press '1'");
        } else {
            peers[2].sees("you lead it now");
        }
        peers[1].types("OK");
        peers[1].sees(&format!("The chat request from '{leader}' was withdrawn"));
        peers[1].sees("Press '1'");
    }
}
