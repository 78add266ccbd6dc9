//! The real `server` binary fed hostile input over raw sockets: over-long
//! lines, NUL bytes, invalid UTF-8, stray carriage returns, control
//! characters, floods of requests, clients that say nothing or hang up half
//! way. After each, the server still serves a normal client, and at the end
//! Ctrl-C still stops it cleanly.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use p2pchat::wire::HELP_TEXT;

use crate::support::{Client, ServerProcess, temp_dir};

const TOO_LONG: &str = "ERR LINE_TOO_LONG lines are at most 1024 bytes; closing";
const BAD_ENCODING: &str = "ERR BAD_ENCODING lines must be UTF-8";
/// In an expected answer: the server closes the connection.
const EOF: &str = "(the connection closes)";

/// Silent connections are closed after this long (`--hello-timeout`): far
/// longer than a loaded machine takes between a connect and its first line.
const HELLO_TIMEOUT: &str = "1.5";

fn start() -> (ServerProcess, tempfile::TempDir) {
    let dir = temp_dir();
    let server = ServerProcess::start(
        &dir.path().join("registry.db"),
        &["--hello-timeout", HELLO_TIMEOUT],
    );
    (server, dir)
}

/// Stops the server with SIGINT: it exits 0, having printed nothing on
/// standard error (no panic, no failed accept).
#[track_caller]
fn stop(server: ServerProcess) {
    server.interrupt();
    let (status, stdout, stderr) = server.wait();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
    assert!(
        stdout.ends_with("Registry stopped; everyone is marked offline.\n"),
        "{stdout}"
    );
    assert_eq!(stderr, "");
}

/// A fresh connection gets its `HELP` answered.
#[track_caller]
fn still_serves(server: &ServerProcess, after: &str) {
    let mut client = server.client();
    assert_eq!(
        client.ask("HELP"),
        format!("OK HELP {HELP_TEXT}"),
        "after {after}"
    );
}

fn describe(input: &[u8]) -> String {
    let shown = String::from_utf8_lossy(&input[..input.len().min(40)]).into_owned();
    format!("{shown:?} ({} bytes)", input.len())
}

/// Each piece of input, the answers it gets (an answer matches a reply that
/// is it or starts with it and a space), and whether the connection is
/// still usable after it.
fn corpus() -> Vec<(Vec<u8>, Vec<&'static str>)> {
    let a = |n: usize| "A".repeat(n);
    vec![
        (vec![b'A'; 1 << 20], vec![TOO_LONG, EOF]),
        (b"\0\0\0\n".to_vec(), vec!["ERR UNKNOWN_COMMAND"]),
        (b"HELP\0\n".to_vec(), vec!["ERR UNKNOWN_COMMAND"]),
        (b"\0HELP\n".to_vec(), vec!["ERR UNKNOWN_COMMAND"]),
        (
            b"REGISTER alice pass\0word\n".to_vec(),
            vec!["ERR BAD_PASSWORD"],
        ),
        (b"\xff\xfe\xfd\n".to_vec(), vec![BAD_ENCODING]),
        (b"HELP \xc3\x28\r\n".to_vec(), vec![BAD_ENCODING]),
        // An over-long encoding of '/' and a UTF-16 surrogate.
        (b"\xc0\xaf\n".to_vec(), vec![BAD_ENCODING]),
        (b"SEARCH \xed\xa0\x80\n".to_vec(), vec![BAD_ENCODING]),
        // A lone `\r` is not a line ending.
        (b"HELP\rLIST\n".to_vec(), vec!["ERR UNKNOWN_COMMAND"]),
        (b"\rHELP\n".to_vec(), vec!["ERR UNKNOWN_COMMAND"]),
        (b"HELP\r\r\n".to_vec(), vec!["ERR UNKNOWN_COMMAND"]),
        // Blank lines, however made, get no answer at all.
        (b"\r\r\r\n\n \t \r\n".to_vec(), vec![]),
        (b"\x1b[2J\x07HELP\n".to_vec(), vec!["ERR UNKNOWN_COMMAND"]),
        (b"SEARCH \x1b[31mred\n".to_vec(), vec!["ERR BAD_NAME"]),
        // A tab separates words, as a space does.
        (b"HELP\tme\n".to_vec(), vec!["ERR BAD_ARGS usage: HELP"]),
        (b"\x7f\x08\x08\n".to_vec(), vec!["ERR UNKNOWN_COMMAND"]),
        // The longest line, with either line ending, and one byte more.
        (
            format!("{}\n", a(1024)).into_bytes(),
            vec!["ERR UNKNOWN_COMMAND"],
        ),
        (
            format!("{}\r\n", a(1024)).into_bytes(),
            vec!["ERR UNKNOWN_COMMAND"],
        ),
        (
            format!("HELP{}\n", " ".repeat(1020)).into_bytes(),
            vec!["OK HELP"],
        ),
        (format!("{}\n", a(1025)).into_bytes(), vec![TOO_LONG, EOF]),
        (
            format!("HELP{}\n", " ".repeat(1021)).into_bytes(),
            vec![TOO_LONG, EOF],
        ),
        // Passwords longer than a password, in a line and longer than one.
        (
            format!("JOIN alice {} 5000\n", "p".repeat(1000)).into_bytes(),
            vec!["ERR BAD_PASSWORD"],
        ),
        (
            format!("REGISTER alice {}\n", "p".repeat(129)).into_bytes(),
            vec!["ERR BAD_PASSWORD"],
        ),
        (
            format!("JOIN alice {} 5000\n", "p".repeat(10_000)).into_bytes(),
            vec![TOO_LONG, EOF],
        ),
    ]
}

