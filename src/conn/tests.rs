//! `Conn` over in-memory streams: what `recv` yields for every kind of
//! input, split at every byte, and that `send` writes each answer whole.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};

use super::*;
use crate::wire::{ErrorCode, ParseError};

/// A reader that hands out its input in the given pieces, with errors (a
/// read timeout) where a piece is an `Err`.
struct Pieces(VecDeque<Result<Vec<u8>, ErrorKind>>);

impl Read for Pieces {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        // An empty piece is no piece: reading nothing would mean the end.
        while matches!(self.0.front(), Some(Ok(piece)) if piece.is_empty()) {
            self.0.pop_front();
        }
        match self.0.front_mut() {
            None => Ok(0),
            Some(Err(kind)) => {
                let kind = *kind;
                self.0.pop_front();
                Err(kind.into())
            }
            Some(Ok(piece)) => {
                let n = piece.len().min(out.len());
                out[..n].copy_from_slice(&piece[..n]);
                piece.drain(..n);
                if piece.is_empty() {
                    self.0.pop_front();
                }
                Ok(n)
            }
        }
    }
}

/// A writer that records every `write` call separately.
#[derive(Default)]
struct Writes(Vec<Vec<u8>>);

impl Write for Writes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type Test = Conn<(Pieces, Writes), Request, Reply>;

fn conn(pieces: Vec<Result<Vec<u8>, ErrorKind>>) -> Test {
    Conn::new(
        (Pieces(pieces.into()), Writes::default()),
        "peer",
        Trace::off(),
    )
    .unwrap()
}

/// Everything `recv` gives for `pieces`, up to and including `End`, with
/// errors as their kind.
fn received(pieces: Vec<Result<Vec<u8>, ErrorKind>>) -> Vec<Result<Received<Request>, ErrorKind>> {
    let mut conn = conn(pieces);
    let mut got = Vec::new();
    loop {
        let next = conn.recv().map_err(|err| err.kind());
        let done = matches!(next, Ok(Received::End | Received::TooLong));
        got.push(next);
        if done || got.len() > 100 {
            return got;
        }
    }
}

/// Whichever way `input` is split in two, and one byte at a time, `recv`
/// gives `expected`.
#[track_caller]
fn check(input: &[u8], expected: &[Received<Request>]) {
    let want: Vec<_> = expected.iter().map(|r| Ok(copy(r))).collect();
    for at in 0..=input.len() {
        let pieces = vec![Ok(input[..at].to_vec()), Ok(input[at..].to_vec())];
        assert_eq!(received(pieces), want, "{input:?} split at {at}");
    }
    let bytes = input.iter().map(|&b| Ok(vec![b])).collect();
    assert_eq!(received(bytes), want, "{input:?} one byte at a time");
}

fn copy(received: &Received<Request>) -> Received<Request> {
    match received {
        Received::Line(line) => Received::Line(line.clone()),
        Received::Malformed { line, err } => Received::Malformed {
            line: line.clone(),
            err: err.clone(),
        },
        Received::BadEncoding => Received::BadEncoding,
        Received::TooLong => Received::TooLong,
        Received::End => Received::End,
    }
}

fn malformed(line: &str) -> Received<Request> {
    let err: ParseError = line.parse::<Request>().unwrap_err();
    Received::Malformed {
        line: line.into(),
        err,
    }
}

#[test]
fn lines_are_parsed_whatever_their_pieces() {
    check(b"", &[Received::End]);
    check(
        b"HELLO\r\n\nLIST\n",
        &[
            Received::Line(Request::Hello),
            Received::Line(Request::List),
            Received::End,
        ],
    );
    check(
        b"FROB\nHELLO\n",
        &[
            malformed("FROB"),
            Received::Line(Request::Hello),
            Received::End,
        ],
    );
    check(
        b"\xff\nHELLO\nHEL",
        &[
            Received::BadEncoding,
            Received::Line(Request::Hello),
            Received::End,
        ],
    );
    let longest = "a".repeat(wire::MAX_LINE);
    check(
        format!("{longest}\n").as_bytes(),
        &[malformed(&longest), Received::End],
    );
    check(
        format!("{longest}a\nHELLO\n").as_bytes(),
        &[Received::TooLong],
    );
}

#[test]
fn a_malformed_line_carries_the_grammars_error() {
    let got = received(vec![Ok(b"SEARCH\n".to_vec())]);
    let Ok(Received::Malformed { line, err }) = &got[0] else {
        panic!("{got:?}");
    };
    assert_eq!((line.as_str(), err.code), ("SEARCH", ErrorCode::BadArgs));
}

#[test]
fn a_partial_line_survives_a_read_timeout() {
    for kind in [ErrorKind::WouldBlock, ErrorKind::TimedOut] {
        let pieces = vec![Ok(b"HEL".to_vec()), Err(kind), Ok(b"LO\n".to_vec())];
        assert_eq!(
            received(pieces),
            [
                Err(kind),
                Ok(Received::Line(Request::Hello)),
                Ok(Received::End)
            ]
        );
    }
}

