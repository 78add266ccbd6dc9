//! The Wireshark dissector, `contrib/wireshark/p2pchat.lua`, on real
//! captures: `dumpcap` records the loopback traffic of a registry and two
//! peers (the real binaries) that register, join, open a lobby with a
//! ticket and say one line, once in plain text and once over TLS with
//! `SSLKEYLOGFILE`; `tshark` with the dissector then decodes each capture,
//! and the fields must show the lines in order, the users, their chat
//! ports and the ticket, and never a password. The TLS capture decodes to
//! the same lines as the plain one.
//!
//! Where `tshark` or `dumpcap` is missing, or cannot capture, a test says
//! so in one line starting with `skipped:` and checks nothing. Where
//! `.ci/run` installed them it sets `P2PCHAT_TSHARK=required`, and there
//! a test that cannot run is a failure.

use std::net::SocketAddr;
use std::path::Path;

use crate::support::{
    Capture, PASSWORD, PeerProcess, ServerProcess, Tshark, open_to_all, skipped, temp_dir, tools,
};

/// Decodes `capture` (pcapng bytes, on standard input, so that `nobody`
/// needs no access to the test's files) and returns its packets'
/// p2pchat fields, with `key_log` for TLS, leaving out the connection
/// from port `marker`.
fn decode(tshark: &Tshark, capture: &[u8], key_log: Option<&Path>, marker: u16) -> Vec<Line> {
    let mut command = tshark.command(&[]);
    let filter = format!("p2pchat && !(tcp.port == {marker})");
    command.args(["-r", "-", "-Y", &filter]);
    if let Some(key_log) = key_log {
        command
            .arg("-o")
            .arg(format!("tls.keylog_file:{}", key_log.display()));
    }
    command.args([
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=\u{1f}",
    ]);
    for field in FIELDS {
        command.args(["-e", field]);
    }
    Line::parse_all(&tshark.run(command, capture))
}

/// The fields `decode` asks for, in the order `Packet` reads them.
const FIELDS: [&str; 8] = [
    "p2pchat.command",
    "p2pchat.reply",
    "p2pchat.user",
    "p2pchat.port",
    "p2pchat.ticket",
    "p2pchat.password",
    "p2pchat.line",
    "p2pchat.text",
];

/// One packet's p2pchat fields, each field's values in line order.
#[derive(Debug)]
struct Line {
    fields: Vec<Vec<String>>,
}

