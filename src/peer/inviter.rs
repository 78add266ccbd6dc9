//! The outgoing chat request: one `Inviter` thread per invitee connects,
//! sends `CHAT_REQUEST`, waits for the answer and reports it to the app.
//! It writes its socket only until the answer; an accepted socket goes to
//! the lobby hub. Under TLS the invitee proves the key the registry
//! vouched for before the request (and its ticket) is sent.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::conn::{MemberConn, Stream};
use crate::crypto::PeerKey;
use crate::trace::Trace;
use crate::wire::{Contact, ToLeader, ToMember};

use super::first_line::{FirstLine, read_first_line};
use super::msg::{Event, Outcome};
use super::tls::{LinkError, PeerTls};
use super::{CANCEL_CHECK, INVITE_CONNECT_TIMEOUT};

/// Sends one chat request and reports how it ended.
pub(super) struct Inviter {
    pub(super) lobby: u64,
    pub(super) me: String,
    pub(super) contact: Contact,
    /// From the registry: proves to the invitee that we are `me`.
    pub(super) ticket: String,
    pub(super) timeout: Duration,
    pub(super) cancel: Arc<AtomicBool>,
    pub(super) events: Sender<Event>,
    pub(super) tls: PeerTls,
    pub(super) trace: Trace,
}

impl Inviter {
    pub(super) fn run(self) {
        let outcome = self
            .ask()
            .unwrap_or_else(|err| Outcome::Unreachable(err.to_string()));
        let _ = self.events.send(Event::Invited {
            lobby: self.lobby,
            name: self.contact.name.clone(),
            outcome,
        });
    }

    fn ask(&self) -> io::Result<Outcome> {
        let addr = SocketAddr::new(self.contact.ip, self.contact.port);
        let stream = match self.connect(addr) {
            Ok(stream) => stream,
            Err(err) => return Ok(Outcome::Unreachable(err.to_string())),
        };
        let mut conn = MemberConn::new(stream, &self.contact.name, self.trace)?;
        conn.send(&ToMember::ChatRequest {
            leader: self.me.clone(),
            ticket: Some(self.ticket.clone()),
        })?;
        // Short read timeouts let the wait notice a cancelled lobby.
        conn.socket().set_read_timeout(Some(CANCEL_CHECK))?;
        let deadline = Instant::now() + self.timeout;
        let first = read_first_line(&mut conn, deadline, || self.cancelled())?;
        self.outcome(addr, conn, first)
    }

    /// How the request ended, by the first line that came back, or by why
    /// none did.
    fn outcome(
        &self,
        addr: SocketAddr,
        conn: MemberConn,
        first: FirstLine<ToLeader>,
    ) -> io::Result<Outcome> {
        Ok(match first {
            FirstLine::Line(answer) => return self.answered(addr, conn, answer),
            FirstLine::Malformed(line) => Outcome::Unreachable(format!("it answered {line:?}")),
            // A peer that heard the request closes without a line only when
            // it withdrew it: its own answer window ran out, or it quit
            // mid-question. Either way nobody answered.
            FirstLine::Closed => Outcome::NoAnswer,
            FirstLine::Unreadable => Outcome::Unreachable("it sent an unreadable line".into()),
            FirstLine::GaveUp => {
                let _ = conn.socket().shutdown(Shutdown::Both);
                Outcome::NoAnswer
            }
        })
    }

    /// What the invitee's answer means. An acceptance that comes after the
    /// lobby was cancelled counts as none; an accepted connection goes on
    /// with blocking reads again, its wait for the answer over.
    fn answered(
        &self,
        addr: SocketAddr,
        conn: MemberConn,
        answer: ToLeader,
    ) -> io::Result<Outcome> {
        Ok(match answer {
            ToLeader::Accept(key) if !self.cancelled() => {
                conn.socket().set_read_timeout(None)?;
                Outcome::Accepted {
                    addr,
                    key,
                    conn: Box::new(conn),
                }
            }
            ToLeader::Accept(_) => Outcome::NoAnswer,
            ToLeader::Reject => Outcome::Rejected,
            ToLeader::Busy(reason) => Outcome::Busy(reason),
            other => Outcome::Unreachable(format!("it answered {:?}", other.to_string())),
        })
    }

    /// Set when the lobby this request is for ends: the wait stops.
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Connects to the invitee. Under TLS it must prove the key the
    /// registry vouched for (`SEARCH`), so that the request, and its
    /// ticket, go to nobody else; a peer with no vouched key is not asked.
    fn connect(&self, addr: SocketAddr) -> Result<Stream, LinkError> {
        let vouched = self
            .contact
            .key
            .as_ref()
            .and_then(|word| word.as_str().parse::<PeerKey>().ok());
        if self.tls.is_tls() && vouched.is_none() {
            return Err(LinkError::NoKey(self.contact.name.clone()));
        }
        self.tls
            .connect(addr, INVITE_CONNECT_TIMEOUT, vouched.as_ref())
    }
}
