//! The peer's link to the registry, as a typed client: `register`, `join`,
//! `list`, `search`, `invite`, `check` and `set_away` return what was asked for or why
//! not (`Refused`), so no caller decodes `Reply` lines. This module owns the
//! registry socket on the peer side: the link thread is the only code that
//! writes to it, and the reader thread only reads. It reconnects with backoff
//! and joins again, resends a request a `BYE` kept the registry from acting
//! on, and keeps the password of the last successful JOIN in memory only. It
//! knows nothing of menus or lobbies.

mod conn;
mod link;
mod trust;

pub use trust::{FirstUse, RegistrySecurity, RegistryTrust};

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Sender, bounded};

use crate::trace::Trace;
use crate::wire::{AttemptLimit, ByeReason, Contact, ErrorCode, KeyWord, Reply, Request};

/// How the link behaves.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    /// The registry's addresses, tried in order at every (re)connect.
    pub addrs: Vec<SocketAddr>,
    /// HELLO is sent this often once joined.
    pub hello_interval: Duration,
    /// The first wait before reconnecting; it doubles up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
    pub trace: Trace,
    /// Plain text or TLS, and which registry keys are accepted.
    pub security: RegistrySecurity,
}

/// Why a request to the registry got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection failed or timed out.
    #[error("cannot reach the registry: {0}")]
    Io(#[from] io::Error),
    /// The registry closed the connection, with its `BYE` reason if it gave one.
    #[error("the registry closed the connection{}", closed_because(.0))]
    Closed(Option<ByeReason>),
    /// The registry answered something that is not a reply.
    #[error("the registry sent a strange line: {0}")]
    Protocol(String),
    /// The link is waiting to reconnect.
    #[error("the registry is unreachable; reconnecting in the background")]
    Offline,
    /// The registry has not been reachable since the peer started.
    #[error("not connected to the registry yet")]
    NotYet,
}

/// What a `BYE` reason means to the user, after a colon; nothing when the
/// registry gave none.
fn closed_because(reason: &Option<ByeReason>) -> &'static str {
    match reason {
        Some(ByeReason::Shutdown) => ": it is shutting down",
        Some(ByeReason::Timeout) => ": nothing was sent to it for too long",
        Some(ByeReason::Replaced) => ": this user joined from somewhere else",
        None => "",
    }
}

/// What the link tells the peer about the registry, unasked.
#[derive(Debug)]
pub enum LinkNotice {
    /// The registry could not be reached at start, at any of these
    /// addresses; the link is retrying.
    NotYet {
        tried: Vec<SocketAddr>,
        why: io::Error,
    },
    /// The connection failed; the link is retrying.
    Lost(ClientError),
    /// The registry said `BYE SHUTDOWN`; the link is retrying.
    Stopped,
    /// The registry said `BYE REPLACED`: the same user joined from
    /// somewhere else, so this peer is no longer joined.
    Replaced,
    /// The link reached the registry again, or for the first time, while
    /// not joined.
    Reachable,
    /// The link reconnected and joined again as this contact.
    Back(Contact),
    /// Joining again after a reconnect was refused with this reply; the
    /// link is no longer joined.
    GaveUp(Reply),
    /// The registry presented a key the link may not accept (one other
    /// than the key pinned or announced, or a new one nobody was asked
    /// about), at start (`first`) or on a background reconnect: why, with
    /// both fingerprints and what to do. Nothing was sent; the link keeps
    /// retrying, and says it again only if the reason changes.
    KeyRefused { why: String, first: bool },
}

type Replies = Result<Vec<Reply>, ClientError>;

/// Why the registry did not do what a typed request asked.
#[derive(Debug)]
pub enum Refused {
    /// `ERR TOO_MANY_ATTEMPTS`: no JOIN is taken for this many seconds,
    /// because of this limit (`None` where the reply did not say).
    TooManyAttempts {
        wait: Option<u64>,
        limit: Option<AttemptLimit>,
    },
    /// Any other `ERR <code> <text>`.
    Err(ErrorCode, String),
    /// A reply that does not answer the request.
    Unexpected(Reply),
    /// No reply: the link failed, or is reconnecting.
    Link(ClientError),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::TooManyAttempts { wait, limit } => {
                f.write_str("too many failed attempts")?;
                match limit {
                    Some(AttemptLimit::Name) => f.write_str(" for this name")?,
                    Some(AttemptLimit::Address) => f.write_str(" from this address")?,
                    None => {}
                }
                if let Some(secs) = wait {
                    write!(f, "; try again in {secs} seconds")?;
                }
                Ok(())
            }
            Refused::Err(_, text) => f.write_str(text),
            // Only the reply's kind (`OK LIST`): what follows is the
            // registry's own text, which this answer was not meant to carry.
            Refused::Unexpected(reply) => {
                let shown = reply.to_string();
                let kind: Vec<&str> = shown.split_whitespace().take(2).collect();
                write!(
                    f,
                    "the registry gave an answer this peer does not expect ({}); check that \
                     --server names a p2pchat registry of the same version",
                    kind.join(" ")
                )
            }
            Refused::Link(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for Refused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Refused::Link(err) => Some(err),
            _ => None,
        }
    }
}

