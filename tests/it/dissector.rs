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

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;

use crate::support::{
    Capture, PASSWORD, PeerProcess, READ_TIMEOUT, ServerProcess, Tshark, dissector, open_to_all,
    skipped, temp_dir, tools,
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
/// Which end of a made-up connection writes a line: the one that
/// connected, or the one that accepted.
#[derive(Clone, Copy)]
enum End {
    Client,
    Server,
}

use End::{Client, Server};

const KEY: &str =
    "Bq7HwTqLHh0rUQqM6VJ6PnFhK3Tz2EjdCtQyRhY5cS8.3Xd7Fv6m9kQeJr1yWzPbN2sLgT4hUoAiKcE8VxM0nRw";
const LOBBY: &str = "00112233445566778899aabbccddeeff";
const NONCE: &str = "q5mPzWk3rT8vYb2nH7cJx4LdF9sG1aE6uQoRiMt0VyZ";
const SIG: &str = "Zx9Yw8Vv7Uu6Tt5Ss4Rr3Qq2Pp1Oo0Nn9Mm8Ll7Kk6Jj5Ii4Hh3Gg2Ff1Ee0Dd9Cc8Bb7Aa6zz5yy4xx3ww2vv1uu0tt9ss";
const OFFER: &str = "0123456789abcdef";
const SUM: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// One made-up connection: what each end writes, in order (a line is
/// written in pieces where it holds a `|`), and what the dissector must
/// show for it: its summary, then fields its tree must hold.
type Script = &'static [(End, &'static str, &'static [&'static str])];

