//! Peers when things go wrong: a leader that goes silent without closing
//! its connection, and a registry that stops and comes back mid-chat.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use p2pchat::peer::{ADD_PROMPT, MENU_PROMPT, PeerConfig, ScriptedPeer, WELCOME_PROMPT};
use p2pchat::registry::{RegistryConfig, Server, ServerError, Stopper};

use crate::support::{Client, temp_dir};

const WAIT: Duration = Duration::from_secs(10);

/// A registry on a fixed address, so that it can be stopped and started
/// again where the peers expect it.
struct Registry {
    addr: SocketAddr,
    stopper: Stopper,
    thread: JoinHandle<Result<(), ServerError>>,
}

impl Registry {
    fn start(addr: SocketAddr, db: &Path) -> Registry {
        let mut config = RegistryConfig::new(addr, db);
        config.hello_timeout = Duration::from_secs(5);
        let server = Server::bind(config).unwrap();
        let addr = server.local_addr();
        let stopper = server.stopper();
        let thread = thread::spawn(move || server.run());
        Registry {
            addr,
            stopper,
            thread,
        }
    }

    fn stop(self) {
        self.stopper.stop();
        self.thread.join().unwrap().unwrap();
    }
}

/// The real `server` binary, which a test can kill as a crash would.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(bind: &str, db: &Path) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["--bind", bind, "--db", db.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Only the first line is read; the pipe then closes, and the server
        // must go on without anyone reading its log lines.
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // "Registry listening on <addr> with database <path>"
        let addr = first.split(' ').nth(3).unwrap().parse().unwrap();
        ServerProcess { child, addr }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// A peer with fast heartbeats and reconnects, so that failures show up
/// within a fraction of a second.
fn quick_config(registry: SocketAddr, logs: &Path) -> PeerConfig {
    let mut config = PeerConfig::new(registry);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.log_dir = logs.to_path_buf();
    config.hello_interval = Duration::from_millis(50);
    config.retry_min = Duration::from_millis(20);
    config.retry_max = Duration::from_millis(100);
    config.lobby_hello = Duration::from_millis(50);
    config.lobby_timeout = Duration::from_millis(500);
    config
}

#[track_caller]
fn see(peer: &ScriptedPeer, text: &str) -> String {
    match peer.wait_for(text, WAIT) {
        Ok(mut lines) => lines.pop().unwrap(),
        Err(err) => panic!("{err}"),
    }
}

fn joined(config: PeerConfig, name: &str) -> ScriptedPeer {
    let peer = ScriptedPeer::start(config).unwrap();
    see(&peer, WELCOME_PROMPT);
    for line in ["1", name, "secret1", "2", name, "secret1"] {
        peer.type_line(line);
    }
    see(&peer, &format!("Joined as {name}"));
    see(&peer, MENU_PROMPT);
    peer
}

#[test]
fn chat_goes_on_while_the_registry_is_killed_and_peers_rejoin() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let registry = ServerProcess::start("127.0.0.1:0", &db);
    // The port the OS picked is where the registry must come back.
    let addr = registry.addr;
    let logs = dir.path().join("logs");
    let alice = joined(quick_config(addr, &logs), "alice");
    let bob = joined(quick_config(addr, &logs), "bob");
    alice.type_line("2");
    alice.type_line("bob");
    see(&alice, ADD_PROMPT);
    alice.type_line("Yes");
    alice.type_line("3");
    see(&bob, "Chat request from 'alice'");
    bob.type_line("OK");
    see(&bob, "You are in alice's lobby");

    registry.kill();
    see(&alice, "The registry is unreachable");
    see(&bob, "The registry is unreachable");
    alice.type_line("still talking");
    see(&bob, "[alice] still talking");
    bob.type_line("me too");
    see(&alice, "[bob] me too");

    let registry = ServerProcess::start(&addr.to_string(), &db);
    see(
        &alice,
        "Reconnected to the registry; you are online again as alice",
    );
    see(
        &bob,
        "Reconnected to the registry; you are online again as bob",
    );
    let mut carol = Client::connect(addr);
    assert!(carol.ask("REGISTER carol secret1").starts_with("OK"));
    assert!(carol.ask("JOIN carol secret1 4000").starts_with("OK"));
    carol.send("LIST");
    assert_eq!(carol.recv(), "OK LIST 3");
    let rows: Vec<String> = (0..3).map(|_| carol.recv()).collect();
    for name in ["alice", "bob", "carol"] {
        assert!(
            rows.iter()
                .any(|row| row.starts_with(&format!("USER {name} "))),
            "{name} missing from {rows:?}"
        );
    }
    alice.type_line("welcome back");
    see(&bob, "[alice] welcome back");
    drop((alice, bob));
    registry.kill();
}

#[test]
fn a_leader_that_goes_silent_ends_the_lobby_for_its_member() {
    let dir = temp_dir();
    let registry = Registry::start("127.0.0.1:0".parse().unwrap(), &dir.path().join("r.db"));
    let addr = registry.addr;
    let bob = joined(quick_config(addr, &dir.path().join("logs")), "bob");

    // The leader is played by hand: a registry session for its ticket, then
    // a chat connection that stops sending and reading, without closing, as
    // if its machine had died.
    let mut alice = Client::connect(addr);
    assert!(alice.ask("REGISTER alice secret1").starts_with("OK"));
    assert!(alice.ask("JOIN alice secret1 4001").starts_with("OK"));
    let ticket = alice.ask("INVITE bob");
    let ticket = ticket.strip_prefix("OK TICKET ").expect("a ticket");
    let mut chat = TcpStream::connect(("127.0.0.1", bob.chat_port())).unwrap();
    chat.set_read_timeout(Some(WAIT)).unwrap();
    writeln!(chat, "CHAT_REQUEST alice {ticket}").unwrap();
    see(&bob, "Chat request from 'alice'");
    bob.type_line("OK");
    let mut lines = BufReader::new(chat.try_clone().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "OK");
    writeln!(chat, "MEMBERS alice bob").unwrap();
    see(&bob, "You are in alice's lobby");

    // The member keeps saying HELLO while it waits...
    assert_eq!(lines.next().unwrap().unwrap(), "HELLO");
    // ...and gives up on a leader it has not heard from.
    see(&bob, "The lobby has ended (the leader stopped answering)");
    see(&bob, MENU_PROMPT);
    drop(bob);
    registry.stop();
}
