//! One open connection to the registry: connecting to each address in turn,
//! the `registry-reader` thread that reads every line as it arrives, and
//! reading one request's reply lines.
//!
//! This file owns the socket of one connection. Only the link thread writes
//! to it (through `exchange_on`), and the reader thread only reads; it must
//! never decide what to do when the connection fails, which is the link's job.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, never};

use crate::conn::{self, ReadHalf, Received, RegistryConn, Stream, WriteHalf};
use crate::wire::{Reply, Request};

use super::{ClientError, LinkConfig, RegistrySecurity, Replies};

/// How long to wait for the registry to answer one request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How many lines the reader thread may read ahead of the link thread.
const READ_AHEAD: usize = 64;
/// How long one connection attempt may take.
const REGISTRY_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the registry has to finish the TLS handshake.
const REGISTRY_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the reader thread saw on the registry connection.
pub(super) enum Incoming {
    Reply(Reply),
    /// A line that is not a reply.
    Malformed(String),
    /// A line not UTF-8.
    Unreadable,
    /// The connection ended or failed.
    End,
}

/// One open connection to the registry: the link thread writes it, and a
/// reader thread reads it into `lines`.
pub(super) struct Conn {
    pub(super) addr: SocketAddr,
    writer: conn::Writer<WriteHalf, Request>,
    pub(super) lines: Receiver<Incoming>,
    reader: Option<JoinHandle<()>>,
}

impl Conn {
    /// Connects to the first of `addrs` that answers, in order, so a name
    /// that resolves to `::1` first works whether the registry listens on
    /// IPv6 or on IPv4 only. The error is the last address's.
    ///
    /// Over TLS the registry's key is checked on every connection, before
    /// anything is sent (`RegistryTrust::secure`); `may_ask` says whether
    /// the user may be asked about a new key now.
    pub(super) fn open(config: &LinkConfig, may_ask: bool) -> io::Result<Conn> {
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no registry address");
        for &addr in &config.addrs {
            match Conn::open_one(addr, config, may_ask) {
                Ok(conn) => return Ok(conn),
                Err(err) => last = err,
            }
        }
        Err(last)
    }

    fn open_one(addr: SocketAddr, config: &LinkConfig, may_ask: bool) -> io::Result<Conn> {
        let tcp = TcpStream::connect_timeout(&addr, REGISTRY_CONNECT_TIMEOUT)?;
        let stream = match &config.security {
            RegistrySecurity::Plaintext => Stream::from(tcp),
            RegistrySecurity::Tls(trust) => {
                let deadline = Instant::now() + REGISTRY_HANDSHAKE_TIMEOUT;
                Stream::from(trust.secure(tcp, addr, deadline, may_ask)?)
            }
        };
        let (reader, writer) = RegistryConn::new(stream, addr, config.trace)?.into_split();
        let (tx, lines) = bounded(READ_AHEAD);
        let reader = thread::Builder::new()
            .name("registry-reader".into())
            .spawn(move || read_registry(reader, &tx))?;
        Ok(Conn {
            addr,
            writer,
            lines,
            reader: Some(reader),
        })
    }

    /// The next reply, waiting until `deadline` at most.
    fn reply(&self, deadline: Instant) -> Result<Reply, ClientError> {
        let reply = match self.lines.recv_deadline(deadline) {
            Ok(Incoming::Reply(reply)) => reply,
            Ok(Incoming::Malformed(line)) => return Err(ClientError::Protocol(line)),
            Ok(Incoming::Unreadable) => {
                return Err(ClientError::Protocol("(unreadable line)".into()));
            }
            Ok(Incoming::End) | Err(RecvTimeoutError::Disconnected) => {
                return Err(ClientError::Closed(None));
            }
            Err(RecvTimeoutError::Timeout) => {
                return Err(ClientError::Io(io::ErrorKind::TimedOut.into()));
            }
        };
        match reply {
            Reply::Bye(reason) => Err(ClientError::Closed(Some(reason))),
            reply => Ok(reply),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Dropping the receiver ends a reader blocked on a full channel, and
        // shutting the socket down ends one blocked in a read.
        drop(std::mem::replace(&mut self.lines, never()));
        let _ = self.writer.get_ref().socket().shutdown(Shutdown::Both);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// The reader thread: every line the registry sends, as it arrives.
fn read_registry(mut reader: conn::Reader<ReadHalf, Reply>, lines: &Sender<Incoming>) {
    loop {
        let incoming = match reader.recv() {
            Ok(Received::Line(reply)) => Incoming::Reply(reply),
            Ok(Received::Malformed { line, .. }) => Incoming::Malformed(line),
            Ok(Received::BadEncoding) => Incoming::Unreadable,
            Ok(Received::End | Received::TooLong) | Err(_) => Incoming::End,
        };
        let end = matches!(incoming, Incoming::End);
        if lines.send(incoming).is_err() || end {
            return;
        }
    }
}

pub(super) fn exchange_on(conn: &mut Conn, request: &Request) -> Replies {
    conn.writer.send(request)?;
    let deadline = Instant::now() + REPLY_TIMEOUT;
    let first = conn.reply(deadline)?;
    let mut replies = vec![first];
    if let Reply::List(count) = replies[0] {
        for _ in 0..count {
            replies.push(conn.reply(deadline)?);
        }
    }
    Ok(replies)
}
