//! The TLS stream, the verifiers and the plain-text check over real
//! loopback sockets. Each test waits for what it expects under a deadline
//! of tens of seconds as a safety net; none sleeps to synchronise.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use rustls::{ClientConfig, ServerConfig};

use super::*;

const SAFETY: Duration = Duration::from_secs(20);

fn deadline() -> Instant {
    Instant::now() + SAFETY
}

/// Two identities made once: key generation is the slow part.
fn alice() -> &'static Identity {
    static ALICE: OnceLock<Identity> = OnceLock::new();
    ALICE.get_or_init(|| Identity::generate().unwrap())
}

fn bob() -> &'static Identity {
    static BOB: OnceLock<Identity> = OnceLock::new();
    BOB.get_or_init(|| Identity::generate().unwrap())
}

/// A server config for `identity` and a client config that pins it.
fn configs(server: &Identity, client: Option<&Identity>) -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let auth = if client.is_some() {
        ClientAuth::Required
    } else {
        ClientAuth::None
    };
    (
        server_config(server.tls(), auth).unwrap(),
        client_config(
            ServerKey::pinned(server.tls().fingerprint()),
            client.map(|c| c.tls()),
        )
        .unwrap(),
    )
}

/// Both ends of one connection's handshake: (server's, client's).
fn handshake(
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
) -> (
    Result<TlsStream, HandshakeError>,
    Result<TlsStream, HandshakeError>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let acceptor = thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        accept(tcp, server, deadline())
    });
    let tcp = TcpStream::connect(address).unwrap();
    let client = connect(tcp, client, deadline());
    (acceptor.join().unwrap(), client)
}

fn connected(server: &Identity, client: Option<&Identity>) -> (TlsStream, TlsStream) {
    let (server_config, client_config) = configs(server, client);
    let (server, client) = handshake(server_config, client_config);
    (server.unwrap(), client.unwrap())
}

#[test]
fn both_ends_talk_at_once_from_two_threads_each() {
    let (server, client) = connected(alice(), Some(bob()));
    // Each end knows which key the other proved.
    assert_eq!(server.peer_fingerprint(), Some(bob().tls().fingerprint()));
    assert_eq!(server.peer_key(), Some(bob().public().identity));
    assert_eq!(client.peer_fingerprint(), Some(alice().tls().fingerprint()));
    const LINES: usize = 2000;
    let run = |stream: TlsStream, me: &'static str| {
        let (reader, mut writer) = stream.split().unwrap();
        let writing = thread::spawn(move || {
            for i in 0..LINES {
                writer.write_all(format!("{me} {i}\n").as_bytes()).unwrap();
            }
            writer
        });
        let reading = thread::spawn(move || {
            let mut lines = BufReader::new(reader).lines();
            (0..LINES)
                .map(|_| lines.next().unwrap().unwrap())
                .collect::<Vec<_>>()
        });
        (writing, reading)
    };
    let (server_writes, server_reads) = run(server, "server");
    let (client_writes, client_reads) = run(client, "client");
    let expected = |who: &str| (0..LINES).map(|i| format!("{who} {i}")).collect::<Vec<_>>();
    assert_eq!(server_reads.join().unwrap(), expected("client"));
    assert_eq!(client_reads.join().unwrap(), expected("server"));
    server_writes.join().unwrap();
    client_writes.join().unwrap();
}

#[test]
fn a_large_transfer_arrives_whole() {
    let (mut server, client) = connected(alice(), None);
    let data: Vec<u8> = (0..2 << 20).map(|i: u32| (i * 7 + i / 251) as u8).collect();
    let sent = data.clone();
    let sender = thread::spawn(move || {
        let (_reader, mut writer) = client.split().unwrap();
        // Odd sizes, so records and writes do not line up.
        for piece in sent.chunks(70_001) {
            writer.write_all(piece).unwrap();
        }
        writer.close().unwrap();
    });
    let mut received = Vec::new();
    server.read_to_end(&mut received).unwrap();
    sender.join().unwrap();
    assert!(
        received == data,
        "{} bytes of {}",
        received.len(),
        data.len()
    );
}

