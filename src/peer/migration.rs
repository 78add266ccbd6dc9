//! A member's way back to its lobby, without the registry: the `Rejoiner`
//! thread walks the roster (the leader, then the members in admission
//! order) until a peer takes its `REJOIN`, or finds that this peer is the
//! first one still there and must lead; and the `member-writer` thread
//! that then runs the member link (`member_link.rs`), as the chat
//! connection's thread does for an invitee.
//!
//! At each seat the member sends nothing but `PROVE <nonce>` until the
//! peer there has proven the seat's key (`PROOF`); only then its `REJOIN`,
//! signed over both nonces. A peer that cannot prove it (a stranger bound
//! to a lost leader's port) learns one random nonce and is passed over:
//! the walk goes on to the next seat, so it cannot be held back either.
//!
//! The rejoiner writes only the sockets it opens, until it hands an admitted
//! one to the member link; it reports to the app thread and never touches
//! its state.

use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded, never};

use crate::conn::{Conn, LeaderConn, Stream};
use crate::crypto::Identity;
use crate::crypto::proof::Nonce;
use crate::lobby::Seat;
use crate::lobby::roster::{self, Candidate, Nonces};
use crate::trace::Trace;
use crate::wire::{ErrorCode, Rejoin, Succession, ToLeader, ToMember, ToSeat};

use super::first_line::{FirstLine, read_first_line};
use super::member_link::MemberLink;
use super::msg::{Event, FromLeader, Rejoined, Timing};
use super::tls::PeerTls;
use super::{CANCEL_CHECK, INVITE_CONNECT_TIMEOUT, OUTBOX_CAPACITY};

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
    /// Plain text or TLS, as every chat connection of this peer.
    pub(super) tls: PeerTls,
    pub(super) trace: Trace,
    /// Our keys: the claim is signed with them.
    pub(super) identity: Arc<Identity>,
}

/// What one attempt at one peer found.
enum Attempt {
    Admitted(Rejoined),
    /// Nobody listens there, or a peer that cannot prove the seat's key
    /// (a stranger on a lost leader's port): on to the next seat at once.
    Skip,
    /// The seat's own peer, proven, does not (yet) lead: walk again later.
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
                match self.attempt(seat) {
                    Attempt::Admitted(rejoined) => return rejoined,
                    Attempt::Skip => continue,
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

    /// One seat: nothing but a fresh nonce goes out until the peer there
    /// has proven the seat's key (under TLS, in the handshake too, which
    /// fails for any other key); then our claim, with our own proof.
    fn attempt(&self, seat: &Seat) -> Attempt {
        let (Some(mut conn), Ok(member)) = (self.open(seat), Nonce::random()) else {
            return Attempt::Skip;
        };
        let deadline = self.deadline.min(Instant::now() + INVITE_CONNECT_TIMEOUT);
        let Some((leader, nonces)) = self.ask_proof(&mut conn, seat, member, deadline) else {
            let _ = conn.socket().shutdown(Shutdown::Both);
            return Attempt::Skip;
        };
        let claim = self.signed_claim(&leader, nonces);
        if conn.send(&ToSeat::Rejoin(claim)).is_err() {
            return Attempt::Skip;
        }
        self.await_admission(conn, seat, deadline)
    }

    /// A connection to the seat, with the short read timeout that lets a
    /// wait notice the walk's cancel; none if the seat cannot be reached.
    fn open(&self, seat: &Seat) -> Option<Conn<Stream, ToMember, ToSeat>> {
        let stream = self
            .tls
            .connect(seat.addr, INVITE_CONNECT_TIMEOUT, Some(&seat.key))
            .ok()?;
        stream
            .socket()
            .set_read_timeout(Some(CANCEL_CHECK))
            .and_then(|()| Conn::new(stream, &seat.name, self.trace))
            .ok()
    }

    /// Sends `PROVE <member>` and waits for the seat's `PROOF`: the name it
    /// signed as and both nonces, if it proves the seat's key for our lobby
    /// and our nonce. Anything else, a refusal included, proves nothing.
    fn ask_proof(
        &self,
        conn: &mut Conn<Stream, ToMember, ToSeat>,
        seat: &Seat,
        member: Nonce,
        deadline: Instant,
    ) -> Option<(String, Nonces)> {
        conn.send(&ToSeat::Prove(member)).ok()?;
        let first = read_first_line(conn, deadline, || self.cancelled()).ok()?;
        let FirstLine::Line(ToMember::Succession(Succession::Proof {
            lobby,
            name,
            nonce,
            sig,
        })) = first
        else {
            return None;
        };
        let nonces = Nonces {
            member,
            leader: nonce,
        };
        let ours = lobby == self.claim.lobby && name.eq_ignore_ascii_case(&seat.name);
        let key = &seat.key.identity;
        (ours && roster::seat_proven(key, &lobby, &name, nonces, &sig)).then_some((name, nonces))
    }

    /// Our claim to our seat, signed over both nonces and the name the
    /// proven `leader` signed as.
    fn signed_claim(&self, leader: &str, nonces: Nonces) -> Rejoin {
        let sig = roster::prove_claim(
            self.identity.signing_key(),
            &self.claim.lobby,
            leader,
            &self.claim.name,
            nonces,
        );
        Rejoin {
            sig: Some(sig),
            ..self.claim.clone()
        }
    }

    /// The seat's answer to our claim: `MEMBERS` admits us, and the
    /// connection goes on as our link to the lobby; `ERR NOT_LEADER` from
    /// the proven peer means it may lead soon; anything else passes it over.
    fn await_admission(
        &self,
        mut conn: Conn<Stream, ToMember, ToSeat>,
        seat: &Seat,
        deadline: Instant,
    ) -> Attempt {
        match read_first_line(&mut conn, deadline, || self.cancelled()) {
            Ok(FirstLine::Line(first @ ToMember::Members(_))) => {
                Attempt::Admitted(Rejoined::Admitted {
                    leader: seat.name.clone(),
                    conn: Box::new(conn.retype()),
                    first,
                })
            }
            // The seat's own peer says it does not lead yet: it may soon.
            Ok(FirstLine::Line(ToMember::Err(ErrorCode::NotLeader, _))) => {
                let _ = conn.socket().shutdown(Shutdown::Both);
                Attempt::NotYet
            }
            _ => {
                let _ = conn.socket().shutdown(Shutdown::Both);
                Attempt::Skip
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
    let (outbox, outbox_rx) = bounded(OUTBOX_CAPACITY);
    let writing = thread::Builder::new()
        .name("member-writer".into())
        .spawn(move || link.relay(&outbox_rx, &never()))?;
    Ok((outbox, writing))
}
