//! Framing: cuts the bytes of any `BufRead` into lines.
//!
//! This module owns the byte-level reading (finding the `\n`, dropping a
//! `\r` before it, bounding how much a line may buffer, keeping a partial
//! line across a read timeout, checking that a line is UTF-8). It sits below
//! the grammar: the longest line is a parameter, and it must not know any
//! keyword nor import anything from `wire`. Writing lines, tracing and
//! parsing are `conn`'s business.

use std::io::{self, BufRead, ErrorKind};

/// One thing read from a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its line ending.
    Line(String),
    /// A complete line that was not UTF-8; the connection can go on.
    BadEncoding,
    /// More than the longest line without a newline; the rest of the
    /// stream cannot be framed, so the connection should be closed.
    TooLong,
    /// The other side closed the connection. A partial last line is dropped.
    Eof,
}

/// Reads lines, keeping a partial line across read timeouts, so a caller may
/// set a read timeout on the socket and simply call again.
pub struct LineReader<R> {
    inner: R,
    partial: Vec<u8>,
    /// The longest line accepted, in bytes, without its line ending.
    max_line: usize,
}

impl<R: BufRead> LineReader<R> {
    /// Lines longer than `max_line` bytes (without `\r\n`) are `TooLong`.
    pub fn new(inner: R, max_line: usize) -> LineReader<R> {
        LineReader {
            inner,
            partial: Vec::new(),
            max_line,
        }
    }

    /// Reads the next frame. An `Err` is an I/O error from the reader,
    /// including `WouldBlock`/`TimedOut` when the socket has a read timeout;
    /// the bytes read so far are kept for the next call.
    pub fn read_frame(&mut self) -> io::Result<Frame> {
        loop {
            let available = match self.inner.fill_buf() {
                Ok(bytes) => bytes,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if available.is_empty() {
                return Ok(Frame::Eof);
            }
            if let Some(end) = available.iter().position(|&b| b == b'\n') {
                self.partial.extend_from_slice(&available[..end]);
                self.inner.consume(end + 1);
                let frame = decode(&self.partial, self.max_line);
                self.partial.clear();
                return Ok(frame);
            }
            let taken = available.len();
            self.partial.extend_from_slice(available);
            self.inner.consume(taken);
            // One byte of slack for the `\r` that may come before the `\n`.
            if self.partial.len() > self.max_line + 1 {
                self.partial.clear();
                return Ok(Frame::TooLong);
            }
        }
    }

    /// Reads the next non-empty line, skipping empty ones. Encoding errors
    /// and over-long lines come back as `Frame`s for the caller to answer.
    pub fn next_frame(&mut self) -> io::Result<Frame> {
        loop {
            match self.read_frame()? {
                Frame::Line(line) if line.trim().is_empty() => continue,
                frame => return Ok(frame),
            }
        }
    }
}

impl<R> LineReader<R> {
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The reader, after a whole line (no partial line is held then).
    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// The frame of one line's bytes (without its `\n`): a trailing `\r`, as
/// telnet sends it, is dropped before the length and the encoding are checked.
fn decode(raw: &[u8], max_line: usize) -> Frame {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.len() > max_line {
        return Frame::TooLong;
    }
    match std::str::from_utf8(raw) {
        Ok(line) => Frame::Line(line.to_string()),
        Err(_) => Frame::BadEncoding,
    }
}

/// True when an I/O error only means that a read timeout passed.
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::io::Read;

    use super::*;

    /// The longest line in these tests: the protocol's, 1024 bytes.
    const MAX: usize = 1024;

    /// A reader that hands out its input in the given pieces, one piece per
    /// `fill_buf`, with errors in between where a piece is an `Err`.
    struct Pieces {
        pieces: VecDeque<Result<Vec<u8>, ErrorKind>>,
    }

    impl Pieces {
        fn new(pieces: Vec<Result<Vec<u8>, ErrorKind>>) -> Pieces {
            Pieces {
                pieces: pieces.into(),
            }
        }

