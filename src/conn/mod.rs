//! One connection: the framing, tracing and parsing of every line that
//! crosses a socket, in one type (mini-redis's `Connection`).
//!
//! `Conn<S, In, Out>` runs over any `Transport` `S`. `recv` yields the next
//! line parsed as an `In`, or a typed malformed line, bad encoding, too-long
//! line or end, already traced with passwords hidden; `send` traces an `Out`
//! and writes its line with one `write_all`. A connection that one thread
//! reads and another writes splits into a `Reader` and a `Writer`, and the
//! split is the transport's own operation. A writer that must never block
//! (the lobby hub) queues lines in an `Outbox` with `Writer::queue`, seals
//! them all at once with `Writer::seal` (into TLS records, over TLS) and
//! pushes the outbox's wire bytes to the socket itself.
//!
//! `Stream` (`stream.rs`) is what every connection runs over: plain TCP or
//! TLS, decided once, when the connection is made; the handshake itself is
//! the caller's (`crypto::accept`, `crypto::connect`), on the connection's
//! own thread.
//!
//! This module never decides what a line means or what to answer, starts
//! no thread, and holds no lock while a read blocks.

mod half;
mod outbox;
mod stream;

use std::fmt::Display;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::str::FromStr;

pub use half::{Reader, Writer, encode_into};
pub use outbox::Outbox;
pub use stream::{ReadHalf, Stream, WriteHalf};

use crate::crypto::IdentityKey;
use crate::trace::Trace;
use crate::wire::{self, Reply, Request, ToLeader, ToMember};

/// The leader's end of a member's connection.
pub type MemberConn = Conn<Stream, ToLeader, ToMember>;
/// A member's end of its connection to the leader.
pub type LeaderConn = Conn<Stream, ToMember, ToLeader>;
/// A peer's connection to the registry.
pub type RegistryConn = Conn<Stream, Reply, Request>;

/// A byte stream that splits into a half for a reading thread and a half
/// for a writing thread. A `Stream` splits into two halves sharing its one
/// socket (and, over TLS, its session, behind a lock that the reading half
/// takes only once bytes have arrived, never while blocked in `read`).
pub trait Transport {
    type ReadHalf: Read;
    type WriteHalf: Write;

    fn split(self) -> io::Result<(Self::ReadHalf, Self::WriteHalf)>;
}

impl Transport for TcpStream {
    type ReadHalf = TcpStream;
    type WriteHalf = TcpStream;

    /// Costs a descriptor: two handles of one socket.
    fn split(self) -> io::Result<(TcpStream, TcpStream)> {
        Ok((self.try_clone()?, self))
    }
}

/// A borrowed socket reads and writes through `&TcpStream`, so splitting
/// it costs no descriptor: the registry serves thousands of connections,
/// and descriptors run out before anything else.
impl<'a> Transport for &'a TcpStream {
    type ReadHalf = &'a TcpStream;
    type WriteHalf = &'a TcpStream;

    fn split(self) -> io::Result<(&'a TcpStream, &'a TcpStream)> {
        Ok((self, self))
    }
}

/// An input and an output, already apart: in-memory streams for tests
/// (`(&b"HELLO\n"[..], Vec::new())`).
impl<R: Read, W: Write> Transport for (R, W) {
    type ReadHalf = R;
    type WriteHalf = W;

    fn split(self) -> io::Result<(R, W)> {
        Ok(self)
    }
}

/// What `recv` found: a parsed line, or why there is none.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<In: FromStr> {
    /// A line, parsed.
    Line(In),
    /// A line that does not parse as an `In`; the connection can go on.
    Malformed { line: String, err: In::Err },
    /// A line that is not UTF-8; the connection can go on.
    BadEncoding,
    /// A line over `wire::MAX_LINE`: the stream cannot be framed any more.
    TooLong,
    /// The other side closed the connection.
    End,
}

/// The read buffer when none is asked for: many lines' worth.
const READ_BUFFER: usize = 8 * 1024;

/// One connection that reads `In` lines and writes `Out` lines over `S`.
pub struct Conn<S: Transport, In, Out> {
    reader: Reader<S::ReadHalf, In>,
    writer: Writer<S::WriteHalf, Out>,
}

impl<S: Transport, In, Out> Conn<S, In, Out> {
    /// A connection to `peer` (an address or a name, as traces show it);
    /// a `TcpStream` makes a plain-text `Stream`.
    pub fn new(stream: impl Into<S>, peer: impl Display, trace: Trace) -> io::Result<Self> {
        Conn::with_buffer(stream, peer, trace, READ_BUFFER)
    }

    /// The same with a read buffer of `capacity` bytes: with thousands of
    /// idle connections, buffers are most of a server's memory.
    pub fn with_buffer(
        stream: impl Into<S>,
        peer: impl Display,
        trace: Trace,
        capacity: usize,
    ) -> io::Result<Self> {
        let (read, write) = stream.into().split()?;
        let peer = peer.to_string();
        Ok(Conn {
            reader: Reader::new(read, peer.clone(), trace, capacity, wire::MAX_LINE),
            writer: Writer::new(write, peer, trace),
        })
    }

    /// The halves, for a reading thread and a writing thread.
    pub fn into_split(self) -> (Reader<S::ReadHalf, In>, Writer<S::WriteHalf, Out>) {
        (self.reader, self.writer)
    }

    /// The same connection, speaking other lines from now on: a chat
    /// connection's first line decides which side of a lobby it is.
    pub fn retype<In2, Out2>(self) -> Conn<S, In2, Out2> {
        Conn {
            reader: self.reader.retype(),
            writer: self.writer.retype(),
        }
    }

    /// Who traces name from now on.
    pub fn set_peer(&mut self, peer: impl Display) {
        let peer = peer.to_string();
        self.reader.set_peer(peer.clone());
        self.writer.set_peer(peer);
    }

    pub fn set_trace(&mut self, trace: Trace) {
        self.reader.set_trace(trace);
        self.writer.set_trace(trace);
    }

    pub fn reader(&self) -> &Reader<S::ReadHalf, In> {
        &self.reader
    }

    pub fn writer(&self) -> &Writer<S::WriteHalf, Out> {
        &self.writer
    }

    /// The writing half's stream, for the socket's options.
    pub fn get_ref(&self) -> &S::WriteHalf {
        self.writer.get_ref()
    }
}

impl<In, Out> Conn<Stream, In, Out> {
    /// The socket, for its options, addresses and shutting it down.
    pub fn socket(&self) -> &TcpStream {
        self.writer.get_ref().socket()
    }

    /// The key the other end proved in the TLS handshake; `None` in plain
    /// text, or when it presented no certificate.
    pub fn peer_key(&self) -> Option<IdentityKey> {
        self.writer.get_ref().peer_key()
    }

    /// Ends the sending side cleanly (see `WriteHalf::close`).
    pub fn close(&mut self) -> io::Result<()> {
        self.writer.get_mut().close()
    }
}

impl<S: Transport, In: FromStr, Out> Conn<S, In, Out> {
    /// See `Reader::recv`.
    pub fn recv(&mut self) -> io::Result<Received<In>> {
        self.reader.recv()
    }
}

impl<S: Transport, In, Out: Display> Conn<S, In, Out> {
    /// See `Writer::send`.
    pub fn send(&mut self, line: &Out) -> io::Result<()> {
        self.writer.send(line)
    }

    /// See `Writer::send_all`.
    pub fn send_all(&mut self, lines: &[Out]) -> io::Result<()> {
        self.writer.send_all(lines)
    }
}

#[cfg(test)]
pub(crate) mod tests;