/// Sends `input` on `client` and checks the answers.
#[track_caller]
fn check(client: &mut Client, input: &[u8], expected: &[&str]) {
    // The server may close before it has read everything it was sent (an
    // over-long line), so the end of a big write may fail.
    let _ = client.try_send_raw(input);
    for want in expected {
        if *want == EOF {
            client.expect_eof();
            continue;
        }
        let got = client.recv();
        assert!(
            got == *want || got.starts_with(&format!("{want} ")),
            "{}: got {got:?}, expected {want:?}",
            describe(input)
        );
    }
}

#[test]
fn hostile_input_on_fresh_connections_and_all_on_one() {
    let (server, _dir) = start();
    // A client that connects and says nothing, all along.
    let mut silent = server.client();

    for (input, expected) in corpus() {
        let mut client = server.client();
        check(&mut client, &input, &expected);
        if expected.last() != Some(&EOF) {
            assert!(client.ask("HELP").starts_with("OK HELP "));
        }
        still_serves(&server, &describe(&input));
    }

    // Everything that leaves the connection open, on one connection and in
    // one write, and then something that closes it.
    let corpus = corpus();
    let (open, closing): (Vec<_>, Vec<_>) = corpus
        .iter()
        .partition(|(_, expected)| expected.last() != Some(&EOF));
    let input: Vec<u8> = open.iter().flat_map(|(input, _)| input.clone()).collect();
    let expected: Vec<&str> = open.iter().flat_map(|(_, e)| e.clone()).collect();
    let mut client = server.client();
    check(&mut client, &input, &expected);
    for (input, expected) in closing.iter().take(1) {
        check(&mut client, input, expected);
    }
    still_serves(&server, "everything on one connection");

    // Connections that hang up half way through a line: the partial line
    // is dropped, and the server closes its side too.
    for (input, expected) in [
        (&b"HEL"[..], &[][..]),
        (b"HELP", &[]),
        (b"HELP\nLIS", &["OK HELP"]),
        (b"JOIN alice s3cret", &[]),
    ] {
        let mut client = server.client();
        client.send_raw(input);
        client.shutdown_write();
        check(&mut client, b"", expected);
        client.expect_eof();
        still_serves(&server, &format!("a half-closed {}", describe(input)));
    }

    assert_eq!(silent.recv(), "BYE TIMEOUT");
    silent.expect_eof();
    stop(server);
}

#[test]
fn floods_of_requests() {
    let (server, _dir) = start();

    // Five thousand requests in one write are all answered, in order.
    let mut client = server.client();
    client.send_raw("HELP\n".repeat(5000).as_bytes());
    let help = format!("OK HELP {HELP_TEXT}");
    for n in 0..5000 {
        assert_eq!(client.recv(), help, "reply {n}");
    }
    assert_eq!(client.ask("HELLO").split(' ').next(), Some("ERR"));

    // A client that floods requests and never reads a reply fills its own
    // connection, not the server: others are served meanwhile.
    let mut hog = TcpStream::connect(server.addr()).unwrap();
    hog.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let _ = hog.write_all("HELP\n".repeat(50_000).as_bytes());
    still_serves(&server, "a client that never reads");
    drop(hog);

    still_serves(&server, "the floods");
    stop(server);
}