        /// `input` split into the given pieces.
        fn split(input: &[u8], at: &[usize]) -> Pieces {
            let mut pieces = Vec::new();
            let mut start = 0;
            for &end in at.iter().chain([input.len()].iter()) {
                pieces.push(Ok(input[start..end].to_vec()));
                start = end;
            }
            Pieces::new(pieces)
        }

        /// `input` one byte at a time.
        fn bytes(input: &[u8]) -> Pieces {
            Pieces::new(input.iter().map(|&b| Ok(vec![b])).collect())
        }
    }

    impl Read for Pieces {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.fill_buf()?.len().min(out.len());
            out[..n].copy_from_slice(&self.fill_buf()?[..n]);
            self.consume(n);
            Ok(n)
        }
    }

    impl BufRead for Pieces {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            while matches!(self.pieces.front(), Some(Ok(piece)) if piece.is_empty()) {
                self.pieces.pop_front();
            }
            if let Some(Err(kind)) = self.pieces.front() {
                let kind = *kind;
                self.pieces.pop_front();
                return Err(kind.into());
            }
            Ok(match self.pieces.front() {
                Some(Ok(piece)) => piece,
                _ => &[],
            })
        }

        fn consume(&mut self, amount: usize) {
            if let Some(Ok(piece)) = self.pieces.front_mut() {
                piece.drain(..amount);
            }
        }
    }

    /// Everything `read_frame` (or `next_frame` when `skip_empty`) returns,
    /// up to and including `Eof`, with errors as their kind.
    fn frames(pieces: Pieces, skip_empty: bool) -> Vec<Result<Frame, ErrorKind>> {
        let mut reader = LineReader::new(pieces, MAX);
        let mut got = Vec::new();
        loop {
            let frame = if skip_empty {
                reader.next_frame()
            } else {
                reader.read_frame()
            };
            let done = matches!(frame, Ok(Frame::Eof));
            got.push(frame.map_err(|err| err.kind()));
            if done || got.len() > 100 {
                return got;
            }
        }
    }

    fn line(text: &str) -> Frame {
        Frame::Line(text.into())
    }

    /// Whichever way `input` is split, `read_frame` gives `expected`
    /// followed by `Eof`.
    #[track_caller]
    fn check(input: &[u8], expected: &[Frame]) {
        check_with(input, expected, false);
    }

    /// The same for `next_frame`, which skips empty lines.
    #[track_caller]
    fn check_skipping(input: &[u8], expected: &[Frame]) {
        check_with(input, expected, true);
    }

    #[track_caller]
    fn check_with(input: &[u8], expected: &[Frame], skip_empty: bool) {
        let mut want: Vec<Result<Frame, ErrorKind>> =
            expected.iter().map(|f| Ok(f.clone())).collect();
        want.push(Ok(Frame::Eof));
        for at in 0..=input.len() {
            let got = frames(Pieces::split(input, &[at]), skip_empty);
            assert_eq!(got, want, "{input:?} split at {at}");
        }
        let got = frames(Pieces::bytes(input), skip_empty);
        assert_eq!(got, want, "{input:?} one byte at a time");
    }

    /// Whichever way `input` is split, the first frame is `TooLong`. What
    /// follows it is not specified: the caller closes the connection.
    #[track_caller]
    fn check_too_long(input: &[u8]) {
        for at in 0..=input.len() {
            let mut reader = LineReader::new(Pieces::split(input, &[at]), MAX);
            let first = reader.read_frame().map_err(|err| err.kind());
            assert_eq!(first, Ok(Frame::TooLong), "split at {at}");
        }
        let mut reader = LineReader::new(Pieces::bytes(input), MAX);
        let first = reader.read_frame().map_err(|err| err.kind());
        assert_eq!(first, Ok(Frame::TooLong), "one byte at a time");
    }

    #[test]
    fn lines_split_anywhere() {
        check(b"", &[]);
        check(b"HELP\n", &[line("HELP")]);
        check(b"HELP\r\n", &[line("HELP")]);
        check(
            b"HELP\nLIST\r\nHELLO\n",
            &[line("HELP"), line("LIST"), line("HELLO")],
        );
        check("SEARCH café\r\n".as_bytes(), &[line("SEARCH café")]);
        check(b"a\rb\n", &[line("a\rb")]);
    }

    #[test]
    fn partial_last_line_is_dropped_at_eof() {
        check(b"HELP\nLIS", &[line("HELP")]);
        check(b"HELP\r", &[]);
    }

    #[test]
    fn empty_lines() {
        let input = b"\n\r\n  \nHELP\n\n";
        check(
            input,
            &[line(""), line(""), line("  "), line("HELP"), line("")],
        );
        check_skipping(input, &[line("HELP")]);
        check_skipping(b"\n\n\n", &[]);
    }

    #[test]
    fn bad_encoding_then_a_good_line() {
        let input = b"\xc3\x28\r\nHELP\n\xff\n\nLIST\n";
        check(
            input,
            &[
                Frame::BadEncoding,
                line("HELP"),
                Frame::BadEncoding,
                line(""),
                line("LIST"),
            ],
        );
        check_skipping(
            input,
            &[
                Frame::BadEncoding,
                line("HELP"),
                Frame::BadEncoding,
                line("LIST"),
            ],
        );
    }

    #[test]
    fn line_length_limit() {
        let longest = "a".repeat(MAX);
        check(format!("{longest}\n").as_bytes(), &[line(&longest)]);
        check(
            format!("{longest}\r\nHELP\n").as_bytes(),
            &[line(&longest), line("HELP")],
        );
        check_too_long(format!("{longest}a\n").as_bytes());
        check_too_long(format!("{longest}a\r\n").as_bytes());
        check_too_long(format!("{longest}{longest}\n").as_bytes());
        // No newline at all: the reader gives up without waiting for one.
        check_too_long(format!("{longest}aa").as_bytes());
    }

    #[test]
    fn the_longest_line_is_a_parameter() {
        let mut reader = LineReader::new(Pieces::bytes(b"abcd\r\nabcde\n"), 4);
        assert_eq!(reader.read_frame().unwrap(), line("abcd"));
        assert_eq!(reader.read_frame().unwrap(), Frame::TooLong);
    }

    #[test]
    fn over_long_line_without_newline_does_not_wait_for_more() {
        let longest = "a".repeat(MAX);
        let pieces = Pieces::new(vec![
            Ok(format!("{longest}aa").into_bytes()),
            Err(ErrorKind::WouldBlock),
        ]);
        let mut reader = LineReader::new(pieces, MAX);
        assert_eq!(
            reader.read_frame().map_err(|e| e.kind()),
            Ok(Frame::TooLong)
        );
    }

    #[test]
    fn partial_line_survives_a_read_timeout() {
        for kind in [ErrorKind::WouldBlock, ErrorKind::TimedOut] {
            let pieces = Pieces::new(vec![
                Ok(b"HEL".to_vec()),
                Err(kind),
                Ok(b"P\r".to_vec()),
                Err(kind),
                Ok(b"\nLIST\n".to_vec()),
            ]);
            assert_eq!(
                frames(pieces, true),
                [
                    Err(kind),
                    Err(kind),
                    Ok(line("HELP")),
                    Ok(line("LIST")),
                    Ok(Frame::Eof)
                ]
            );
        }
    }

    #[test]
    fn interrupted_reads_are_retried() {
        let pieces = Pieces::new(vec![
            Ok(b"HE".to_vec()),
            Err(ErrorKind::Interrupted),
            Ok(b"LP\n".to_vec()),
        ]);
        assert_eq!(frames(pieces, false), [Ok(line("HELP")), Ok(Frame::Eof)]);
    }

    #[test]
    fn other_errors_are_returned() {
        let pieces = Pieces::new(vec![Ok(b"HE".to_vec()), Err(ErrorKind::ConnectionReset)]);
        assert_eq!(
            frames(pieces, false),
            [Err(ErrorKind::ConnectionReset), Ok(Frame::Eof)]
        );
    }

    #[test]
    fn timeouts() {
        assert!(is_timeout(&ErrorKind::WouldBlock.into()));
        assert!(is_timeout(&ErrorKind::TimedOut.into()));
        assert!(!is_timeout(&ErrorKind::ConnectionReset.into()));
        assert!(!is_timeout(&ErrorKind::UnexpectedEof.into()));
    }
}
