//! The hub thread: the lobby's I/O driver. It owns the members' sockets,
//! their output buffers, the flush passes, the reader threads and the
//! clock; it turns each `Event` into a `LobbyEvent` for the lobby's rules
//! (`lobby/state/`) with the time, and carries out the effects they return.
//! Only this thread changes the membership or writes a member's socket.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossbeam_channel::{Receiver, Sender, never, select};

use crate::conn::MemberConn;
use crate::crypto::PeerKey;
use crate::wire::{CloseReason, Contact, ErrorCode, InviteStatus, ParseError};

use super::member::{FromMember, Heard, Member, MemberId};
use super::roster::{self, Proven, Seat};
use super::state::{LobbyEffect, LobbyEvent, LobbyState, Now, Origin, PrivateText};
use super::{Handed, Inheritance, LobbyConfig, Notice};

mod connections;
mod flush;
mod notices;

use notices::Notices;

/// The most events the hub handles before it flushes the output buffers, and
/// the most one flush pass picks up along the way, so a steady stream of
/// events cannot delay every write indefinitely.
const BATCH_LIMIT: usize = 4096;

/// Everything the hub reacts to. Only the hub receives these.
pub(super) enum Event {
    Admit {
        name: String,
        chat_addr: Option<SocketAddr>,
        key: Option<PeerKey>,
        conn: MemberConn,
    },
    /// Something a member's reader thread saw.
    From {
        id: MemberId,
        input: FromMember,
    },
    Say(String),
    /// The leader is away (with its text) or back.
    Away(Option<String>),
    Members(Sender<Vec<String>>),
    Contacts(Sender<Vec<Contact>>),
    /// The lobby's id and a member's seat.
    Seat {
        name: String,
        reply: Sender<Option<(String, Seat)>>,
    },
    /// `INVITATION <name> <status>` to everyone.
    Invitation {
        name: String,
        status: InviteStatus,
    },
    /// `ERR` to one member, by name.
    Refuse {
        to: String,
        code: ErrorCode,
        text: String,
    },
    /// The leader's private message.
    Private {
        to: String,
        text: PrivateText,
        reply: Sender<Result<String, ParseError>>,
    },
    Kick {
        name: String,
        reason: Option<String>,
        reply: Sender<Option<String>>,
    },
    /// A member comes back (`REJOIN`) on a new connection.
    Rejoin {
        claim: crate::wire::Rejoin,
        proven: Proven,
        conn: MemberConn,
    },
    Handover {
        to: Option<String>,
        reply: Sender<Result<Handed, String>>,
    },
    /// The leader leaves; the answer is who leads now, if anyone.
    Leave(Sender<Option<String>>),
    Close(CloseReason),
}

/// The hub's two inboxes: what the leader's `Lobby` handle asks, which is
/// always read, and what the member readers saw, which is left unread while
/// the leader's user interface is behind on notices. A full reader inbox
/// blocks the readers, and so, through TCP, the members who flood.
pub(super) struct Inboxes {
    pub(super) control: Receiver<Event>,
    pub(super) readers: Receiver<Heard>,
}

impl From<Heard> for Event {
    fn from(heard: Heard) -> Event {
        Event::From {
            id: heard.id,
            input: heard.input,
        }
    }
}

/// The hub thread's state: the lobby's rules, and the I/O that carries them
/// out. Only the hub thread ever touches it.
pub(super) struct Hub {
    config: LobbyConfig,
    /// The lobby's rules: who is in it, and what they are owed.
    state: LobbyState,
    notices: Notices,
    /// A sender for the reader threads the hub starts.
    events: Sender<Heard>,
    /// Each connection's socket and output buffer, by the same ids as the
    /// rules' members (and, briefly, connections about to be turned away).
    members: BTreeMap<MemberId, Member>,
    next_id: MemberId,
    readers: Vec<JoinHandle<()>>,
    /// What the I/O found out on its own (a backlog past the limit, a
    /// broken connection), for the rules once the current effects are out.
    fallout: Vec<LobbyEvent>,
    /// One encoded line, reused so that relaying does not allocate.
    scratch: Vec<u8>,
    /// True while some member has bytes the kernel has not taken yet.
    backlog: bool,
    /// True when lines were queued during a flush pass, for members the
    /// pass had already served: the next pass must come at once.
    unsent: bool,
    /// Bytes of lines queued (per member) since the current flush pass
    /// began; see `batch_full`.
    queued_since_pass: usize,
    /// The members of the current flush pass, reused from pass to pass.
    pass: Vec<MemberId>,
}

