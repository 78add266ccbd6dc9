//! The link thread's state machine: `Connected`, `Idle` or `Retrying`, the
//! HELLO heartbeat, and what happens when the registry goes away:
//! reconnecting with backoff, joining again, and sending a request once more
//! when the registry closed the connection before acting on it.
//!
//! This file owns where the link stands, the password of the last
//! successful JOIN (in memory only) and the user's last `AWAY`, sent again
//! after that JOIN on a new connection. It must never touch a socket except
//! through `Conn`, and never decode a reply for the user: that is `mod.rs`'s.

use std::io;
use std::net::SocketAddr;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, at, never, select, tick, unbounded};

use crate::wire::{ByeReason, Contact, Reply, Request};

use super::conn::{Conn, Incoming, exchange_on};
use super::trust::key_refused;
use super::{ClientError, LinkConfig, LinkNotice, Replies};

/// A request of the user and where its reply lines go.
pub(super) type Asked = (Request, Sender<Replies>);

/// Tries the registry once, then starts the link thread. Returns the address
/// that first connection reached (if it did), the sender for requests, and
/// the thread's handle.
pub(super) fn spawn(
    config: LinkConfig,
    notices: Sender<LinkNotice>,
) -> io::Result<(Option<SocketAddr>, Sender<Asked>, JoinHandle<()>)> {
    let (state, server_addr) = match Conn::open(&config, true) {
        Ok(conn) => {
            let addr = conn.addr;
            (State::Connected(conn), Some(addr))
        }
        Err(err) => {
            let notice = match key_refused(&err) {
                Some(why) => LinkNotice::KeyRefused {
                    why: why.to_string(),
                    first: true,
                },
                None => LinkNotice::NotYet {
                    tried: config.addrs.clone(),
                    why: err,
                },
            };
            let _ = notices.send(notice);
            let backoff = config.retry_min;
            let at = Instant::now() + backoff;
            (State::Retrying { at, backoff }, None)
        }
    };
    let (requests, requests_rx) = unbounded();
    let mut link = Link {
        ever_connected: server_addr.is_some(),
        key_refused: None,
        config,
        state,
        joined_as: None,
        away_as: None,
        notices,
    };
    let handle = thread::Builder::new()
        .name("registry-link".into())
        .spawn(move || link.run(&requests_rx))?;
    Ok((server_addr, requests, handle))
}

/// Where the link stands with the registry.
enum State {
    Connected(Conn),
    /// Not connected, and nothing needs a connection now: the registry
    /// closed an idle one. The next request connects.
    Idle,
    /// The registry is away; the next attempt is at `at`, and a failed one
    /// waits twice `backoff` (up to `retry_max`) before the next.
    Retrying {
        at: Instant,
        backoff: Duration,
    },
}

struct Link {
    config: LinkConfig,
    state: State,
    /// The JOIN that last succeeded, replayed after a reconnect.
    joined_as: Option<Request>,
    /// The `AWAY` the registry last took, while the user is away: a new
    /// connection's JOIN starts the user here, so it is sent again after it.
    away_as: Option<Request>,
    /// False until the registry has been reached once.
    ever_connected: bool,
    /// The last refusal of the registry's key the user heard, so that the
    /// retries do not repeat it; cleared when a connection is made.
    key_refused: Option<String>,
    notices: Sender<LinkNotice>,
}

impl Link {
    fn run(&mut self, requests: &Receiver<Asked>) {
        let heartbeat = tick(self.config.hello_interval);
        loop {
            let (hellos, lines) = match &self.state {
                State::Connected(conn) if self.joined_as.is_some() => {
                    (heartbeat.clone(), conn.lines.clone())
                }
                State::Connected(conn) => (never(), conn.lines.clone()),
                State::Idle | State::Retrying { .. } => (never(), never()),
            };
            let retry = match self.state {
                State::Retrying { at: when, .. } => at(when),
                State::Connected(_) | State::Idle => never(),
            };
            select! {
                recv(requests) -> msg => match msg {
                    Ok((request, reply)) => {
                        let answer = self.request(request);
                        let _ = reply.send(answer);
                    }
                    Err(_) => break,
                },
                recv(hellos) -> _ => self.hello(),
                recv(retry) -> _ => self.retry(),
                recv(lines) -> incoming => self.unasked(incoming.unwrap_or(Incoming::End)),
            }
        }
        if self.joined_as.is_some() && matches!(self.state, State::Connected(_)) {
            let _ = self.exchange(&Request::Logout);
        }
    }