#[test]
fn retyping_keeps_what_was_read_ahead() {
    let mut first: Conn<(&[u8], Vec<u8>), String, Reply> =
        Conn::new((&b"anything\nHELLO\n"[..], Vec::new()), "p", Trace::off()).unwrap();
    assert_eq!(
        first.recv().unwrap(),
        Received::Line("anything".to_string())
    );
    let mut then: Conn<_, Request, Reply> = first.retype();
    assert_eq!(then.recv().unwrap(), Received::Line(Request::Hello));
}

#[test]
fn every_answer_is_written_whole() {
    let mut conn = conn(Vec::new());
    conn.send(&Reply::Hello).unwrap();
    conn.send_all(&[Reply::List(0), Reply::LoggedOut]).unwrap();
    let (_, writer) = conn.into_split();
    assert_eq!(
        writer.get_ref().0,
        [b"OK HELLO\n".to_vec(), b"OK LIST 0\nOK BYE\n".to_vec()]
    );
}

/// Both ends of one loopback connection, plain or TLS: (server's, client's).
pub(crate) fn loopback(tls: bool) -> (Stream, Stream) {
    use crate::crypto::{ClientAuth, Identity, ServerKey, accept, client_config, connect};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    if !tls {
        return (server.into(), client.into());
    }
    let identity = Identity::generate().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let config = crate::crypto::server_config(identity.tls(), ClientAuth::None).unwrap();
    let acceptor = std::thread::spawn(move || accept(server, config, deadline).unwrap());
    let pinned = ServerKey::pinned(identity.tls().fingerprint());
    let client = connect(client, client_config(pinned, None).unwrap(), deadline).unwrap();
    (acceptor.join().unwrap().into(), client.into())
}

#[test]
fn queued_lines_go_out_as_the_stream_carries_them_sealed_once_per_flush() {
    for tls in [false, true] {
        let (server, client) = loopback(tls);
        assert_eq!(server.is_tls(), tls);
        let (_, writer) = Conn::<Stream, Request, Reply>::new(server, "p", Trace::off())
            .unwrap()
            .into_split();
        let mut line = Vec::new();
        encode_into(&mut line, &Reply::Hello);
        let mut outbox = Outbox::new();
        writer.queue(&line, &mut outbox);
        writer.queue(&line, &mut outbox);
        assert_eq!(outbox.len(), 2 * line.len());
        // In plain text the lines are ready as they are; over TLS they wait
        // for the seal.
        assert_eq!(outbox.wire() == b"OK HELLO\nOK HELLO\n", !tls, "tls: {tls}");
        assert_eq!(outbox.wire().is_empty(), tls, "tls: {tls}");
        writer.seal(&mut outbox).unwrap();
        if tls {
            // Both lines in one record: its header, then the two lines, the
            // content type and the AEAD tag (TLS 1.3, RFC 8446 5.2).
            let record = outbox.wire();
            assert_eq!(record[0], 23, "application data");
            let length = usize::from(u16::from_be_bytes([record[3], record[4]]));
            assert_eq!(record.len(), 5 + length);
            assert_eq!(length, 2 * line.len() + 1 + 16);
        }
        assert_eq!(outbox.len(), outbox.wire().len());
        // Pushed by its owner, the outbox reads as the lines at the other end.
        writer.get_ref().socket().write_all(outbox.wire()).unwrap();
        outbox.sent(outbox.wire().len());
        assert!(outbox.is_empty());
        let mut other = Conn::<Stream, Reply, Request>::new(client, "p", Trace::off()).unwrap();
        assert_eq!(other.recv().unwrap(), Received::Line(Reply::Hello));
        assert_eq!(other.recv().unwrap(), Received::Line(Reply::Hello));
        assert_eq!(other.peer_key().is_some(), tls);
    }
}

#[test]
fn a_large_flush_is_sealed_into_full_records() {
    let (server, client) = loopback(true);
    let (_, writer) = Conn::<Stream, Request, Reply>::new(server, "p", Trace::off())
        .unwrap()
        .into_split();
    let mut line = Vec::new();
    encode_into(&mut line, &Reply::Hello);
    let mut outbox = Outbox::new();
    let lines = 40 * 1024 / line.len();
    for _ in 0..lines {
        writer.queue(&line, &mut outbox);
    }
    writer.seal(&mut outbox).unwrap();
    let mut records = Vec::new();
    let mut rest = outbox.wire();
    while !rest.is_empty() {
        let length = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        records.push(length);
        rest = &rest[5 + length..];
    }
    // Three records for 40 KiB: two full ones of 16 KiB of plaintext, and
    // the rest.
    assert_eq!(records.len(), 3, "{records:?}");
    assert_eq!(records[0], 16 * 1024 + 1 + 16);
    writer.get_ref().socket().write_all(outbox.wire()).unwrap();
    let mut other = Conn::<Stream, Reply, Request>::new(client, "p", Trace::off()).unwrap();
    for _ in 0..lines {
        assert_eq!(other.recv().unwrap(), Received::Line(Reply::Hello));
    }
}
