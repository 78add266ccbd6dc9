//! Framing: reads protocol lines from any `BufRead` and writes them to any
//! `Write`.
//!
//! This module owns the byte-level rules (the `\n` terminator, the length
//! limit, what survives a read timeout). It must not know any keyword: what a
//! line means is `wire.rs`'s business.

use std::io::{self, BufRead, ErrorKind, Write};

use crate::wire::{self, LineError};

/// One thing read from a connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete line, without its line ending.
    Line(String),
    /// A complete line that was not UTF-8; the connection can go on.
    BadEncoding,
    /// More than `wire::MAX_LINE` bytes without a newline; the rest of the
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
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> LineReader<R> {
        LineReader {
            inner,
            partial: Vec::new(),
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
                let frame = match wire::decode_line(&self.partial) {
                    Ok(line) => Frame::Line(line.to_string()),
                    Err(LineError::BadEncoding) => Frame::BadEncoding,
                    Err(LineError::TooLong) => Frame::TooLong,
                };
                self.partial.clear();
                return Ok(frame);
            }
            let taken = available.len();
            self.partial.extend_from_slice(available);
            self.inner.consume(taken);
            // One byte of slack for the `\r` that may come before the `\n`.
            if self.partial.len() > wire::MAX_LINE + 1 {
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

    pub fn get_ref(&self) -> &R {
        &self.inner
    }
}

/// Writes one line and its `\n` in a single `write_all`, so a line is never
/// split between two writes.
pub fn write_line(out: &mut impl Write, line: &impl std::fmt::Display) -> io::Result<()> {
    let mut bytes = line.to_string().into_bytes();
    bytes.push(b'\n');
    out.write_all(&bytes)?;
    out.flush()
}

/// True when an I/O error only means that a read timeout passed.
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// The reading half of a TCP connection, as every connection thread holds it.
pub type ConnReader = LineReader<io::BufReader<std::net::TcpStream>>;