#[test]
fn a_clean_close_reads_as_the_end_and_a_cut_as_unexpected() {
    let (server, client) = connected(alice(), None);
    let (_, mut writer) = client.split().unwrap();
    writer.write_all(b"bye\n").unwrap();
    writer.close().unwrap();
    let mut text = String::new();
    BufReader::new(server).read_to_string(&mut text).unwrap();
    assert_eq!(text, "bye\n");

    let (mut server, client) = connected(alice(), None);
    drop(client);
    let err = server.read(&mut [0; 16]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn a_read_timeout_loses_nothing_even_within_a_record() {
    let (server, client) = connected(alice(), None);
    let (mut reader, _server_writer) = server.split().unwrap();
    reader
        .socket()
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let timed_out = |err: io::Error| {
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ),
            "{err:?}"
        )
    };
    let mut buf = [0; 64];
    timed_out(reader.read(&mut buf).unwrap_err());
    // Half a record arrives, then the reader times out, then the rest.
    let (_client_reader, writer) = client.split().unwrap();
    let mut ciphertext = Vec::new();
    writer.encrypt(b"hello, world\n", &mut ciphertext).unwrap();
    let (first, second) = ciphertext.split_at(ciphertext.len() / 2);
    let mut socket = writer.socket();
    socket.write_all(first).unwrap();
    timed_out(reader.read(&mut buf).unwrap_err());
    socket.write_all(second).unwrap();
    reader.socket().set_read_timeout(Some(SAFETY)).unwrap();
    let n = reader.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello, world\n");
}

#[test]
fn a_wrong_server_key_is_refused_on_both_sides() {
    let server_config = server_config(bob().tls(), ClientAuth::None).unwrap();
    let client_config =
        client_config(ServerKey::pinned(alice().tls().fingerprint()), None).unwrap();
    let (server, client) = handshake(server_config, client_config);
    match client {
        Err(HandshakeError::KeyChanged(changed)) => assert_eq!(
            changed,
            KeyChanged {
                expected: alice().tls().fingerprint(),
                presented: bob().tls().fingerprint(),
            }
        ),
        other => panic!("client: {other:?}"),
    }
    assert!(server.is_err(), "server: {server:?}");
}

#[test]
fn a_client_without_a_key_is_refused_where_one_is_required() {
    let server_config = server_config(alice().tls(), ClientAuth::Required).unwrap();
    let client_config =
        client_config(ServerKey::pinned(alice().tls().fingerprint()), None).unwrap();
    let (server, client) = handshake(server_config, client_config);
    assert!(
        matches!(server, Err(HandshakeError::Tls(_))),
        "server: {server:?}"
    );
    // In TLS 1.3 the client finishes first; it learns of the refusal at
    // its first read, and never reads a byte of application data.
    if let Ok(mut client) = client {
        assert!(client.read(&mut [0; 16]).is_err());
    }
}

#[test]
fn on_first_use_any_key_passes_and_the_caller_reads_it() {
    let server_config = server_config(bob().tls(), ClientAuth::None).unwrap();
    let client_config = client_config(ServerKey::trust_on_first_use(), None).unwrap();
    let (_server, client) = handshake(server_config, client_config);
    let presented = client.unwrap().peer_fingerprint().unwrap();
    let mut pins = Pins::default();
    assert_eq!(
        pins.check_registry("lab:5000", presented),
        Pin::New(presented)
    );
    pins.trust_registry("lab:5000", presented);
    assert_eq!(pins.check_registry("lab:5000", presented), Pin::Known);
}

#[test]
fn a_silent_server_times_the_handshake_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_silent, _) = listener.accept().unwrap();
    let (_, client_config) = configs(alice(), None);
    let result = connect(
        tcp,
        client_config,
        Instant::now() + Duration::from_millis(100),
    );
    assert!(
        matches!(result, Err(HandshakeError::TimedOut)),
        "{result:?}"
    );
}

