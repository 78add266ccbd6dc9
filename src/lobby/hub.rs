//! The hub thread: it handles one `Event` at a time, queues output per
//! member, and writes it in flush passes. Only this thread changes the
//! membership or writes a member's socket.

use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, never, select};

use crate::line::ConnReader;
use crate::wire::{
    CloseReason, Contact, ErrorCode, InviteStatus, LineError, ParseError, ToLeader, ToMember,
};

use super::history::History;
use super::member::{Exit, FromMember, Member, MemberId};
use super::{LobbyConfig, Notice};

mod commands;
mod flush;
mod liveness;
mod membership;
mod succession;

/// The most events the hub handles before it flushes the output buffers, and
/// the most one flush pass picks up along the way, so a steady stream of
/// events cannot delay every write indefinitely.
const BATCH_LIMIT: usize = 4096;

/// Everything the hub reacts to. Only the hub receives these.
pub(super) enum Event {
    Admit {
        name: String,
        chat_addr: Option<SocketAddr>,
        reader: ConnReader,
        writer: TcpStream,
    },
    /// Something a member's reader thread saw.
    From {
        id: MemberId,
        input: FromMember,
    },
    Say(String),
    Members(Sender<Vec<String>>),
    Contacts(Sender<Vec<Contact>>),
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
        text: String,
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
        reader: ConnReader,
        writer: TcpStream,
    },
    Handover {
        to: Option<String>,
        reply: Sender<Result<super::Handed, String>>,
    },
    Close(CloseReason),
}

/// The hub's two inboxes: what the leader's `Lobby` handle asks, which is
/// always read, and what the member readers saw, which is left unread while
/// the leader's user interface is behind on notices. A full reader inbox
/// blocks the readers, and so, through TCP, the members who flood.
pub(super) struct Inboxes {
    pub(super) control: Receiver<Event>,
    pub(super) readers: Receiver<Event>,
}

/// The hub thread's state. Only the hub thread ever touches it.
pub(super) struct Hub {
    config: LobbyConfig,
    notices: Sender<Notice>,
    /// Notices the leader's user interface has no room for yet, oldest
    /// first. While any wait, the hub reads no member's line, so this
    /// holds at most what one batch of events made.
    unnoticed: VecDeque<Notice>,
    /// A sender for the reader threads the hub starts.
    events: Sender<Event>,
    members: BTreeMap<MemberId, Member>,
    next_id: MemberId,
    readers: Vec<JoinHandle<()>>,
    /// Members to remove once the current event is handled; removing them at
    /// once would change the map while it is being walked.
    doomed: Vec<(MemberId, Exit)>,
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
    /// The last messages, for members admitted later.
    history: History,
    /// The members' seats, for the lobby's succession (`hub/succession.rs`).
    roster: super::Roster,
    /// The leader's own secret, which it keeps if it hands the lobby on.
    secret: String,
    /// Seats of members whose connection broke, kept until they may no
    /// longer come back.
    away: Vec<(Instant, super::Seat)>,
    /// Set by a handover: the hub ends without `CLOSED`.
    handed_over: bool,
}

