//! The hub thread: it handles one `Event` at a time, queues output per
//! member, and writes it in flush passes. Only this thread changes the
//! membership or writes a member's socket.
//!
//! - `hub/commands.rs`: private messages, invite requests and kicks.
//! - `hub/succession.rs`: credentials, the roster, numbered messages,
//!   members who come back, and handing the lobby on.

use std::collections::{BTreeMap, VecDeque};
use std::mem;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, never, select};

use crate::line::ConnReader;
use crate::wire::{
    CloseReason, Contact, ErrorCode, InviteStatus, LineError, ParseError, ToLeader, ToMember,
};

use super::history::History;
use super::member::{
    Exit, FromMember, Member, MemberId, doom, encode, encode_into, prepare, queue_or_drop,
    read_member, send_nonblocking, trace_sent,
};
use super::rules::Asks;
use super::{LobbyConfig, Notice};

mod commands;
mod succession;

/// The most events the hub handles before it flushes the output buffers, and
/// the most one flush pass picks up along the way, so a steady stream of
/// events cannot delay every write indefinitely.
const BATCH_LIMIT: usize = 4096;

/// How many members a flush pass serves before it looks for new events. A
/// line that arrives in the middle of a pass then still reaches the members
/// the pass has not come to yet, instead of everyone waiting for the next
/// pass: with hundreds of members, a pass is most of a message's latency.
const PASS_CHUNK: usize = 32;

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

    /// True once the events handled since the current pass began have queued
    /// a quarter of the backlog limit for each member. Handling stops there
    /// until the next pass, so between two sends a member that the kernel
    /// keeps taking from is given at most about half the limit, and is never
    /// dropped for lines the hub itself held back.
    fn batch_full(&self) -> bool {
        self.queued_since_pass >= self.config.max_queued_bytes / 4
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
            let mut wake = next_check;
            if self.unsent {
                wake = Instant::now();
            } else if self.backlog {
                wake = wake.min(Instant::now() + self.config.retry_interval);
            }
            if !self.deliver_notices() {
                wake = wake.min(Instant::now() + self.config.retry_interval);
            }
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
            let mut closing = None;
            if let Some(event) = first {
                closing = self.handle(event);
                let mut handled = 1;
                while closing.is_none() && handled < BATCH_LIMIT && !self.batch_full() {
                    let Some(event) = self.next_ready(&inbox) else {
                        break;
                    };
                    closing = self.handle(event);
                    handled += 1;
                }
            }
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

    fn names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.members.len() + 1);
        names.push(self.config.leader.clone());
        names.extend(self.members.values().map(|m| m.name.clone()));
        names
    }

    fn admit(
        &mut self,
        name: String,
        chat_addr: Option<SocketAddr>,
        reader: ConnReader,
        writer: TcpStream,
    ) {
        self.admit_as(name, chat_addr, reader, writer, None);
    }

    /// Admits a newcomer, or (`back`) a member who came back with the last
    /// message it has.
    fn admit_as(
        &mut self,
        name: String,
        chat_addr: Option<SocketAddr>,
        reader: ConnReader,
        writer: TcpStream,
        back: Option<succession::Comeback>,
    ) {
        let taken = name == self.config.leader || self.members.values().any(|m| m.name == name);
        if taken {
            let bytes = encode(&ToMember::Closed(CloseReason::Duplicate));
            if self.config.trace.is_on() {
                trace_sent(self.config.trace, &name, &bytes);
            }
            // One best-effort send: a fresh socket has room for one short
            // line, and an invitee that is already gone needs no answer.
            let _ = send_nonblocking(&writer, &bytes);
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
        // A socket that cannot even take its options is already broken;
        // dropping it closes the connection before anyone hears of it.
        if prepare(&writer).is_err() {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let events = self.events.clone();
        let trace = if self.config.trace.is_on() {
            Some((self.config.trace, name.clone()))
        } else {
            None
        };
        let spawned = thread::Builder::new()
            .name(format!("lobby-reader-{id}"))
            .spawn(move || read_member(id, reader, events, trace));
        match spawned {
            Ok(handle) => self.readers.push(handle),
            // Without a reader the member could never speak or be noticed
            // leaving, so it is better not admitted at all.
            Err(_) => {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        }
        self.join_finished_readers();

        self.members.insert(
            id,
            Member {
                name: name.clone(),
                chat_addr,
                stream: writer,
                out: Vec::new(),
                doomed: false,
                last_heard: Instant::now(),
                last_sent: Instant::now(),
                asks: Asks::default(),
            },
        );
        let everyone = ToMember::Members(self.names());
        self.send_to(id, &everyone);
        if self.config.succession.is_some() {
            let announce = !back.as_ref().is_some_and(|b| b.replaced);
            self.welcome(id, &name, chat_addr, back);
            if announce {
                self.notify(Notice::Joined(name));
            }
            return;
        }
        // Half the backlog limit: the rest is room for the live lines that
        // follow while the newcomer reads its history.
        let earlier = self.history.replay(self.config.max_queued_bytes / 2);
        for line in &earlier {
            self.send_to(id, line);
        }
        self.broadcast(&ToMember::Joined(name.clone()), Some(id));
        self.notify(Notice::Joined(name));
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

    /// Queues `line` for one member.
    fn send_to(&mut self, id: MemberId, line: &ToMember) {
        encode_into(&mut self.scratch, line);
        self.queued_since_pass += self.scratch.len();
        let now = Instant::now();
        if let Some(member) = self.members.get_mut(&id) {
            queue_or_drop(
                id,
                member,
                &self.scratch,
                &self.config,
                &mut self.doomed,
                now,
            );
        }
    }

    /// Queues `line` for every member but `except`, encoding it only once.
    fn broadcast(&mut self, line: &ToMember, except: Option<MemberId>) {
        encode_into(&mut self.scratch, line);
        self.queued_since_pass += self.scratch.len();
        let now = Instant::now();
        for (&id, member) in &mut self.members {
            if Some(id) == except {
                continue;
            }
            queue_or_drop(
                id,
                member,
                &self.scratch,
                &self.config,
                &mut self.doomed,
                now,
            );
        }
    }

    /// Says `HELLO` to members that have heard nothing for a while, and
    /// removes members that have said nothing for too long.
    fn check_liveness(&mut self) {
        let now = Instant::now();
        let hello = encode(&ToMember::Hello);
        for (&id, member) in &mut self.members {
            if member.doomed {
                continue;
            }
            if now.duration_since(member.last_heard) >= self.config.silence_timeout {
                doom(id, member, Exit::Silent, &mut self.doomed);
            } else if now.duration_since(member.last_sent) >= self.config.hello_interval {
                queue_or_drop(id, member, &hello, &self.config, &mut self.doomed, now);
            }
        }
        self.forget_away(now);
        self.reap();
    }

    /// Removes every doomed member. Telling the others may doom more of them,
    /// so this goes on until nobody is left to remove.
    fn reap(&mut self) {
        while let Some((id, exit)) = self.doomed.pop() {
            let Some(mut member) = self.members.remove(&id) else {
                continue;
            };
            // A last chance for what is queued, such as the ERR that says why
            // an over-long line ended the connection. A dropped member is not
            // reading, so this cannot block anyone.
            let _ = member.flush();
            // Shutting down wakes the member's reader thread, which then
            // ends; it is joined later.
            let _ = member.stream.shutdown(Shutdown::Both);
            if exit == Exit::Replaced {
                // Nobody else sees it go: the same member is already back.
                continue;
            }
            self.unseat(&member.name, &exit);
            if let Exit::Kicked(reason) = &exit {
                // Members that know `KICKED` learn why; the `LEFT` after it
                // keeps the others' member lists right.
                let kicked = ToMember::Kicked {
                    name: member.name.clone(),
                    reason: reason.clone(),
                };
                self.broadcast(&kicked, None);
            }
            self.broadcast(&ToMember::Left(member.name.clone()), None);
            self.notify(match exit {
                Exit::Left | Exit::Lost | Exit::Replaced => Notice::Left(member.name),
                Exit::Dropped => Notice::Dropped(member.name),
                Exit::Silent => Notice::Silent(member.name),
                Exit::TooLong => Notice::TooLong(member.name),
                Exit::Kicked(reason) => Notice::Kicked {
                    name: member.name,
                    reason,
                },
            });
        }
    }

    /// Gives every member's backlog to the kernel, one send per member, and
    /// removes the members whose connection broke. Every `PASS_CHUNK`
    /// members it handles the events that arrived meanwhile, so their lines
    /// go out with the rest of this pass; returns the reason if one of them
    /// closes the lobby.
    fn flush(&mut self, inbox: &Inboxes) -> Option<CloseReason> {
        self.unsent = false;
        loop {
            let mut backlog = false;
            let mut picked_up = 0;
            self.queued_since_pass = 0;
            let mut pass = mem::take(&mut self.pass);
            pass.clear();
            pass.extend(self.members.keys().copied());
            for (served, id) in pass.iter().enumerate() {
                if served > 0 && served % PASS_CHUNK == 0 {
                    while picked_up < BATCH_LIMIT && !self.batch_full() {
                        let Some(event) = self.next_ready(inbox) else {
                            break;
                        };
                        // What this queues for members already served goes
                        // out in the next pass, which comes at once.
                        self.unsent = true;
                        picked_up += 1;
                        if let Some(reason) = self.handle(event) {
                            // Those whose connection broke earlier in this
                            // pass still leave before the lobby closes.
                            self.reap();
                            self.pass = pass;
                            return Some(reason);
                        }
                    }
                }
                // A member removed by an event of this pass is skipped.
                let Some(member) = self.members.get_mut(id) else {
                    continue;
                };
                if member.flush().is_err() {
                    doom(*id, member, Exit::Lost, &mut self.doomed);
                } else if !member.out.is_empty() {
                    backlog = true;
                }
            }
            self.pass = pass;
            self.backlog = backlog;
            if self.doomed.is_empty() {
                return None;
            }
            // Removing members queues `LEFT` for the others, which the next
            // round sends; every round removes someone, so this ends.
            self.reap();
        }
    }

    /// Ends the lobby: `CLOSED` to everyone, a bounded wait for it to be
    /// delivered, then every connection shut down and every reader joined.
    fn finish(mut self, reason: CloseReason, inbox: Inboxes) -> Vec<Notice> {
        let bytes = if self.handed_over {
            // `HANDOVER` was the last line; the members go on elsewhere.
            Vec::new()
        } else {
            encode(&ToMember::Closed(reason))
        };
        for member in self.members.values_mut() {
            // `CLOSED` goes out even past the backlog limit: it is short, and
            // it is the line that tells the member why the lobby ended.
            member.out.extend_from_slice(&bytes);
            if self.config.trace.is_on() && !bytes.is_empty() {
                trace_sent(self.config.trace, &member.name, &bytes);
            }
        }
        let deadline = Instant::now() + self.config.close_timeout;
        loop {
            let mut backlog = false;
            for member in self.members.values_mut() {
                // The lobby is over, so a broken connection is not news for
                // anyone: its backlog is simply given up.
                if member.flush().is_err() {
                    member.out.clear();
                }
                backlog |= !member.out.is_empty();
            }
            let now = Instant::now();
            if !backlog || now >= deadline {
                break;
            }
            // Waiting on the inbox rather than sleeping also keeps the reader
            // threads from blocking on a full channel; what they send now no
            // longer matters, as the lobby is closing.
            let wait = self.config.retry_interval.min(deadline - now);
            let _ = inbox.readers.recv_timeout(wait);
        }
        for member in self.members.values() {
            let _ = member.stream.shutdown(Shutdown::Both);
        }
        // Dropping the only receiver makes every send fail, so a reader
        // blocked on a full channel wakes up and ends too.
        drop(inbox);
        for reader in self.readers.drain(..) {
            // A reader that panicked has nothing left for us to clean up.
            let _ = reader.join();
        }
        self.deliver_notices();
        self.unnoticed.into()
    }

    /// Joins the reader threads that have already ended, so the list of
    /// handles does not grow with every member who ever came and went.
    fn join_finished_readers(&mut self) {
        let (finished, running) = mem::take(&mut self.readers)
            .into_iter()
            .partition::<Vec<_>, _>(|reader| reader.is_finished());
        self.readers = running;
        for reader in finished {
            let _ = reader.join();
        }
    }

    /// Queues a notice for the leader's user interface. The hub never
    /// waits for it: the user interface may be waiting for the hub.
    fn notify(&mut self, notice: Notice) {
        self.unnoticed.push_back(notice);
        self.deliver_notices();
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    use super::*;
    use crate::line::LineReader;
    use crate::lobby::CHANNEL_CAPACITY;

    #[test]
    fn a_line_that_arrives_during_a_pass_reaches_the_members_not_yet_served() {
        let members = PASS_CHUNK + 8;
        let (events, readers) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let (_control_tx, control) = crossbeam_channel::unbounded();
        let inbox = Inboxes { control, readers };
        let (notices, _ui) = crossbeam_channel::unbounded();
        let mut hub = Hub::new(LobbyConfig::new("leader"), notices, events.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut clients = Vec::new();
        for i in 0..members {
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            let reader = LineReader::new(BufReader::new(server.try_clone().unwrap()));
            hub.admit(format!("m{i}"), None, reader, server);
            client
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            clients.push(BufReader::new(client));
        }
        assert_eq!(hub.flush(&inbox), None);
        assert!(!hub.unsent);

        hub.handle(Event::Say("one".into()));
        // Arrives while the pass is under way: the hub sees it after serving
        // its first `PASS_CHUNK` members.
        events.send(Event::Say("two".into())).unwrap();
        assert_eq!(hub.flush(&inbox), None);
        let left: Vec<usize> = hub.members.values().map(|m| m.out.len()).collect();
        let two = b"MSG leader two\n".len();
        assert_eq!(
            left[..PASS_CHUNK],
            vec![two; PASS_CHUNK],
            "served before it came"
        );
        assert_eq!(left[PASS_CHUNK..], vec![0; 8], "served after it came");
        assert!(hub.unsent, "the next pass must come at once");

        assert_eq!(hub.flush(&inbox), None);
        assert!(!hub.unsent);
        assert!(hub.members.values().all(|m| m.out.is_empty()));
        for (i, client) in clients.iter_mut().enumerate() {
            let msgs: Vec<String> = client
                .lines()
                .map(|line| line.unwrap())
                .filter(|line| line.starts_with("MSG "))
                .take(2)
                .collect();
            assert_eq!(msgs, ["MSG leader one", "MSG leader two"], "m{i}");
        }
        hub.finish(CloseReason::from("SHUTDOWN"), inbox);
    }
}