impl Line {
    fn parse_all(output: &str) -> Vec<Line> {
        output
            .lines()
            .map(|row| Line {
                fields: row
                    .split('\t')
                    .map(|cell| {
                        cell.split('\u{1f}')
                            .filter(|value| !value.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .collect(),
            })
            .collect()
    }

    fn values(&self, field: &str) -> &[String] {
        let at = FIELDS.iter().position(|f| *f == field).unwrap();
        self.fields.get(at).map_or(&[], Vec::as_slice)
    }
}

/// Every value of `field` in `packets`, in order.
fn all(packets: &[Line], field: &str) -> Vec<String> {
    packets
        .iter()
        .flat_map(|packet| packet.values(field).iter().cloned())
        .collect()
}

/// The commands of `packets` in order, a registry's `OK` with the word
/// after it, heartbeats left out (whether one falls inside the test is
/// timing).
fn commands(packets: &[Line]) -> Vec<String> {
    let mut out = Vec::new();
    for packet in packets {
        let mut replies = packet.values("p2pchat.reply").iter();
        for command in packet.values("p2pchat.command") {
            let reply = (command == "OK").then(|| replies.next()).flatten();
            let named = match reply {
                Some(reply) => format!("OK {reply}"),
                None => command.clone(),
            };
            if named != "HELLO" && named != "OK HELLO" {
                out.push(named);
            }
        }
    }
    out
}

/// What one run of the scenario captured: the registry's connections and
/// the chat connection, and the peers' chat ports.
struct Captured {
    registry: Vec<u8>,
    chat: Vec<u8>,
    alice_port: u16,
    bob_port: u16,
    /// The end markers' own ports, in the registry's and the chat capture.
    markers: [u16; 2],
}

/// The scenario, with `server` running and the peers started by `peer`:
/// both register and join, alice invites bob (with a ticket), bob accepts
/// and says a line. `None` where dumpcap cannot capture.
fn run(
    test: &str,
    dumpcap: &Path,
    server: &ServerProcess,
    mut peer: impl FnMut(&str) -> PeerProcess,
) -> Option<Captured> {
    let registry_addr = server.addr();
    let registry = match Capture::start(dumpcap, &format!("tcp port {}", registry_addr.port())) {
        Ok(capture) => capture,
        Err(why) => return skipped(test, &why),
    };
    let (mut alice, mut bob) = (peer("alice"), peer("bob"));
    let (alice_port, bob_port) = (alice.chat_port(), bob.chat_port());
    let chat_filter = format!("tcp port {alice_port} or tcp port {bob_port}");
    let chat = Capture::start(dumpcap, &chat_filter).expect("a second capture starts");
    alice.join(PASSWORD);
    bob.join(PASSWORD);
    for line in ["2", "bob", "Yes", "3"] {
        alice.types(line);
    }
    bob.sees("Chat request from 'alice'");
    bob.types("OK");
    bob.sees("You are in alice's lobby");
    bob.types("hello from bob");
    alice.sees("[bob] hello from bob");
    let markers = [
        registry.mark_end(registry_addr),
        chat.mark_end(SocketAddr::from(([127, 0, 0, 1], bob_port))),
    ];
    Some(Captured {
        markers,
        registry: registry.stop(),
        chat: chat.stop(),
        alice_port,
        bob_port,
    })
}

/// The commands both modes' captures decode to, in order, heartbeats
/// aside: on the registry's port, both check their names, register and join, alice looks bob
/// up and asks for a ticket, bob looks alice up and checks the ticket; on
/// the chat connection, alice's request with the ticket, bob's yes, the
/// lobby's opening lines and bob's message, numbered.
const REGISTRY_LINES: &[&str] = &[
    "NAME",
    "OK NAME_FREE",
    "REGISTER",
    "OK REGISTERED",
    "JOIN",
    "OK JOINED",
    "NAME",
    "OK NAME_FREE",
    "REGISTER",
    "OK REGISTERED",
    "JOIN",
    "OK JOINED",
    "SEARCH",
    "OK USER",
    "INVITE",
    "OK TICKET",
    "SEARCH",
    "OK USER",
    "CHECK",
    "OK TICKET",
];
const CHAT_LINES: &[&str] = &[
    "CHAT_REQUEST",
    "OK",
    "MEMBERS",
    "CREDENTIAL",
    "SEAT",
    "SEAT",
    "MSG",
    "SEQ",
];

/// Checks what a capture of the scenario, in either mode, shows.
#[track_caller]
fn check(tshark: &Tshark, captured: &Captured, key_log: Option<&Path>) {
    let registry = decode(tshark, &captured.registry, key_log, captured.markers[0]);
    let chat = decode(tshark, &captured.chat, key_log, captured.markers[1]);
    assert_eq!(commands(&registry), REGISTRY_LINES, "{registry:?}");
    assert_eq!(commands(&chat), CHAT_LINES, "{chat:?}");
    // The invitation's ticket: from the registry, shown to bob in the chat
    // request, checked by bob at the registry.
    let tickets = all(&registry, "p2pchat.ticket");
    let chat_tickets = all(&chat, "p2pchat.ticket");
    assert_eq!(chat_tickets.len(), 1, "{chat_tickets:?}");
    assert_eq!(
        tickets.iter().filter(|t| **t == chat_tickets[0]).count(),
        2,
        "{tickets:?}"
    );
    // The users, the ports they join with, and the line bob said.
    let users = all(&registry, "p2pchat.user");
    assert!(users.iter().any(|u| u == "alice") && users.iter().any(|u| u == "bob"));
    let ports = all(&registry, "p2pchat.port");
    for port in [captured.alice_port, captured.bob_port] {
        assert!(ports.contains(&port.to_string()), "{port} not in {ports:?}");
    }
    assert!(all(&chat, "p2pchat.text").contains(&"hello from bob".to_string()));
    // Every password is shown as ****, and nowhere in clear.
    let passwords = all(&registry, "p2pchat.password");
    assert_eq!(passwords, ["****"; 4], "{passwords:?}");
    for packet in registry.iter().chain(&chat) {
        for values in &packet.fields {
            assert!(!values.iter().any(|v| v.contains(PASSWORD)), "{packet:?}");
        }
    }
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

#[test]
fn the_dissector_decodes_a_plain_text_capture() {
    let test = "the_dissector_decodes_a_plain_text_capture";
    let Some((dumpcap, tshark)) = tools(test) else {
        return;
    };
    let dir = temp_dir();
    let server = ServerProcess::start(&dir.path().join("registry.db"), &[]);
    let registry = server.addr().to_string();
    let logs = dir.path().join("logs");
    let logs = logs.to_str().unwrap();
    let peer = |name: &str| PeerProcess::start(name, &["--server", &registry, "--log-dir", logs]);
    let Some(captured) = run(test, &dumpcap, &server, peer) else {
        return;
    };
    // The password did cross in clear: the dissector is what hides it.
    assert!(holds(&captured.registry, PASSWORD));
    check(&tshark, &captured, None);
}

#[test]
fn the_dissector_decodes_a_tls_capture_with_the_key_log() {
    let test = "the_dissector_decodes_a_tls_capture_with_the_key_log";
    let Some((dumpcap, tshark)) = tools(test) else {
        return;
    };
    let dir = temp_dir();
    let server_keys = dir.path().join("server.keys");
    let mut server =
        ServerProcess::start_tls_logging_keys(&dir.path().join("registry.db"), &server_keys);
    assert!(server.next_line().starts_with("fingerprint SHA256:"));
    let registry = server.addr().to_string();
    let home = dir.path().to_path_buf();
    let peer = |name: &str| {
        let path = |sub: &str| home.join(name).join(sub).to_str().unwrap().to_string();
        let args = [
            "--server",
            &registry,
            "--data-dir",
            &path("data"),
            "--log-dir",
            &path("logs"),
        ];
        PeerProcess::start_logging_keys(name, &args, &home.join(format!("{name}.keys")))
    };
    let Some(captured) = run(test, &dumpcap, &server, peer) else {
        return;
    };
    assert!(!holds(&captured.registry, PASSWORD));
    // One key log for tshark, readable by whoever runs it.
    let mut keys = String::new();
    for name in ["server", "alice", "bob"] {
        keys += &std::fs::read_to_string(dir.path().join(format!("{name}.keys"))).unwrap();
    }
    let key_log = dir.path().join("all.keys");
    std::fs::write(&key_log, keys).unwrap();
    open_to_all(dir.path(), &key_log);
    check(&tshark, &captured, Some(&key_log));
}
