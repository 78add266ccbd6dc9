//! The peer's link to the registry: one thread owns the registry connection,
//! sends the user's requests and the HELLO heartbeat, and reads the replies.
//!
//! This module owns the registry socket on the peer side; it must be the
//! only code that writes to it. It knows nothing of menus or lobbies.

use std::fmt;
use std::io::{self, BufReader, BufWriter};
use std::net::{SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded, never, select, tick, unbounded};

use crate::line::{ConnReader, Frame, LineReader, write_line};
use crate::trace::Trace;
use crate::wire::{Reply, Request};

/// How long to wait for the registry to answer one request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request to the registry got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// The connection failed or timed out.
    Io(io::Error),
    /// The registry closed the connection, with its `BYE` reason if it gave one.
    Closed(Option<String>),
    /// The registry answered something that is not a reply.
    Protocol(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(err) => write!(f, "cannot reach the registry: {err}"),
            ClientError::Closed(Some(reason)) => {
                write!(f, "the registry closed the connection ({reason})")
            }
            ClientError::Closed(None) => f.write_str("the registry closed the connection"),
            ClientError::Protocol(line) => write!(f, "the registry sent a strange line: {line}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(err: io::Error) -> ClientError {
        ClientError::Io(err)
    }
}

type Answer = Result<Vec<Reply>, ClientError>;

/// A running link to the registry.
pub struct RegistryLink {
    requests: Option<Sender<(Request, Sender<Answer>)>>,
    handle: Option<JoinHandle<()>>,
}

impl RegistryLink {
    /// Connects to the registry at `addr`. Once a `JOIN` succeeds, the link
    /// sends `HELLO` every `hello_interval`. If the registry goes away, a
    /// message saying why goes to `lost`.
    pub fn connect(
        addr: SocketAddr,
        hello_interval: Duration,
        trace: Trace,
        lost: Sender<String>,
    ) -> Result<RegistryLink, ClientError> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
        let reader = LineReader::new(BufReader::new(stream.try_clone()?));
        let (requests, requests_rx) = unbounded();
        let mut link = Link {
            addr,
            reader,
            writer: BufWriter::new(stream),
            trace,
            joined: false,
            broken: false,
        };
        let handle = thread::Builder::new()
            .name("registry-link".into())
            .spawn(move || link.run(&requests_rx, hello_interval, &lost))?;
        Ok(RegistryLink {
            requests: Some(requests),
            handle: Some(handle),
        })
    }

    /// Sends `request` and waits for its reply lines (several for LIST).
    pub fn request(&self, request: Request) -> Answer {
        let (tx, rx) = bounded(1);
        let requests = self
            .requests
            .as_ref()
            .expect("requests is only taken in close");
        if requests.send((request, tx)).is_err() {
            return Err(ClientError::Closed(None));
        }
        rx.recv().unwrap_or(Err(ClientError::Closed(None)))
    }

    /// Logs out if joined, then closes the connection and joins the thread.
    pub fn close(mut self) {
        self.shut();
    }

    fn shut(&mut self) {
        drop(self.requests.take());
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for RegistryLink {
    fn drop(&mut self) {
        self.shut();
    }
}

struct Link {
    addr: SocketAddr,
    reader: ConnReader,
    writer: BufWriter<TcpStream>,
    trace: Trace,
    joined: bool,
    broken: bool,
}

impl Link {
    fn run(
        &mut self,
        requests: &Receiver<(Request, Sender<Answer>)>,
        hello_interval: Duration,
        lost: &Sender<String>,
    ) {
        let heartbeat = tick(hello_interval);
        loop {
            let hellos = if self.joined && !self.broken {
                heartbeat.clone()
            } else {
                never()
            };
            select! {
                recv(requests) -> msg => match msg {
                    Ok((request, reply)) => {
                        let answer = self.exchange(&request);
                        if let Ok(replies) = &answer
                            && matches!(replies.first(), Some(Reply::Joined(_))) {
                                self.joined = true;
                            }
                        let _ = reply.send(answer);
                    }
                    Err(_) => break,
                },
                recv(hellos) -> _ => {
                    if let Err(err) = self.exchange(&Request::Hello) {
                        let _ = lost.send(err.to_string());
                    }
                }
            }
        }
        if self.joined && !self.broken {
            let _ = self.exchange(&Request::Logout);
        }
    }

    /// Writes one request and reads its reply lines.
    fn exchange(&mut self, request: &Request) -> Answer {
        if self.broken {
            return Err(ClientError::Closed(None));
        }
        let result = self.try_exchange(request);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn try_exchange(&mut self, request: &Request) -> Answer {
        self.trace.sent(self.addr, request);
        write_line(&mut self.writer, request)?;
        let first = self.read_reply()?;
        let mut replies = vec![first];
        if let Reply::List(count) = replies[0] {
            for _ in 0..count {
                replies.push(self.read_reply()?);
            }
        }
        Ok(replies)
    }

    fn read_reply(&mut self) -> Result<Reply, ClientError> {
        let line = match self.reader.next_frame()? {
            Frame::Line(line) => line,
            Frame::Eof => return Err(ClientError::Closed(None)),
            Frame::TooLong | Frame::BadEncoding => {
                return Err(ClientError::Protocol("(unreadable line)".into()));
            }
        };
        self.trace.received(self.addr, &line);
        match line.parse::<Reply>() {
            Ok(Reply::Bye(reason)) => Err(ClientError::Closed(Some(reason.to_string()))),
            Ok(reply) => Ok(reply),
            Err(_) => Err(ClientError::Protocol(line)),
        }
    }
}
