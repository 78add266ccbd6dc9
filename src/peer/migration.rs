//! A member's way back to its lobby, without the registry: the `Rejoiner`
//! thread walks the roster (the leader, then the members in admission
//! order) until a peer takes its `REJOIN`, or finds that this peer is the
//! first one still there and must lead; and the member link that then
//! carries the chat, as the chat connection's thread does for an invitee.
//!
//! The rejoiner writes only the sockets it opens, until it hands an admitted
//! one to the member link; it reports to the app thread and never touches
//! its state.

use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, select, unbounded};

use crate::conn::{self, Conn, LeaderConn, Stream};
use crate::lobby::roster::Candidate;
use crate::trace::Trace;
use crate::wire::{Rejoin, ToLeader, ToMember};

use super::app::{Event, FromLeader};
use super::first_line::{FirstLine, read_first_line};
use super::invitee::{Timing, read_from_leader};
use super::{CANCEL_CHECK, INVITE_CONNECT_TIMEOUT};

/// How long a rejoiner waits between two walks of the roster, when a peer
/// that should lead does not yet.
const RETRY: Duration = Duration::from_millis(200);

/// How the walk ended.
pub(super) enum Rejoined {
    /// A peer took us back: it leads now. `first` is its `MEMBERS` line.
    Admitted {
        leader: String,
        /// Boxed: a connection carries its buffers, and the other
        /// outcomes nothing.
        conn: Box<LeaderConn>,
        first: ToMember,
    },
    /// Every peer before us in the roster is gone: we lead.
    Lead,
    /// Nobody took us back before the deadline.
    GaveUp,
}

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
/// lines to the app, and this link's own thread is the socket's only writer.
/// Returns the outbox of what the user types, and the writer's handle.
pub(super) fn start_link(
    mut conn: LeaderConn,
    leader: String,
    feed: Sender<FromLeader>,
    timing: Timing,
) -> std::io::Result<(Sender<ToLeader>, JoinHandle<()>)> {
    // As for an invitee: a leader silent for this long is gone, and one
    // that stopped reading may not hold the writer for ever.
    conn.get_ref().set_read_timeout(Some(timing.silence))?;
    conn.get_ref().set_write_timeout(Some(timing.silence))?;
    conn.set_peer(&leader);
    let (reader, writer) = conn.into_split();
    let reading = thread::Builder::new()
        .name("member-reader".into())
        .spawn(move || read_from_leader(reader, &feed))?;
    let (outbox, outbox_rx) = unbounded();
    let writing = thread::Builder::new()
        .name("member-writer".into())
        .spawn(move || write_to_leader(writer, &outbox_rx, timing, reading))?;
    Ok((outbox, writing))
}

/// Sends what the user types, and `HELLO` after a quiet while, until the
/// user leaves, the app drops the outbox, or the connection breaks.
fn write_to_leader(
    mut writer: conn::Writer<Stream, ToLeader>,
    outbox: &Receiver<ToLeader>,
    timing: Timing,
    reading: JoinHandle<()>,
) {
    let mut send = |line: &ToLeader| writer.send(line).is_ok();
    loop {
        select! {
            recv(outbox) -> line => match line {
                Ok(line) => {
                    if !send(&line) || line == ToLeader::Leave {
                        break;
                    }
                }
                Err(_) => break,
            },
            default(timing.hello) => {
                if !send(&ToLeader::Hello) {
                    break;
                }
            }
        }
    }
    let _ = writer.get_ref().shutdown(Shutdown::Both);
    let _ = reading.join();
}
