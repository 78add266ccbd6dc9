//! The stream every connection runs over: plain TCP (`--plaintext`) or TLS,
//! decided once when the connection is made, and its two halves.
//!
//! Both kinds split without a second descriptor: the halves share one
//! socket through an `Arc` (`&TcpStream` reads and writes), because a
//! registry serves thousands of connections and descriptors run out before
//! anything else. `socket()` reaches the socket for its options, shutting
//! it down and peeking; reading or writing it directly would break a TLS
//! stream, which is why the halves do not deref to it.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use super::Transport;
use crate::crypto::{Fingerprint, IdentityKey, TlsReader, TlsStream, TlsWriter};

/// A connection's stream, plain or TLS. The TLS kinds are boxed, so a
/// connection is small whichever it is.
#[derive(Debug)]
pub enum Stream {
    Plain(Arc<TcpStream>),
    Tls(Box<TlsStream>),
}

impl From<TcpStream> for Stream {
    fn from(tcp: TcpStream) -> Stream {
        Stream::Plain(Arc::new(tcp))
    }
}

impl From<TlsStream> for Stream {
    fn from(tls: TlsStream) -> Stream {
        Stream::Tls(Box::new(tls))
    }
}

impl Stream {
    /// The socket, for its options and addresses.
    pub fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => tls.socket(),
        }
    }

    /// Another handle of the socket without another descriptor, for an
    /// owner that only shuts it down (the registry's hub).
    pub fn shared_socket(&self) -> Arc<TcpStream> {
        match self {
            Stream::Plain(tcp) => Arc::clone(tcp),
            Stream::Tls(tls) => tls.shared_socket(),
        }
    }

    /// The key the other end proved in the TLS handshake; `None` in plain
    /// text, or when it presented no certificate.
    pub fn peer_key(&self) -> Option<IdentityKey> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => tls.peer_key(),
        }
    }

    /// The fingerprint of that key.
    pub fn peer_fingerprint(&self) -> Option<Fingerprint> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => tls.peer_fingerprint(),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }
}

impl Transport for Stream {
    type ReadHalf = ReadHalf;
    type WriteHalf = WriteHalf;

    fn split(self) -> io::Result<(ReadHalf, WriteHalf)> {
        Ok(match self {
            Stream::Plain(tcp) => (
                ReadHalf::Plain {
                    tcp: Arc::clone(&tcp),
                    wait_first: false,
                },
                WriteHalf::Plain(tcp),
            ),
            Stream::Tls(tls) => {
                let (read, write) = tls.split()?;
                (
                    ReadHalf::Tls(Box::new(read)),
                    WriteHalf::Tls(Box::new(write)),
                )
            }
        })
    }
}

/// The reading half of a `Stream`.
#[derive(Debug)]
pub enum ReadHalf {
    Plain {
        tcp: Arc<TcpStream>,
        /// See `wait_before_reads`.
        wait_first: bool,
    },
    Tls(Box<TlsReader>),
}

impl ReadHalf {
    /// The socket, for its read timeout.
    pub fn socket(&self) -> &TcpStream {
        match self {
            ReadHalf::Plain { tcp, .. } => tcp,
            ReadHalf::Tls(tls) => tls.socket(),
        }
    }

    pub fn peer_key(&self) -> Option<IdentityKey> {
        match self {
            ReadHalf::Plain { .. } => None,
            ReadHalf::Tls(tls) => tls.peer_key(),
        }
    }

    /// From now on, every read of the socket first waits until it can be
    /// read (`net::wait_readable`), for a reader of a non-blocking socket:
    /// it then asks the socket only when bytes, an end or an error are
    /// there, instead of finding it empty and waiting after. The wait is
    /// on the socket, so it comes only when what is buffered above it
    /// (TLS's plaintext, the line reader's bytes) is used up.
    pub fn wait_before_reads(&mut self) {
        match self {
            ReadHalf::Plain { wait_first, .. } => *wait_first = true,
            ReadHalf::Tls(tls) => tls.wait_before_reads(),
        }
    }
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadHalf::Plain { tcp, wait_first } => {
                if *wait_first {
                    crate::net::wait_readable(tcp)?;
                }
                (&**tcp).read(buf)
            }
            ReadHalf::Tls(tls) => tls.read(buf),
        }
    }
}

/// The writing half of a `Stream`.
#[derive(Debug)]
pub enum WriteHalf {
    Plain(Arc<TcpStream>),
    Tls(Box<TlsWriter>),
}

impl WriteHalf {
    /// The socket, for its options, shutting it down, and sending what
    /// `encode` made.
    pub fn socket(&self) -> &TcpStream {
        match self {
            WriteHalf::Plain(tcp) => tcp,
            WriteHalf::Tls(tls) => tls.socket(),
        }
    }

    pub fn peer_key(&self) -> Option<IdentityKey> {
        match self {
            WriteHalf::Plain(_) => None,
            WriteHalf::Tls(tls) => tls.peer_key(),
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, WriteHalf::Tls(_))
    }

    /// Ends the sending side so the other end reads a clean end: a TLS
    /// `close_notify` first over TLS (without it, `openssl s_client` reports
    /// an unexpected end), then the socket's shutdown.
    pub fn close(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(tcp) => tcp.shutdown(std::net::Shutdown::Write),
            WriteHalf::Tls(tls) => tls.close(),
        }
    }

    /// Appends to `out` the bytes that carry `plain` on this stream: the
    /// same bytes in plain text, TLS records otherwise. The bytes must go
    /// out in order, each exactly once; after an error the stream is broken.
    pub fn encode(&self, plain: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            WriteHalf::Plain(_) => {
                out.extend_from_slice(plain);
                Ok(())
            }
            WriteHalf::Tls(tls) => tls.encrypt(plain, out),
        }
    }
}

impl Write for WriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Plain(tcp) => (&**tcp).write(buf),
            WriteHalf::Tls(tls) => tls.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            WriteHalf::Plain(tcp) => (&**tcp).write_all(buf),
            // One call encrypts and writes it all, so a line is one record.
            WriteHalf::Tls(tls) => tls.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            WriteHalf::Plain(tcp) => (&**tcp).flush(),
            WriteHalf::Tls(tls) => tls.flush(),
        }
    }
}
