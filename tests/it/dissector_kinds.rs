//! The Wireshark dissector, `contrib/wireshark/p2pchat.lua`, on every
//! kind of line: made-up connections on loopback, written as scripted
//! (a line in pieces where it holds a `|`, so reassembly is tested too),
//! captured with `dumpcap` and decoded with `tshark`; each line's fields
//! must show, and never a password. And the dissector's grammar knows
//! every keyword the program does. Skipped as `dissector.rs` says where
//! the tools are missing.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;

use crate::support::{Capture, READ_TIMEOUT, dissector, skipped, tools};

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
    // The capture is live once it holds a marker; the scripts come after.
    let start_port = thread::scope(|scope| {
        let marker = scope.spawn(|| listener.accept().map(|_| ()));
        let port = capture.mark_start(addr);
        marker.join().unwrap().unwrap();
        port
    });
    let scripts = scripts();
    for script in &scripts {
        play(&listener, script);
    }
    let marker = thread::spawn(move || listener.accept().map(|_| ()));
    let marker_port = capture.mark_end(addr);
    marker.join().unwrap().unwrap();
    let bytes = capture.stop();
    let mut command = tshark.command(&[]);
    let filter = format!("p2pchat && !(tcp.port == {start_port}) && !(tcp.port == {marker_port})");
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
