//! The outgoing chat request: one `Inviter` thread per invitee connects,
//! sends `CHAT_REQUEST`, waits for the answer and reports it to the app.
//! It writes its socket only until the answer; an accepted socket goes to
//! the lobby hub.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::conn::MemberConn;
use crate::trace::Trace;
use crate::wire::{Contact, ToLeader, ToMember};

use super::first_line::{FirstLine, read_first_line};
use super::msg::{Event, Outcome};
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
        let who = &self.contact.name;
        let stream = TcpStream::connect_timeout(&addr, INVITE_CONNECT_TIMEOUT)?;
        let mut conn = MemberConn::new(stream, who, self.trace)?;
        conn.send(&ToMember::ChatRequest {
            leader: self.me.clone(),
            ticket: Some(self.ticket.clone()),
        })?;
        // Short read timeouts let the wait notice a cancelled lobby.
        conn.get_ref().set_read_timeout(Some(CANCEL_CHECK))?;
        let deadline = Instant::now() + self.timeout;
        let cancelled = || self.cancel.load(Ordering::SeqCst);
        let answer = match read_first_line(&mut conn, deadline, cancelled)? {
            FirstLine::Line(answer) => answer,
            FirstLine::Malformed(line) => {
                return Ok(Outcome::Unreachable(format!("it answered {line:?}")));
            }
            FirstLine::Closed => {
                return Ok(Outcome::Unreachable("it closed the connection".into()));
            }
            FirstLine::Unreadable => {
                return Ok(Outcome::Unreachable("it sent an unreadable line".into()));
            }
            FirstLine::GaveUp => {
                let _ = conn.get_ref().shutdown(Shutdown::Both);
                return Ok(Outcome::NoAnswer);
            }
        };
        Ok(match answer {
            ToLeader::Accept if !self.cancel.load(Ordering::SeqCst) => {
                conn.get_ref().set_read_timeout(None)?;
                Outcome::Accepted { addr, conn }
            }
            ToLeader::Accept => Outcome::NoAnswer,
            ToLeader::Reject => Outcome::Rejected,
            ToLeader::Busy(reason) => Outcome::Busy(reason),
            other => Outcome::Unreachable(format!("it answered {:?}", other.to_string())),
        })
    }
}
