//! A member's way back to its lobby, without the registry: the `Rejoiner`
//! thread walks the roster (the leader, then the members in admission
//! order) until a peer takes its `REJOIN`, or finds that this peer is the
//! first one still there and must lead; and the `member-writer` thread
//! that then runs the member link (`member_link.rs`), as the chat
//! connection's thread does for an invitee.
//!
//! The rejoiner writes only the sockets it opens, until it hands an admitted
//! one to the member link; it reports to the app thread and never touches
//! its state.

use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, never, unbounded};

use crate::conn::{Conn, LeaderConn, Stream};
use crate::lobby::roster::Candidate;
use crate::trace::Trace;
use crate::wire::{Rejoin, ToLeader, ToMember};

use super::first_line::{FirstLine, read_first_line};
use super::member_link::MemberLink;
use super::msg::{Event, FromLeader, Rejoined, Timing};
use super::{CANCEL_CHECK, INVITE_CONNECT_TIMEOUT};

/// How long a rejoiner waits between two walks of the roster, when a peer
/// that should lead does not yet.
const RETRY: Duration = Duration::from_millis(200);

/// One walk of the roster, on its own thread.
pub(super) struct Rejoiner {
    pub(super) lobby: u64,
    pub(super) walk: Vec<Candidate>,
    pub(super) claim: Rejoin,
    pub(super) deadline: Instant,
    /// Set when the user leaves the lobby (or quits): the walk stops.
    pub(super) cancel: Arc<AtomicBool>,
    pub(super) events: Sender<Event>,
    pub(super) trace: Trace,
}

/// What one attempt at one peer found.
enum Attempt {
    Admitted(Rejoined),
    /// Nobody listens there: on to the next peer.
    Gone,
    /// Someone is there but does not (yet) lead: walk again later.
    NotYet,
}

impl Rejoiner {
    pub(super) fn spawn(self) -> std::io::Result<JoinHandle<()>> {
        thread::Builder::new()
            .name("rejoiner".into())
            .spawn(move || self.run())
    }

    fn run(self) {
        let outcome = self.walk();
        let _ = self.events.send(Event::Rejoined {
            lobby: self.lobby,
            outcome,
        });
    }

    fn walk(&self) -> Rejoined {
        while Instant::now() < self.deadline && !self.cancelled() {
            for candidate in &self.walk {
                let seat = match candidate {
                    Candidate::Me => return Rejoined::Lead,
                    Candidate::Peer(seat) => seat,
                };
                match self.attempt(&seat.name, seat.addr) {
                    Attempt::Admitted(rejoined) => return rejoined,
                    Attempt::Gone => continue,
                    Attempt::NotYet => break,
                }
            }
            // Nothing to wait on but time: the peer that should lead has
            // not noticed yet. The deadline bounds the walks.
            thread::sleep(RETRY);
        }
        Rejoined::GaveUp
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    fn attempt(&self, name: &str, addr: std::net::SocketAddr) -> Attempt {
        let Ok(stream) = TcpStream::connect_timeout(&addr, INVITE_CONNECT_TIMEOUT) else {
            return Attempt::Gone;
        };
        // The claim is the one line a member sends before it is a member.
        let conn: Option<Conn<Stream, ToMember, Rejoin>> = stream
            .set_read_timeout(Some(CANCEL_CHECK))
            .and_then(|()| Conn::new(stream, name, self.trace))
            .ok();
        let Some(mut conn) = conn else {
            return Attempt::NotYet;
        };
        if conn.send(&self.claim).is_err() {
            return Attempt::NotYet;
        }
        let deadline = self.deadline.min(Instant::now() + INVITE_CONNECT_TIMEOUT);
        match read_first_line(&mut conn, deadline, || self.cancelled()) {
            Ok(FirstLine::Line(first @ ToMember::Members(_))) => {
                Attempt::Admitted(Rejoined::Admitted {
                    leader: name.to_string(),
                    conn: Box::new(conn.retype()),
                    first,
                })
            }
            _ => {
                let _ = conn.get_ref().shutdown(Shutdown::Both);
                Attempt::NotYet
            }
        }
    }
}

/// The chat with the leader that took us back: a reader thread forwards its
/// lines to the app, and a `member-writer` thread is the socket's only
/// writer, as the chat connection's thread is for an invitee. Returns the
/// outbox of what the user types, and the writer's handle.
pub(super) fn start_link(
    conn: LeaderConn,
    leader: &str,
    feed: Sender<FromLeader>,
    timing: Timing,
) -> std::io::Result<(Sender<ToLeader>, JoinHandle<()>)> {
    let link = MemberLink::open(conn, leader, feed, timing)?;
    let (outbox, outbox_rx) = unbounded();
    let writing = thread::Builder::new()
        .name("member-writer".into())
        .spawn(move || link.relay(&outbox_rx, &never()))?;
    Ok((outbox, writing))
}