/// A registry connection, a lobby, a member coming back to a seat, and a
/// file transfer, with every kind of line each carries.
fn scripts() -> Vec<Script> {
    vec![
        &[
            (Client, "NAME carol", &["Command: NAME", "User: carol"]),
            (
                Server,
                "OK NAME_FREE carol",
                &["Reply: NAME_FREE", "User: carol"],
            ),
            (
                Client,
                "REGISTER carol pass1234",
                &["Command: REGISTER", "User: carol", "Password: ****"],
            ),
            (
                Server,
                "OK REGISTERED carol",
                &["[Direction: registry to peer]", "Reply: REGISTERED"],
            ),
            // Cut in two segments, the password across the cut.
            (
                Client,
                "JOIN carol pa|ss1234 5002",
                &[
                    "p2pchat: JOIN carol **** 5002",
                    "Password: ****",
                    "Port: 5002",
                ],
            ),
            (Server, "OK LIST 2", &["Reply: LIST", "Count: 2"]),
            (
                Server,
                "USER bob 127.0.0.1 6001 KEY",
                &[
                    "User: bob",
                    "IP address: 127.0.0.1",
                    "Port: 6001",
                    "Public key: KEY",
                ],
            ),
            (
                Server,
                "USER erin 127.0.0.1 6005 KEY AWAY out to  lunch",
                &["User: erin", "Public key: KEY", "Away: out to  lunch"],
            ),
            (
                Server,
                "USER dave 127.0.0.1 6004 AWAY",
                &["User: dave", "Port: 6004", "Away: (no text)"],
            ),
            (Client, "AWAY brb", &["Command: AWAY", "Away: brb"]),
            (Server, "OK AWAY brb", &["Reply: AWAY", "Away: brb"]),
            (Client, "BACK", &["Command: BACK"]),
            (Server, "OK BACK", &["Reply: BACK"]),
            (Client, "CHECK 0a1b2c", &["Ticket: 0a1b2c"]),
            (
                Server,
                "OK TICKET alice carol KEY",
                &[
                    "Reply: TICKET",
                    "Leader: alice",
                    "Invitee: carol",
                    "Public key: KEY",
                ],
            ),
            (
                Server,
                "ERR BAD_TICKET that ticket is unknown",
                &["Error code: BAD_TICKET", "Text: that ticket is unknown"],
            ),
            // A password typed where a command should be: nothing of it shows.
            (
                Client,
                "pass1234 oops",
                &["p2pchat: (a line that is no p2pchat line)"],
            ),
            (Server, "BYE SHUTDOWN", &["Reason: SHUTDOWN"]),
        ],
        &[
            (
                Client,
                "CHAT_REQUEST alice 0a1b2c",
                &[
                    "[Direction: leader to member]",
                    "Leader: alice",
                    "Ticket: 0a1b2c",
                ],
            ),
            (
                Server,
                "OK KEY",
                &[
                    "[Direction: member to leader]",
                    "Command: OK",
                    "Public key: KEY",
                ],
            ),
            (Client, "MEMBERS alice bob", &["User: alice", "User: bob"]),
            (Client, "CREDENTIAL LOBBY", &["Lobby id: LOBBY"]),
            (
                Client,
                "SEAT bob 127.0.0.1 6001 KEY",
                &["User: bob", "Port: 6001", "Public key: KEY"],
            ),
            (
                Client,
                "HISTORY 2026-12-07T10:00:00Z alice said  before",
                &[
                    "Time: 2026-12-07T10:00:00Z",
                    "From: alice",
                    "Text: said  before",
                ],
            ),
            (
                Client,
                "MSG alice hello bob",
                &["From: alice", "Text: hello bob"],
            ),
            (Client, "SEQ 7", &["Sequence number: 7"]),
            (Server, "MSG hi all", &["Text: hi all"]),
            (
                Server,
                "PM alice SEALED KEY",
                &["To: alice", "Sealed message: KEY"],
            ),
            (
                Client,
                "PM carol just us",
                &["From: carol", "Text: just us"],
            ),
            (Server, "INVITE carol", &["User: carol"]),
            (Server, "AWAY lunch", &["Command: AWAY", "Away: lunch"]),
            (
                Server,
                "BACK",
                &["[Direction: member to leader]", "Command: BACK"],
            ),
            (
                Client,
                "AWAY bob lunch  break",
                &["User: bob", "Away: lunch  break"],
            ),
            (
                Client,
                "BACK bob",
                &["[Direction: leader to member]", "User: bob"],
            ),
            (
                Client,
                "INVITATION carol SENT bob",
                &["User: carol", "Status: SENT", "Asked by: bob"],
            ),
            (
                Client,
                "KICKED dave spamming",
                &["User: dave", "Reason: spamming"],
            ),
            (Client, "JOINED carol", &["User: carol"]),
            (Client, "LEFT carol LOST", &["User: carol", "Reason: LOST"]),
            (Client, "LEFT dave", &["User: dave"]),
            (
                Server,
                "FILE alice OFFER ID 5 SUM notes (1).txt",
                &[
                    "To: alice",
                    "Offer id: ID",
                    "Size: 5",
                    "Checksum: SUM",
                    "File name: notes (1).txt",
                ],
            ),
            (Client, "FILE bob ACCEPT ID", &["From: bob", "Offer id: ID"]),
            (Client, "HANDOVER bob", &["Command: HANDOVER", "User: bob"]),
            (Server, "LEAVE", &["Command: LEAVE"]),
            (Client, "CLOSED LEADER_LEFT", &["Reason: LEADER_LEFT"]),
        ],
        &[
            (
                Client,
                "PROVE NONCE",
                &["[Direction: member to seat]", "Nonce: NONCE"],
            ),
            (
                Server,
                "PROOF LOBBY bob NONCE SIG",
                &[
                    "Lobby id: LOBBY",
                    "User: bob",
                    "Nonce: NONCE",
                    "Signature: SIG",
                ],
            ),
            (
                Client,
                "REJOIN LOBBY carol 7 SIG",
                &[
                    "Lobby id: LOBBY",
                    "User: carol",
                    "Sequence number: 7",
                    "Signature: SIG",
                ],
            ),
            (
                Server,
                "MSG bob welcome back",
                &["From: bob", "Text: welcome back"],
            ),
            (Client, "BUSY IN_CHAT", &["Reason: IN_CHAT"]),
        ],
        &[
            (
                Client,
                "FETCH carol ID 0",
                &["User: carol", "Offer id: ID", "From byte: 0"],
            ),
            // The bytes after SENDING are the file's, even where they look
            // like a line.
            (
                Server,
                "SENDING ID 0 11\nhello\nJOIN ",
                &["Offer id: ID", "From byte: 0", "Size: 11"],
            ),
        ],
    ]
}

