//! The two halves of a connection: the `Reader`, which frames, traces and
//! parses, and the `Writer`, which traces and writes whole lines, blocking
//! (`send`) or into a queue that its owner pushes without blocking
//! (`queue`). Each half belongs to one thread.

use std::fmt::Display;
use std::io::{self, BufReader, Read, Write};
use std::marker::PhantomData;
use std::str::FromStr;

use super::{Outbox, Received, WriteHalf};
use crate::line::{Frame, LineReader};
use crate::trace::Trace;

/// The reading half: lines in, parsed as `In`.
pub struct Reader<R, In> {
    lines: LineReader<BufReader<R>>,
    peer: String,
    trace: Trace,
    _in: PhantomData<fn() -> In>,
}

impl<R: Read, In> Reader<R, In> {
    pub(super) fn new(
        inner: R,
        peer: String,
        trace: Trace,
        capacity: usize,
        max_line: usize,
    ) -> Self {
        Reader {
            lines: LineReader::new(BufReader::with_capacity(capacity, inner), max_line),
            peer,
            trace,
            _in: PhantomData,
        }
    }
}

impl<R, In> Reader<R, In> {
    /// The same half reading other lines; what it has buffered stays.
    pub fn retype<In2>(self) -> Reader<R, In2> {
        Reader {
            lines: self.lines,
            peer: self.peer,
            trace: self.trace,
            _in: PhantomData,
        }
    }

    pub fn set_peer(&mut self, peer: impl Display) {
        self.peer = peer.to_string();
    }

    pub fn set_trace(&mut self, trace: Trace) {
        self.trace = trace;
    }

    /// The stream, for the socket's options (a read timeout).
    pub fn get_ref(&self) -> &R {
        self.lines.get_ref().get_ref()
    }

    /// The stream, for its settings (`ReadHalf::wait_before_reads`); what
    /// is buffered above it stays.
    pub fn get_mut(&mut self) -> &mut R {
        self.lines.get_mut().get_mut()
    }

    /// The bytes after the last line, with what is buffered of them: for a
    /// connection that carries raw bytes after its header line (a file).
    pub fn into_buffered(self) -> BufReader<R> {
        self.lines.into_inner()
    }
}

impl<R: Read, In: FromStr> Reader<R, In> {
    /// The next non-empty line, traced and parsed. An `Err` is an I/O error,
    /// `WouldBlock`/`TimedOut` included when the socket has a read timeout:
    /// a partial line is kept, and the caller may simply call again.
    pub fn recv(&mut self) -> io::Result<Received<In>> {
        Ok(match self.lines.next_frame()? {
            Frame::Line(line) => {
                self.trace.received(&self.peer, &line);
                match line.parse() {
                    Ok(parsed) => Received::Line(parsed),
                    Err(err) => Received::Malformed { line, err },
                }
            }
            Frame::BadEncoding => {
                self.trace
                    .received(&self.peer, "(a line that is not UTF-8)");
                Received::BadEncoding
            }
            Frame::TooLong => {
                self.trace.received(&self.peer, "(a line too long)");
                Received::TooLong
            }
            Frame::Eof => Received::End,
        })
    }
}

/// The writing half: `Out` lines out, each written whole.
pub struct Writer<W, Out> {
    inner: W,
    peer: String,
    trace: Trace,
    _out: PhantomData<fn(&Out)>,
}

impl<W, Out> Writer<W, Out> {
    pub(super) fn new(inner: W, peer: String, trace: Trace) -> Self {
        Writer {
            inner,
            peer,
            trace,
            _out: PhantomData,
        }
    }

    /// The same half writing other lines.
    pub fn retype<Out2>(self) -> Writer<W, Out2> {
        Writer {
            inner: self.inner,
            peer: self.peer,
            trace: self.trace,
            _out: PhantomData,
        }
    }

    pub fn set_peer(&mut self, peer: impl Display) {
        self.peer = peer.to_string();
    }

    pub fn set_trace(&mut self, trace: Trace) {
        self.trace = trace;
    }

    /// The stream, for the socket's options, shutting it down, and pushing
    /// a queue that `queue` filled.
    /// The stream, for raw bytes after the header lines (a file).
    pub fn into_inner(self) -> W {
        self.inner
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The stream, for ending it (`Conn::close`).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

impl<Out> Writer<WriteHalf, Out> {
    /// Queues one line in `outbox`, what this connection owes its socket,
    /// for an owner that pushes it without blocking. `line` is the line's
    /// text with its `\n`, made once for every member a line goes to; in
    /// plain text it goes to the wire bytes as it is, and over TLS it waits
    /// for `seal`. Traced as sent.
    pub fn queue(&self, line: &[u8], outbox: &mut Outbox) {
        if self.trace.is_on() {
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            self.trace.sent(&self.peer, String::from_utf8_lossy(text));
        }
        if self.inner.is_tls() {
            outbox.lines.extend_from_slice(line);
        } else {
            outbox.wire.extend_from_slice(line);
        }
    }

    /// Seals every line queued since the last seal into as few TLS records
    /// as they fit (up to 16 KiB of plaintext each), after the wire bytes
    /// already owed: the cost of TLS is then per flush, not per line. Does
    /// nothing in plain text. An error means the TLS session is broken, and
    /// nothing more can go out.
    pub fn seal(&self, outbox: &mut Outbox) -> io::Result<()> {
        if outbox.lines.is_empty() {
            return Ok(());
        }
        self.inner.encode(&outbox.lines, &mut outbox.wire)?;
        outbox.lines_sealed();
        Ok(())
    }
}

impl<W: Write, Out: Display> Writer<W, Out> {
    /// Traces `line` and writes it and its `\n` with one `write_all`, so a
    /// line is never split between two writes.
    pub fn send(&mut self, line: &Out) -> io::Result<()> {
        self.send_all(std::slice::from_ref(line))
    }

    /// The same for several lines (every line of one answer) in one write.
    pub fn send_all(&mut self, lines: &[Out]) -> io::Result<()> {
        let mut bytes = Vec::new();
        for line in lines {
            self.trace.sent(&self.peer, line);
            encode_into(&mut bytes, line);
        }
        self.inner.write_all(&bytes)?;
        self.inner.flush()
    }
}

/// Appends `line` and its `\n` to `bytes`: the text of a line as it goes on
/// the wire of a plain connection.
pub fn encode_into(bytes: &mut Vec<u8>, line: &impl Display) {
    writeln!(bytes, "{line}").expect("writing to a Vec cannot fail");
}