#[test]
fn plain_text_at_a_tls_port_gets_one_line_saying_what_to_do() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let mut person = TcpStream::connect(address).unwrap();
    person.set_read_timeout(Some(SAFETY)).unwrap();
    person.write_all(b"HELLO\r\n").unwrap();
    let (tcp, _) = listener.accept().unwrap();
    assert_eq!(sniff(&tcp, deadline()).unwrap(), Opening::PlainText);
    let notice = plain_text_notice(tcp.local_addr().unwrap());
    // The person reads the notice and closes, which ends the linger.
    let reader = std::thread::spawn(move || {
        let mut answer = String::new();
        person.read_to_string(&mut answer).unwrap();
        answer
    });
    refuse_plain_text(tcp, &notice, Duration::from_secs(2)).unwrap();
    let answer = reader.join().unwrap();
    assert_eq!(answer, plain_text_notice(address));
    assert_eq!(answer.lines().count(), 1);
    assert!(answer.contains(&format!("openssl s_client -quiet -connect {address}")));
    assert!(answer.contains("--plaintext"));

    // One who leaves without a word.
    drop(TcpStream::connect(address).unwrap());
    let (tcp, _) = listener.accept().unwrap();
    assert_eq!(sniff(&tcp, deadline()).unwrap(), Opening::Closed);
}

#[test]
fn a_client_hello_goes_on_to_the_handshake_untouched() {
    let (server_config, client_config) = configs(alice(), None);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let client = thread::spawn(move || {
        let tcp = TcpStream::connect(address).unwrap();
        let mut stream = connect(tcp, client_config, deadline()).unwrap();
        stream.write_all(b"REGISTER\n").unwrap();
        stream
    });
    let (tcp, _) = listener.accept().unwrap();
    assert_eq!(sniff(&tcp, deadline()).unwrap(), Opening::Tls);
    let stream = accept(tcp, server_config, deadline()).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    assert_eq!(line, "REGISTER\n");
    client.join().unwrap();
}

#[test]
fn a_writer_is_not_held_up_by_a_reader_waiting_on_its_socket() {
    let (mut server, client) = connected(alice(), None);
    let (mut reader, mut writer) = client.split().unwrap();
    let (read_tx, read_rx) = std::sync::mpsc::channel();
    let reading = thread::spawn(move || {
        let mut buf = [0; 16];
        let n = reader.read(&mut buf);
        read_tx.send(n.map(|n| buf[..n].to_vec())).unwrap();
        reader
    });
    // The reader waits for the server, which waits for the writer's line.
    let (wrote_tx, wrote_rx) = std::sync::mpsc::channel();
    let writing = thread::spawn(move || {
        writer.write_all(b"ping\n").unwrap();
        wrote_tx.send(()).unwrap();
        writer
    });
    wrote_rx
        .recv_timeout(SAFETY)
        .expect("the writer waited for the reader");
    let mut line = [0; 5];
    server.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"ping\n");
    server.write_all(b"pong\n").unwrap();
    assert_eq!(read_rx.recv_timeout(SAFETY).unwrap().unwrap(), b"pong\n");
    let mut reader = reading.join().unwrap();
    let _writer = writing.join().unwrap();
    // The unsplit stream closes cleanly too.
    server.close().unwrap();
    assert_eq!(reader.read(&mut [0; 16]).unwrap(), 0);
}

/// The child's side of `sslkeylogfile_is_honoured`: a handshake, with the
/// variable set by the parent.
const KEY_LOG_CHILD: &str = "P2PCHAT_KEY_LOG_CHILD";

/// `SSLKEYLOGFILE` is read when a configuration is built, so the check runs
/// in a child process of this test binary, which has it set from the start.
#[test]
fn sslkeylogfile_is_honoured() {
    if std::env::var_os(KEY_LOG_CHILD).is_some() {
        connected(alice(), Some(bob()));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("keys.log");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crypto::loopback_tests::sslkeylogfile_is_honoured",
        ])
        .env(KEY_LOG_CHILD, "1")
        .env("SSLKEYLOGFILE", &log)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let written = std::fs::read_to_string(&log).unwrap();
    for secret in ["CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"] {
        assert!(written.contains(secret), "{secret} missing from {written}");
    }
}