/// A ticket the registry vouched for: `leader` may invite `invitee`, and
/// `leader_key` is the key the leader joined with (none if it joined
/// without one, or has gone offline since).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vouched {
    pub leader: String,
    pub invitee: String,
    pub leader_key: Option<KeyWord>,
}

/// A running link to the registry.
pub struct RegistryLink {
    server_addr: Option<SocketAddr>,
    requests: Option<Sender<link::Asked>>,
    handle: Option<JoinHandle<()>>,
}

impl RegistryLink {
    /// Starts the link and tries the registry once. If it cannot be reached
    /// yet, the link says so on `notices` and keeps trying in the
    /// background; requests meanwhile fail with `ClientError::NotYet`.
    /// Fails only if the link's thread cannot start.
    pub fn connect(
        config: LinkConfig,
        notices: Sender<LinkNotice>,
    ) -> Result<RegistryLink, ClientError> {
        let (server_addr, requests, handle) = link::spawn(config, notices)?;
        Ok(RegistryLink {
            server_addr,
            requests: Some(requests),
            handle: Some(handle),
        })
    }

    /// The registry address the first connection reached, if it did.
    pub fn server_addr(&self) -> Option<SocketAddr> {
        self.server_addr
    }

    /// Sends `request` and waits for its reply lines (several for LIST).
    fn request(&self, request: Request) -> Replies {
        let (tx, rx) = bounded(1);
        let Some(requests) = &self.requests else {
            return Err(ClientError::Closed(None));
        };
        if requests.send((request, tx)).is_err() {
            return Err(ClientError::Closed(None));
        }
        rx.recv().unwrap_or(Err(ClientError::Closed(None)))
    }

    /// Whether `name` is free to register (`Ok`), asked before a password
    /// is chosen for it; `REGISTER` stays the final word, as someone may
    /// take the name in between.
    pub fn name_free(&self, name: &str) -> Result<(), Refused> {
        match self.first(Request::Name { name: name.into() })? {
            Reply::NameFree(_) => Ok(()),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// Creates an account; returns the name as the registry wrote it.
    pub fn register(&self, name: &str, password: &str) -> Result<String, Refused> {
        let request = Request::Register {
            name: name.into(),
            password: password.into(),
        };
        match self.first(request)? {
            Reply::Registered(name) => Ok(name),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// Logs in with the chat port others reach us on; returns our contact
    /// as the registry sees it. After this the link sends `HELLO`, and
    /// joins again by itself after a reconnect.
    pub fn join(&self, name: &str, password: &str, port: u16) -> Result<Contact, Refused> {
        self.join_with_key(name, password, port, None)
    }

    /// `join`, announcing the user's public key, which the registry then
    /// vouches for to others.
    pub fn join_with_key(
        &self,
        name: &str,
        password: &str,
        port: u16,
        key: Option<KeyWord>,
    ) -> Result<Contact, Refused> {
        let request = Request::Join {
            name: name.into(),
            password: password.into(),
            port,
            key,
        };
        match self.first(request)? {
            Reply::Joined(contact) => Ok(contact),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// Everyone online, in the registry's order.
    pub fn list(&self) -> Result<Vec<Contact>, Refused> {
        let replies = self.request(Request::List).map_err(Refused::Link)?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                Reply::Row(contact) => Some(contact),
                _ => None,
            })
            .collect())
    }

    /// Where `name` is online; `Refused::Err(ErrorCode::Offline | NotFound, ..)`
    /// if nowhere.
    pub fn search(&self, name: &str) -> Result<Contact, Refused> {
        match self.first(Request::Search { name: name.into() })? {
            Reply::Found(contact) => Ok(contact),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// A ticket that proves to `name` that this chat request is ours.
    pub fn invite(&self, name: &str) -> Result<String, Refused> {
        match self.first(Request::Invite { name: name.into() })? {
            Reply::Ticket(ticket) => Ok(ticket),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// Whom `ticket` was issued for.
    pub fn check(&self, ticket: &str) -> Result<Vouched, Refused> {
        let request = Request::Check {
            ticket: ticket.into(),
        };
        match self.first(request)? {
            Reply::Valid {
                leader,
                invitee,
                leader_key,
            } => Ok(Vouched {
                leader,
                invitee,
                leader_key,
            }),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// Marks the user away with `text` (empty: no text), or back with
    /// `None`. The link sends it again after joining on a new connection.
    pub fn set_away(&self, away: Option<&str>) -> Result<(), Refused> {
        let request = match away {
            Some(text) => Request::Away(text.into()),
            None => Request::Back,
        };
        match self.first(request)? {
            Reply::Away(_) | Reply::Back => Ok(()),
            other => Err(Refused::Unexpected(other)),
        }
    }

    /// Sends `request` and returns its first reply, an `ERR` as `Refused`.
    fn first(&self, request: Request) -> Result<Reply, Refused> {
        let replies = self.request(request).map_err(Refused::Link)?;
        // `exchange_on` returns at least one reply, or an error.
        let Some(reply) = replies.into_iter().next() else {
            return Err(Refused::Link(ClientError::Closed(None)));
        };
        match reply {
            Reply::Err(ErrorCode::TooManyAttempts, _) => Err(Refused::TooManyAttempts {
                wait: reply.retry_after(),
                limit: reply.attempt_limit(),
            }),
            Reply::Err(code, text) => Err(Refused::Err(code, text)),
            reply => Ok(reply),
        }
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