    /// A line the registry sent when nothing was asked: only `BYE` is
    /// expected, and the end of the connection.
    fn unasked(&mut self, incoming: Incoming) {
        match incoming {
            Incoming::Reply(Reply::Bye(reason)) => self.on_bye(reason),
            Incoming::Reply(_) | Incoming::Malformed(_) | Incoming::Unreadable => {}
            Incoming::End => {
                self.state = State::Idle;
                if self.joined_as.is_some() {
                    self.reconnect_quietly(ClientError::Closed(None));
                }
            }
        }
    }

    /// The registry ended the connection with `reason`.
    fn on_bye(&mut self, reason: ByeReason) {
        self.state = State::Idle;
        match reason {
            ByeReason::Replaced => {
                // Someone joined as this user elsewhere; joining back would
                // only push them out in turn.
                self.joined_as = None;
                let _ = self.notices.send(LinkNotice::Replaced);
            }
            ByeReason::Shutdown => {
                let _ = self.notices.send(LinkNotice::Stopped);
                self.schedule_retry();
            }
            // An idle connection timed out: a joined peer reconnects at once
            // (its HELLOs came too late), one that is not joined connects
            // when it next needs the registry.
            ByeReason::Timeout => {
                if self.joined_as.is_some() {
                    self.reconnect_quietly(ClientError::Closed(Some(reason)));
                }
            }
        }
    }

    fn hello(&mut self) {
        if let Err(err) = self.exchange(&Request::Hello) {
            self.after_failure(err);
        }
    }

    /// After a failed exchange: a `BYE REPLACED` is final, anything else is
    /// worth one quiet reconnect before the user hears of it.
    fn after_failure(&mut self, err: ClientError) {
        match err {
            ClientError::Closed(Some(reason)) => self.on_bye(reason),
            err => self.reconnect_quietly(err),
        }
    }

    /// Connects again at once (and joins again, if joined); if that fails,
    /// says the registry is lost because of `why` and retries with backoff.
    fn reconnect_quietly(&mut self, why: ClientError) {
        match self.connect() {
            Ok(_) => {}
            Err(Some(refused)) => self.give_up(refused),
            Err(None) => {
                let _ = self.notices.send(LinkNotice::Lost(why));
                self.schedule_retry();
            }
        }
    }

    fn schedule_retry(&mut self) {
        let backoff = self.config.retry_min;
        self.state = State::Retrying {
            at: Instant::now() + backoff,
            backoff,
        };
    }

    fn give_up(&mut self, refused: Reply) {
        self.joined_as = None;
        let _ = self.notices.send(LinkNotice::GaveUp(refused));
    }

    /// One attempt of the background schedule.
    fn retry(&mut self) {
        let State::Retrying { backoff, .. } = self.state else {
            return;
        };
        match self.connect() {
            Ok(contact) => self.announce(contact),
            Err(Some(refused)) => self.give_up(refused),
            Err(None) => {
                let backoff = (backoff * 2).min(self.config.retry_max);
                self.state = State::Retrying {
                    at: Instant::now() + backoff,
                    backoff,
                };
            }
        }
    }

    /// Tells the peer the registry is back after it heard it was away.
    fn announce(&self, rejoined: Option<Contact>) {
        let notice = match rejoined {
            Some(contact) => LinkNotice::Back(contact),
            None => LinkNotice::Reachable,
        };
        let _ = self.notices.send(notice);
    }

    /// Opens a connection and, if joined, joins again on it. `Ok` carries
    /// the contact of that new JOIN; `Err(Some(reply))` is a refused JOIN,
    /// `Err(None)` a connection that failed (the state is then `Idle`).
    fn connect(&mut self) -> Result<Option<Contact>, Option<Reply>> {
        self.state = State::Idle;
        let conn = Conn::open(&self.config, false).map_err(|err| self.failed_to_open(&err))?;
        self.key_refused = None;
        self.state = State::Connected(conn);
        self.ever_connected = true;
        let Some(join) = self.joined_as.clone() else {
            return Ok(None);
        };
        match self.exchange(&join) {
            Ok(replies) => match replies.into_iter().next() {
                Some(Reply::Joined(contact)) => {
                    if let Some(away) = self.away_as.clone() {
                        // The registry refuses it only if this connection
                        // is no longer joined, which the next request
                        // finds out.
                        let _ = self.exchange(&away);
                    }
                    Ok(Some(contact))
                }
                Some(other) => Err(Some(other)),
                None => Err(None),
            },
            Err(_) => Err(None),
        }
    }