/// `text` with the placeholders for long words filled in.
fn filled(text: &str) -> String {
    text.replace("KEY", KEY)
        .replace("LOBBY", LOBBY)
        .replace("NONCE", NONCE)
        .replace("SIG", SIG)
        .replace("SUM", SUM)
        .replace("ID", OFFER)
}

/// Plays `script` on a new connection to `listener`, each piece read by
/// the other end before the next is written, so the lines cross in order.
fn play(listener: &std::net::TcpListener, script: Script) {
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    for stream in [&client, &server] {
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    }
    for (end, line, _) in script {
        let (writer, reader) = match end {
            Client => (&mut client, &mut server),
            Server => (&mut server, &mut client),
        };
        let line = filled(line);
        let raw = line.contains('\n');
        let text = if raw { line } else { format!("{line}\n") };
        for piece in text.split('|') {
            writer.write_all(piece.as_bytes()).unwrap();
            let mut got = vec![0; piece.len()];
            reader.read_exact(&mut got).unwrap();
        }
    }
}

/// The p2pchat items of `tshark -O p2pchat` output: each summary line
/// with the field lines under it.
fn items(output: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut inside = false;
    for line in output.lines() {
        if line.starts_with("p2pchat") {
            out.push(vec![line.to_string()]);
            inside = true;
        } else if inside && line.starts_with("    ") {
            out.last_mut().unwrap().push(line.trim().to_string());
        } else {
            inside = false;
        }
    }
    out
}

#[test]
fn every_line_kind_shows_its_fields() {
    let test = "every_line_kind_shows_its_fields";
    let Some((dumpcap, tshark)) = tools(test) else {
        return;
    };
    let listener = std::net::TcpListener::bind(crate::support::any_port()).unwrap();
    let addr = listener.local_addr().unwrap();
    let capture = match Capture::start(&dumpcap, &format!("tcp port {}", addr.port())) {
        Ok(capture) => capture,
        Err(why) => return skipped(test, &why).unwrap_or(()),
    };
    let scripts = scripts();
    for script in &scripts {
        play(&listener, script);
    }
    let marker = thread::spawn(move || listener.accept().map(|_| ()));
    let marker_port = capture.mark_end(addr);
    marker.join().unwrap().unwrap();
    let bytes = capture.stop();
    let mut command = tshark.command(&[]);
    let filter = format!("p2pchat && !(tcp.port == {marker_port})");
    command.args(["-r", "-", "-Y", &filter, "-O", "p2pchat"]);
    let output = tshark.run(command, &bytes);
    let shown = items(&output);
    let expected: Vec<_> = scripts.iter().flat_map(|script| script.iter()).collect();
    let mut shown = shown.iter();
    for (_, line, fields) in expected {
        let item = shown
            .next()
            .unwrap_or_else(|| panic!("nothing shown for {line:?}: {output}"));
        for field in *fields {
            let field = filled(field);
            assert!(item.contains(&field), "{line:?}: no {field:?} in {item:#?}");
        }
        assert!(!item.iter().any(|l| l.contains("pass1234")), "{item:#?}");
    }
    // After SENDING, the file's bytes, and nothing else.
    let rest: Vec<_> = shown.collect();
    assert_eq!(rest.len(), 1, "{rest:#?}");
    assert_eq!(rest[0][0], "p2pchat file data");
    assert!(
        rest[0][1].starts_with("File data: 68656c6c6f0a4a4f494e20"),
        "{rest:#?}"
    );
}

/// The keywords the program knows (`KEYWORDS` in `src/wire/checks.rs`),
/// each of which the dissector must have a grammar entry for: the two
/// copies of the grammar stay in step. Needs no tshark.
#[test]
fn the_dissector_knows_every_keyword_of_the_program() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checks = std::fs::read_to_string(root.join("src/wire/checks.rs")).unwrap();
    let start = checks
        .find("const KEYWORDS: &[&str] = &[")
        .expect("src/wire/checks.rs lists KEYWORDS");
    let list = &checks[start..start + checks[start..].find("];").unwrap()];
    let keywords: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
    assert!(keywords.len() > 30, "{keywords:?}");
    let lua = std::fs::read_to_string(dissector()).unwrap();
    for keyword in keywords {
        assert!(
            lua.contains(&format!("{keyword} = ")),
            "contrib/wireshark/p2pchat.lua has no entry for {keyword}"
        );
    }
}
