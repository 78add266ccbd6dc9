//! The wait for the first line of a chat connection, shared by both ends:
//! the inviter waits for the invitee's answer, the invitee for the leader's
//! `CHAT_REQUEST`. Both wait under a deadline and give up early when told.
//!
//! This module reads; it never writes.

use std::io;
use std::str::FromStr;
use std::time::Instant;

use crate::conn::{Conn, Received, Transport};
use crate::line::is_timeout;

/// How the wait for a first line ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FirstLine<In> {
    /// A complete line, parsed.
    Line(In),
    /// A complete line that is not an `In`.
    Malformed(String),
    /// The other side closed the connection first.
    Closed,
    /// The other side sent a line too long or not UTF-8.
    Unreadable,
    /// The deadline passed, or `cancelled` said to stop.
    GaveUp,
}

/// Reads the first line, waiting until `deadline` at most and stopping as
/// soon as `cancelled()` is true. The reader's socket must have a short read
/// timeout: `cancelled` and the deadline are looked at after each one.
pub(super) fn read_first_line<S: Transport, In: FromStr, Out>(
    conn: &mut Conn<S, In, Out>,
    deadline: Instant,
    cancelled: impl Fn() -> bool,
) -> io::Result<FirstLine<In>> {
    loop {
        match conn.recv() {
            Ok(Received::Line(line)) => return Ok(FirstLine::Line(line)),
            Ok(Received::Malformed { line, .. }) => return Ok(FirstLine::Malformed(line)),
            Ok(Received::End) => return Ok(FirstLine::Closed),
            Ok(Received::TooLong | Received::BadEncoding) => return Ok(FirstLine::Unreadable),
            Err(err) if is_timeout(&err) => {
                if cancelled() || Instant::now() >= deadline {
                    return Ok(FirstLine::GaveUp);
                }
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::io::{ErrorKind, Read, Sink, sink};
    use std::time::Duration;

    use crate::trace::Trace;

    /// A connection whose first line is read from `slow` as text.
    fn conn(slow: Slow) -> Conn<(Slow, Sink), String, String> {
        Conn::new((slow, sink()), "leader", Trace::off()).unwrap()
    }

    /// A reader that times out a few times, as a socket with a read timeout
    /// does, then gives out its bytes.
    struct Slow {
        timeouts: Cell<usize>,
        bytes: &'static [u8],
    }

    impl Read for Slow {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.timeouts.get() > 0 {
                self.timeouts.set(self.timeouts.get() - 1);
                return Err(io::Error::from(ErrorKind::WouldBlock));
            }
            self.bytes.read(buf)
        }
    }

    #[track_caller]
    fn check(
        timeouts: usize,
        bytes: &'static [u8],
        cancel_after: usize,
        expected: FirstLine<String>,
    ) {
        let mut reader = conn(Slow {
            timeouts: Cell::new(timeouts),
            bytes,
        });
        let asked = Cell::new(0);
        let cancelled = || {
            asked.set(asked.get() + 1);
            asked.get() > cancel_after
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let got = read_first_line(&mut reader, deadline, cancelled).unwrap();
        assert_eq!(got, expected);
    }

    #[test]
    fn first_lines() {
        check(0, b"OK\n", 0, FirstLine::Line("OK".into()));
        check(
            3,
            b"CHAT_REQUEST alice t1\r\n",
            5,
            FirstLine::Line("CHAT_REQUEST alice t1".into()),
        );
        check(0, b"", 0, FirstLine::Closed);
        check(2, b"OK", 5, FirstLine::Closed);
        check(0, b"\xff\xfe\n", 0, FirstLine::Unreadable);
        check(3, b"OK\n", 2, FirstLine::GaveUp);
        check(1, b"OK\n", 0, FirstLine::GaveUp);
    }

    #[test]
    fn a_passed_deadline_gives_up_at_the_first_timeout() {
        let mut reader = conn(Slow {
            timeouts: Cell::new(1),
            bytes: b"OK\n",
        });
        let got = read_first_line(&mut reader, Instant::now(), || false).unwrap();
        assert_eq!(got, FirstLine::GaveUp);
    }
}