/// The time of an event, read once for the whole of it: with hundreds of
/// members, reading the clock for each shows.
fn now() -> Now {
    Now {
        at: Instant::now(),
        utc: Utc::now(),
    }
}

impl Hub {
    /// A hub for a new lobby, or (`inheritance`) one this peer takes over.
    /// Fails only if the system has no randomness for a new lobby's id.
    pub(super) fn new(
        config: LobbyConfig,
        notices: Sender<Notice>,
        events: Sender<Heard>,
        inheritance: Option<Inheritance>,
    ) -> io::Result<Hub> {
        let origin = match (config.succession, inheritance) {
            (None, _) => None,
            (Some(_), Some(inheritance)) => Some(Origin::Inherited(inheritance)),
            (Some(_), None) => Some(fresh_origin()?),
        };
        Ok(Hub {
            state: LobbyState::new(config.clone(), origin, now()),
            config,
            notices: Notices::new(notices),
            events,
            members: BTreeMap::new(),
            next_id: 0,
            readers: Vec::new(),
            fallout: Vec::new(),
            scratch: Vec::new(),
            backlog: false,
            unsent: false,
            queued_since_pass: 0,
            pass: Vec::new(),
        })
    }

    /// The lobby's id, in a lobby that can outlive its leader.
    pub(super) fn lobby_id(&self) -> Option<String> {
        self.state.lobby_id()
    }

    /// Runs the hub until the lobby closes; returns the notices the
    /// leader's user interface had no room for, so that they still reach
    /// its log.
    pub(super) fn run(mut self, inbox: Inboxes) -> Vec<Notice> {
        // Heartbeats and silence are checked a few times per interval, so
        // neither fires much later than configured.
        let check_every = (self.config.hello_interval.min(self.config.silence_timeout) / 4)
            .max(Duration::from_millis(1));
        let mut next_check = Instant::now() + check_every;
        let reason = loop {
            let wake = self.wake_at(next_check);
            let readers = if self.notices.behind() {
                never()
            } else {
                inbox.readers.clone()
            };
            let first = select! {
                recv(inbox.control) -> event => match event {
                    Ok(event) => Some(event),
                    // The `Lobby` handle is gone without closing: the
                    // leader has left.
                    Err(_) => break CloseReason::LeaderLeft,
                },
                recv(readers) -> heard => heard.ok().map(Event::from),
                default(wake.saturating_duration_since(Instant::now())) => None,
            };
            let mut closing = first.and_then(|event| self.handle_batch(event, &inbox));
            if closing.is_none() && Instant::now() >= next_check {
                self.feed(LobbyEvent::Tick);
                next_check = Instant::now() + check_every;
            }
            if closing.is_none() {
                closing = self.flush(&inbox);
            }
            if let Some(reason) = closing {
                break reason;
            }
        };
        self.finish(reason, inbox)
    }

    /// When the loop must wake at the latest: at once if lines wait for a
    /// pass, soon if a backlog or the leader's notices wait, else at the
    /// next liveness check. Delivers what notices it can on the way.
    fn wake_at(&mut self, next_check: Instant) -> Instant {
        let mut wake = next_check;
        if self.unsent {
            wake = Instant::now();
        } else if self.backlog {
            wake = wake.min(Instant::now() + self.config.retry_interval);
        }
        if !self.notices.deliver() {
            wake = wake.min(Instant::now() + self.config.retry_interval);
        }
        wake
    }

    /// Handles `first` and the events ready after it, up to a batch;
    /// returns the reason if one of them closes the lobby.
    fn handle_batch(&mut self, first: Event, inbox: &Inboxes) -> Option<CloseReason> {
        let mut closing = self.handle(first);
        let mut handled = 1;
        while closing.is_none() && handled < BATCH_LIMIT && !self.batch_full() {
            let Some(event) = self.next_ready(inbox) else {
                break;
            };
            closing = self.handle(event);
            handled += 1;
        }
        closing
    }

    /// An event that is waiting, if any: the leader's first, then a
    /// member's, unless notices are waiting for the user interface.
    fn next_ready(&self, inbox: &Inboxes) -> Option<Event> {
        if let Ok(event) = inbox.control.try_recv() {
            return Some(event);
        }
        if self.notices.behind() {
            None
        } else {
            inbox.readers.try_recv().ok().map(Event::from)
        }
    }