    /// A connection that could not be made: a refused registry key is said
    /// at once (the user must decide, and retrying will not change it), once
    /// per reason; any other failure is the retries' to report.
    fn failed_to_open(&mut self, err: &io::Error) -> Option<Reply> {
        if let Some(why) = key_refused(err)
            && self.key_refused.as_deref() != Some(why)
        {
            self.key_refused = Some(why.to_string());
            let _ = self.notices.send(LinkNotice::KeyRefused {
                why: why.to_string(),
                first: false,
            });
        }
        None
    }

    /// A request of the user: sent on the connection there is, or on a new
    /// one; sent once more if the registry closed the connection without
    /// acting on it.
    fn request(&mut self, request: Request) -> Replies {
        self.ensure_connected()?;
        let answer = match self.exchange(&request) {
            Err(err) if not_acted_on(&err) => {
                match self.connect() {
                    Ok(_) => {}
                    Err(Some(refused)) => {
                        self.give_up(refused);
                        return Err(err);
                    }
                    Err(None) => {
                        if self.joined_as.is_none() {
                            return Err(err);
                        }
                        // The notice says why; the request hears that the
                        // link is now retrying.
                        let _ = self.notices.send(LinkNotice::Lost(err));
                        self.schedule_retry();
                        return Err(ClientError::Offline);
                    }
                }
                self.exchange(&request)
            }
            answer => answer,
        };
        let answer = match answer {
            Err(ClientError::Closed(Some(ByeReason::Replaced))) => {
                self.on_bye(ByeReason::Replaced);
                return Err(ClientError::Closed(Some(ByeReason::Replaced)));
            }
            other => other?,
        };
        match (&request, answer.first()) {
            (Request::Join { .. }, Some(Reply::Joined(_))) => {
                self.joined_as = Some(request);
                self.away_as = None;
            }
            (Request::Away(_), Some(Reply::Away(_))) => self.away_as = Some(request),
            (Request::Back, Some(Reply::Back)) => self.away_as = None,
            (Request::Logout, _) => {
                self.joined_as = None;
                self.away_as = None;
            }
            _ => {}
        }
        Ok(answer)
    }

    /// Makes sure there is a connection for a request, trying at once
    /// rather than waiting for the next scheduled attempt.
    fn ensure_connected(&mut self) -> Result<(), ClientError> {
        let was_retrying = match self.state {
            State::Connected(_) => return Ok(()),
            State::Idle => false,
            State::Retrying { .. } => true,
        };
        let schedule = self.state_for_retry();
        match self.connect() {
            Ok(contact) => {
                if was_retrying {
                    self.announce(contact);
                }
                Ok(())
            }
            Err(Some(refused)) => {
                self.give_up(refused);
                Err(ClientError::Offline)
            }
            Err(None) => {
                let never_reached = !self.ever_connected;
                if let Some(state) = schedule {
                    self.state = state;
                }
                Err(if never_reached {
                    ClientError::NotYet
                } else if was_retrying {
                    ClientError::Offline
                } else {
                    ClientError::Io(io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        "the registry does not answer",
                    ))
                })
            }
        }
    }

    /// The retry schedule to keep if an attempt made now fails.
    fn state_for_retry(&self) -> Option<State> {
        match self.state {
            State::Retrying { at, backoff } => Some(State::Retrying { at, backoff }),
            State::Connected(_) | State::Idle => None,
        }
    }

    /// Writes one request and reads its reply lines. A failure drops the
    /// connection: the state is then `Idle`, and the caller decides.
    fn exchange(&mut self, request: &Request) -> Replies {
        let State::Connected(conn) = &mut self.state else {
            return Err(ClientError::Closed(None));
        };
        let result = exchange_on(conn, request);
        if result.is_err() {
            self.state = State::Idle;
        }
        result
    }
}

/// True for a failure that shows the registry never acted on the request:
/// the connection was closed (a `BYE` other than `REPLACED`, or no line at
/// all) or broken before the reply. A reply that is late is not one: the
/// registry may have acted on it.
fn not_acted_on(err: &ClientError) -> bool {
    match err {
        ClientError::Closed(Some(reason)) => *reason != ByeReason::Replaced,
        ClientError::Closed(None) => true,
        ClientError::Io(err) => err.kind() != io::ErrorKind::TimedOut,
        ClientError::Protocol(_) | ClientError::Offline | ClientError::NotYet => false,
    }
}
