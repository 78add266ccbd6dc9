//! `Conn`: one registry connection of a peer, and `hear`, which matches a
//! line against the reply the connection waits for (`Owed`). `hear` is pure;
//! `Conn` writes one short line at a time and never blocks on a read.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use crate::{Lines, ReadEnd};

/// What a connection waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owed {
    Nothing,
    Joined,
    Hello,
    /// `OK LIST <n>`, then `n` rows.
    List {
        rows_left: Option<u64>,
    },
    Search,
    Invite,
    /// `OK BYE`
    LoggedOut,
    /// This exact `BYE` line.
    Bye(&'static str),
}

/// What one line did to what a connection waits for.
pub(super) enum Heard {
    /// The request is answered.
    Answered {
        offline: bool,
    },
    /// More lines of the same answer are to come.
    More,
    /// The last line the server sends on this connection.
    Farewell,
    Wrong,
}

pub(super) fn hear(owed: &mut Owed, line: &[u8]) -> Heard {
    let answered = Heard::Answered { offline: false };
    let offline = line.starts_with(b"ERR OFFLINE ");
    match *owed {
        Owed::Joined if line.starts_with(b"OK JOINED ") => answered,
        Owed::Hello if line == b"OK HELLO" => answered,
        Owed::List { rows_left: None } if line.starts_with(b"OK LIST ") => {
            match std::str::from_utf8(&line[8..]).map(str::parse::<u64>) {
                Ok(Ok(0)) => answered,
                Ok(Ok(n)) => {
                    *owed = Owed::List { rows_left: Some(n) };
                    Heard::More
                }
                _ => Heard::Wrong,
            }
        }
        Owed::List {
            rows_left: Some(left),
        } if line.starts_with(b"USER ") => {
            if left > 1 {
                *owed = Owed::List {
                    rows_left: Some(left - 1),
                };
                Heard::More
            } else {
                answered
            }
        }
        Owed::Search if line.starts_with(b"OK USER ") => answered,
        Owed::Invite if line.starts_with(b"OK TICKET ") => answered,
        Owed::Search | Owed::Invite if offline => Heard::Answered { offline: true },
        Owed::LoggedOut if line == b"OK BYE" => Heard::Farewell,
        Owed::Bye(bye) if line == bye.as_bytes() => Heard::Farewell,
        _ => Heard::Wrong,
    }
}

/// One connection to the registry.
pub(super) struct Conn {
    pub(super) stream: TcpStream,
    pub(super) lines: Lines,
    pub(super) owed: Owed,
    pub(super) sent: Instant,
    /// The server's last line has come; only the close may follow.
    pub(super) farewell: bool,
}

impl Conn {
    /// Connects and sends `line` (blocking: a loopback connect and one
    /// short line cannot wait long), then turns non-blocking.
    pub(super) fn open(addr: SocketAddr, line: &str, owed: Owed) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        (&stream).write_all(line.as_bytes())?;
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            lines: Lines::default(),
            owed,
            sent: Instant::now(),
            farewell: false,
        })
    }

    /// Reads what the socket has until it would block: its complete lines,
    /// and why it stopped.
    pub(super) fn read(&mut self, scratch: &mut [u8]) -> (Vec<Vec<u8>>, ReadEnd) {
        let mut heard = Vec::new();
        let (_, end) = self
            .lines
            .read(&self.stream, scratch, |line| heard.push(line.to_vec()));
        (heard, end)
    }

    /// Sends one short line on a connection with nothing in flight, whose
    /// send buffer therefore has room; false if the connection broke.
    pub(super) fn send(&mut self, line: &str, owed: Owed) -> bool {
        match (&self.stream).write(line.as_bytes()) {
            Ok(n) if n == line.len() => {
                self.owed = owed;
                self.sent = Instant::now();
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(mut owed: Owed, before: &[&str], last: &str, expected: &str) {
        for line in before {
            assert!(
                matches!(hear(&mut owed, line.as_bytes()), Heard::More),
                "{line}"
            );
        }
        let got = match hear(&mut owed, last.as_bytes()) {
            Heard::Answered { offline: false } => "answered",
            Heard::Answered { offline: true } => "offline",
            Heard::More => "more",
            Heard::Farewell => "farewell",
            Heard::Wrong => "wrong",
        };
        assert_eq!(got, expected, "{owed:?} {last}");
    }

    #[test]
    fn replies() {
        check(Owed::Hello, &[], "OK HELLO", "answered");
        check(
            Owed::Joined,
            &[],
            "OK JOINED bench00001 127.0.0.1 9001",
            "answered",
        );
        check(Owed::List { rows_left: None }, &[], "OK LIST 0", "answered");
        check(
            Owed::List { rows_left: None },
            &["OK LIST 2", "USER a 127.0.0.1 1"],
            "USER b 127.0.0.1 2",
            "answered",
        );
        check(
            Owed::Search,
            &[],
            "ERR OFFLINE bench00002 is offline",
            "offline",
        );
        check(Owed::Invite, &[], "OK TICKET 00ff", "answered");
        check(Owed::LoggedOut, &[], "OK BYE", "farewell");
        check(Owed::Bye("BYE REPLACED"), &[], "BYE REPLACED", "farewell");
        check(Owed::Bye("BYE REPLACED"), &[], "BYE TIMEOUT", "wrong");
        check(Owed::Hello, &[], "BYE TIMEOUT", "wrong");
        check(Owed::Search, &[], "ERR NOT_JOINED JOIN first", "wrong");
        check(Owed::Nothing, &[], "OK HELLO", "wrong");
    }
}