impl Hub {
    pub(super) fn new(config: LobbyConfig, notices: Sender<Notice>, events: Sender<Event>) -> Hub {
        Hub {
            // Before `config` moves into its field.
            history: if config.succession.is_some() {
                History::keeping(config.history, super::KEPT_FOR_RETURNS)
            } else {
                History::new(config.history)
            },
            roster: super::Roster::default(),
            secret: String::new(),
            away: Vec::new(),
            handed_over: false,
            config,
            notices,
            unnoticed: VecDeque::new(),
            events,
            members: BTreeMap::new(),
            next_id: 0,
            readers: Vec::new(),
            doomed: Vec::new(),
            scratch: Vec::new(),
            backlog: false,
            unsent: false,
            queued_since_pass: 0,
            pass: Vec::new(),
        }
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
            let readers = if self.unnoticed.is_empty() {
                inbox.readers.clone()
            } else {
                never()
            };
            let first = select! {
                recv(inbox.control) -> event => match event {
                    Ok(event) => Some(event),
                    // The `Lobby` handle is gone without closing: the
                    // leader has left.
                    Err(_) => break CloseReason::LeaderLeft,
                },
                recv(readers) -> event => event.ok(),
                default(wake.saturating_duration_since(Instant::now())) => None,
            };
            let mut closing = first.and_then(|event| self.handle_batch(event, &inbox));
            if closing.is_none() && Instant::now() >= next_check {
                self.check_liveness();
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
        if !self.deliver_notices() {
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
        if self.unnoticed.is_empty() {
            inbox.readers.try_recv().ok()
        } else {
            None
        }
    }

    /// Hands waiting notices to the user interface as far as it has room;
    /// true once none wait.
    fn deliver_notices(&mut self) -> bool {
        while let Some(notice) = self.unnoticed.pop_front() {
            match self.notices.try_send(notice) {
                Ok(()) => {}
                Err(TrySendError::Full(notice)) => {
                    self.unnoticed.push_front(notice);
                    return false;
                }
                // A leader without a user interface still runs the lobby.
                Err(TrySendError::Disconnected(_)) => self.unnoticed.clear(),
            }
        }
        true
    }

    /// Handles one event; returns the reason when it is the end.
    fn handle(&mut self, event: Event) -> Option<CloseReason> {
        match event {
            Event::Admit {
                name,
                chat_addr,
                reader,
                writer,
            } => self.admit(name, chat_addr, reader, writer),
            Event::From { id, input } => self.input(id, input),
            Event::Say(text) => {
                let from = self.config.leader.clone();
                self.relay(None, from, text);
            }
            Event::Members(reply) => {
                // The asker may have given up; that is its business.
                let _ = reply.send(self.names());
            }
            Event::Contacts(reply) => {
                let _ = reply.send(self.contacts());
            }
            Event::Invitation { name, status } => {
                self.broadcast(&ToMember::Invitation { name, status }, None);
            }
            Event::Refuse { to, code, text } => self.refuse_named(&to, code, text),
            Event::Private { to, text, reply } => {
                let _ = reply.send(self.leader_private(&to, text));
            }
            Event::Kick {
                name,
                reason,
                reply,
            } => {
                let _ = reply.send(self.kick(&name, reason));
            }
            Event::Rejoin {
                claim,
                reader,
                writer,
            } => self.rejoin(claim, reader, writer),
            Event::Handover { to, reply } => {
                let handed = self.handover(to.as_deref());
                let done = handed.is_ok();
                let _ = reply.send(handed);
                if done {
                    return Some(CloseReason::LeaderLeft);
                }
            }
            Event::Close(reason) => return Some(reason),
        }
        self.reap();
        None
    }

    fn input(&mut self, id: MemberId, input: FromMember) {
        // Lines can still arrive from a member that was just removed; they
        // were sent before it left and no longer concern anyone.
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        member.last_heard = Instant::now();
        match input {
            FromMember::Line(Ok(ToLeader::Msg(text))) => {
                // The hub stamps the sender's name itself, so nobody can
                // speak as someone else.
                let from = member.name.clone();
                self.relay(Some(id), from.clone(), text.clone());
                self.notify(Notice::Msg { from, text });
            }
            FromMember::Line(Ok(ToLeader::Private { to, text })) => {
                let from = member.name.clone();
                self.member_private(id, from, &to, text);
            }
            FromMember::Line(Ok(ToLeader::Invite(name))) => {
                let by = member.name.clone();
                self.invite_asked(id, by, name);
            }
            // A heartbeat only shows the member is alive; arriving at all
            // is what counts.
            FromMember::Line(Ok(ToLeader::Hello)) => {}
            FromMember::Line(Ok(ToLeader::Leave)) => {
                self.doomed.push((id, Exit::Left));
            }
            FromMember::Gone => self.doomed.push((id, Exit::Lost)),
            FromMember::Line(Ok(ToLeader::Accept | ToLeader::Reject | ToLeader::Busy(_))) => {
                let err = ToMember::Err(ErrorCode::BadArgs, "not expected in a lobby".to_string());
                self.send_to(id, &err);
            }
            FromMember::Line(Err(err)) => {
                self.send_to(id, &ToMember::Err(err.code, err.text));
            }
            FromMember::TooLong => {
                let err = ToMember::Err(ErrorCode::LineTooLong, LineError::TooLong.to_string());
                self.send_to(id, &err);
                self.doomed.push((id, Exit::TooLong));
            }
        }
    }

    /// Queues a notice for the leader's user interface. The hub never
    /// waits for it: the user interface may be waiting for the hub.
    fn notify(&mut self, notice: Notice) {
        self.unnoticed.push_back(notice);
        self.deliver_notices();
    }
}