    /// Handles one event; returns the reason when it is the end.
    fn handle(&mut self, event: Event) -> Option<CloseReason> {
        match event {
            Event::Admit {
                name,
                chat_addr,
                key,
                conn,
            } => self.admit(name, chat_addr, key, conn),
            Event::From { id, input } => self.feed(from_member(id, input)),
            Event::Say(text) => self.feed(LobbyEvent::Say(text)),
            Event::Away(away) => self.feed(LobbyEvent::LeaderAway(away)),
            Event::Members(reply) => answer(&reply, self.state.names()),
            Event::Contacts(reply) => answer(&reply, self.state.contacts()),
            Event::Seat { name, reply } => answer(&reply, self.state.seat(&name)),
            Event::Invitation { name, status } => {
                self.feed(LobbyEvent::Invitation { name, status })
            }
            Event::Refuse { to, code, text } => self.feed(LobbyEvent::Refuse { to, code, text }),
            Event::Private { to, text, reply } => self.tell(&to, text, &reply),
            Event::Kick {
                name,
                reason,
                reply,
            } => self.kick(&name, reason, &reply),
            Event::Rejoin {
                claim,
                proven,
                conn,
            } => self.rejoin(claim, proven, conn),
            Event::Handover { to, reply } => return self.handover(to.as_deref(), &reply),
            Event::Leave(reply) => return Some(self.leave(&reply)),
            Event::Close(reason) => return Some(reason),
        }
        None
    }

    /// Hands one event to the rules and carries out what they say.
    fn feed(&mut self, event: LobbyEvent) {
        let effects = self.state.handle(event, now());
        self.carry(effects);
    }

    fn tell(&mut self, to: &str, text: PrivateText, reply: &Sender<Result<String, ParseError>>) {
        let (told, effects) = self.state.tell(to, text, now());
        self.carry(effects);
        answer(reply, told);
    }

    fn kick(&mut self, name: &str, reason: Option<String>, reply: &Sender<Option<String>>) {
        let (kicked, effects) = self.state.kick(name, reason, now());
        self.carry(effects);
        answer(reply, kicked);
    }

    /// Hands the lobby on; once it is, the hub ends (without `CLOSED`).
    fn handover(
        &mut self,
        to: Option<&str>,
        reply: &Sender<Result<Handed, String>>,
    ) -> Option<CloseReason> {
        let (handed, effects) = self.state.handover(to, now());
        self.carry(effects);
        let done = handed.is_ok();
        answer(reply, handed);
        done.then_some(CloseReason::LeaderLeft)
    }

    /// The leader leaves: the lobby is handed on if anyone can lead it, and
    /// the hub ends either way, with `CLOSED` only if it was not.
    fn leave(&mut self, reply: &Sender<Option<String>>) -> CloseReason {
        let (to, effects) = self.state.leave(now());
        self.carry(effects);
        answer(reply, to);
        CloseReason::LeaderLeft
    }

    /// Carries out the rules' effects in order, then tells the rules what
    /// the I/O found out meanwhile, until it finds nothing more: dropping a
    /// member queues `LEFT` for the others, which may overflow another.
    fn carry(&mut self, effects: Vec<LobbyEffect>) {
        for effect in effects {
            self.carry_one(effect);
        }
        while let Some(event) = self.fallout.pop() {
            for effect in self.state.handle(event, now()) {
                self.carry_one(effect);
            }
        }
    }

    fn carry_one(&mut self, effect: LobbyEffect) {
        match effect {
            LobbyEffect::ToMember(id, line) => self.send_to(id, &line),
            LobbyEffect::ToAll { line, except } => self.broadcast(&line, except),
            LobbyEffect::Drop(id, _) => self.hang_up(id),
            LobbyEffect::Notice(notice) => self.notices.push(notice),
        }
    }
}

/// What a reader thread saw, as an event for the rules.
fn from_member(id: MemberId, input: FromMember) -> LobbyEvent {
    match input {
        FromMember::Line(line) => LobbyEvent::Line { id, line },
        FromMember::TooLong => LobbyEvent::TooLong(id),
        FromMember::Gone => LobbyEvent::Gone(id),
    }
}

/// Answers the leader's `Lobby` handle; the asker may have given up, which
/// is its business.
fn answer<T>(reply: &Sender<T>, value: T) {
    let _ = reply.send(value);
}

/// A new lobby, with a fresh id.
fn fresh_origin() -> io::Result<Origin> {
    let random = |_| io::Error::other("the system has no randomness to offer");
    Ok(Origin::New {
        lobby: roster::lobby_id().map_err(random)?,
    })
}
