//! The lobby hub: the thread a lobby leader runs to own the membership and
//! relay every message to every member.
//!
//! This module owns who is in a lobby and every byte written to a member. One
//! hub thread holds the membership and is the only thread that writes to
//! member sockets; one reader thread per member turns lines into events for
//! it. Nothing else may change the membership or write to a member, and the
//! hub must never block on a member's socket: a member that stops reading is
//! dropped instead of stalling everyone else.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::mem;
use std::net::{Shutdown, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::line::{self, ConnReader, Frame};
use crate::trace::Trace;
use crate::wire::{self, CloseReason, ErrorCode, LineError, ParseError, ToLeader, ToMember};

/// How many events may wait for the hub. A reader that finds the channel full
/// blocks, which is the backpressure that keeps one flooding member from
/// growing the hub's memory without bound.
const CHANNEL_CAPACITY: usize = 4096;

/// The most events the hub handles before it flushes the output buffers, and
/// the most one flush pass picks up along the way, so a steady stream of
/// events cannot delay every write indefinitely.
const BATCH_LIMIT: usize = 4096;

/// How many members a flush pass serves before it looks for new events. A
/// line that arrives in the middle of a pass then still reaches the members
/// the pass has not come to yet, instead of everyone waiting for the next
/// pass: with hundreds of members, a pass is most of a message's latency.
const PASS_CHUNK: usize = 32;

/// An emptied output buffer keeps at most this much capacity, so a lobby of
/// mostly idle members does not hold on to the memory of one old burst.
const IDLE_BUFFER_CAPACITY: usize = 64 * 1024;

/// A lobby connection with nothing sent for this long gets `HELLO`.
pub const DEFAULT_HELLO_INTERVAL: Duration = Duration::from_secs(10);
/// A lobby connection with nothing heard for this long is gone.
pub const DEFAULT_SILENCE_TIMEOUT: Duration = Duration::from_secs(30);

/// How a hub is set up.
#[derive(Debug, Clone)]
pub struct LobbyConfig {
    /// The leader's user name: first in `MEMBERS`, the `from` of its messages.
    pub leader: String,
    /// The most bytes that may wait unsent for one member before that member
    /// is dropped as too slow.
    pub max_queued_bytes: usize,
    pub trace: Trace,
    /// How long the hub waits before it retries a send that the kernel
    /// refused because a member's socket buffer was full.
    pub retry_interval: Duration,
    /// How long `close` spends, in total, delivering what is still queued
    /// (`CLOSED` included) before it shuts every connection down regardless.
    pub close_timeout: Duration,
    /// A member sent nothing for this long gets `HELLO`, so it knows the
    /// leader is alive.
    pub hello_interval: Duration,
    /// A member heard nothing from for this long is gone, even if its
    /// connection never reports an error (a dead machine, a pulled cable).
    pub silence_timeout: Duration,
}

impl LobbyConfig {
    pub fn new(leader: impl Into<String>) -> LobbyConfig {
        LobbyConfig {
            leader: leader.into(),
            max_queued_bytes: 1 << 20,
            trace: Trace::off(),
            retry_interval: Duration::from_millis(2),
            close_timeout: Duration::from_secs(1),
            hello_interval: DEFAULT_HELLO_INTERVAL,
            silence_timeout: DEFAULT_SILENCE_TIMEOUT,
        }
    }
}

/// What the hub tells the leader's own user interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A member was admitted.
    Joined(String),
    /// A member said something.
    Msg { from: String, text: String },
    /// A member left: sent `LEAVE`, disconnected, or broke the protocol.
    Left(String),
    /// A member was dropped because it stopped reading.
    Dropped(String),
    /// A member was dropped because nothing came from it for too long.
    Silent(String),
}

/// A running hub. Dropping it without `close` closes it with reason `LEADER_LEFT`.
pub struct Lobby {
    events: Sender<Event>,
    leader: String,
    /// `None` once the hub has been closed and joined, so that `close`
    /// followed by `Drop` closes only once.
    hub: Option<JoinHandle<()>>,
}

impl Lobby {
    /// Starts the hub thread. Notices go to `notices`. Fails only if the
    /// system cannot start a thread.
    pub fn start(config: LobbyConfig, notices: Sender<Notice>) -> io::Result<Lobby> {
        let (events, inbox) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let leader = config.leader.clone();
        let hub = Hub::new(config, notices, events.clone());
        let hub = thread::Builder::new()
            .name("lobby-hub".to_string())
            .spawn(move || hub.run(inbox))?;
        Ok(Lobby {
            events,
            leader,
            hub: Some(hub),
        })
    }

    /// Admits a member whose `OK` was just read from `reader`; `writer` is a
    /// clone of the same socket, which only the hub will write to from now on.
    pub fn admit(&self, name: String, reader: ConnReader, writer: TcpStream) {
        // If the hub is gone the event comes back inside the error and is
        // dropped, which closes the connection: the right end for it.
        let _ = self.events.send(Event::Admit {
            name,
            reader,
            writer,
        });
    }

    /// The leader says something. Text that `wire::check_text` refuses is
    /// not sent, because it could break the line framing; use `try_say` to
    /// learn why.
    pub fn say(&self, text: String) {
        let _ = self.try_say(text);
    }

    /// The leader says something, or learns why the text cannot be sent.
    pub fn try_say(&self, text: String) -> Result<(), ParseError> {
        wire::check_text(&text)?;
        // A hub that is gone has no members left to tell.
        let _ = self.events.send(Event::Say(text));
        Ok(())
    }

    /// Everyone in the lobby, the leader first.
    pub fn members(&self) -> Vec<String> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        if self.events.send(Event::Members(reply)).is_err() {
            return vec![self.leader.clone()];
        }
        answer.recv().unwrap_or_else(|_| vec![self.leader.clone()])
    }

    /// Ends the lobby: every member gets `CLOSED <reason>`, then all
    /// connections close and every thread is joined.
    pub fn close(mut self, reason: impl Into<CloseReason>) {
        self.shut(reason.into());
    }

    /// The one way a lobby ends, whether by `close` or by `Drop`.
    fn shut(&mut self, reason: CloseReason) {
        let Some(hub) = self.hub.take() else {
            return;
        };
        // The hub may only be gone if it panicked; then there is nobody left
        // to tell, and the join below reports nothing we could act on.
        let _ = self.events.send(Event::Close(reason));
        let _ = hub.join();
    }
}

impl Drop for Lobby {
    fn drop(&mut self) {
        self.shut(CloseReason::LeaderLeft);
    }
}

/// The hub's name for a member: admission order, never reused, so the
/// membership map iterates in the order `MEMBERS` lists.
type MemberId = u64;

/// Everything the hub reacts to. Only the hub receives these.
enum Event {
    Admit {
        name: String,
        reader: ConnReader,
        writer: TcpStream,
    },
    /// Something a member's reader thread saw.
    From {
        id: MemberId,
        input: Input,
    },
    Say(String),
    Members(Sender<Vec<String>>),
    Close(CloseReason),
}

/// What a reader thread reports about its member.
enum Input {
    /// A line, parsed by the reader thread so the hub does less work.
    Line(Result<ToLeader, ParseError>),
    /// A line over `wire::MAX_LINE`: the stream cannot be framed any more.
    TooLong,
    /// The connection closed or failed; the reader thread has ended.
    Gone,
}

/// Why a member is being removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Left,
    Dropped,
    /// Nothing arrived for `silence_timeout`.
    Silent,
}

struct Member {
    name: String,
    stream: TcpStream,
    /// Bytes queued for this member that the kernel has not yet accepted.
    out: Vec<u8>,
    /// Set once the member is on its way out, so nothing more is queued.
    doomed: bool,
    /// When the member last sent a line, and when it was last sent one.
    last_heard: Instant,
    last_sent: Instant,
}

impl Member {
    /// Queues one encoded line (with its `\n`). False means the member's
    /// backlog would grow past `limit`: it is not reading, and must go.
    /// `now` is the time of the event being handled, read once for all
    /// members: with hundreds of them, reading the clock for each shows.
    fn queue(&mut self, bytes: &[u8], limit: usize, trace: Trace, now: Instant) -> bool {
        if self.doomed {
            return true;
        }
        if self.out.len() + bytes.len() > limit {
            return false;
        }
        self.out.extend_from_slice(bytes);
        self.last_sent = now;
        if trace.is_on() {
            trace_sent(trace, &self.name, bytes);
        }
        true
    }

    /// Hands the kernel as much of the backlog as it takes right now, with
    /// one system call. An error means the connection is broken.
    fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        match send_nonblocking(&self.stream, &self.out) {
            Ok(sent) => {
                self.out.drain(..sent);
                if self.out.is_empty() {
                    self.out.shrink_to(IDLE_BUFFER_CAPACITY);
                }
                Ok(())
            }
            Err(err) if line::is_timeout(&err) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

/// Marks `member` to be removed once the current event is handled.
fn doom(id: MemberId, member: &mut Member, exit: Exit, doomed: &mut Vec<(MemberId, Exit)>) {
    member.doomed = true;
    doomed.push((id, exit));
}

/// Queues one encoded line for `member`, or, if its backlog would grow past
/// the limit, marks it to be dropped: it has stopped reading.
fn queue_or_drop(
    id: MemberId,
    member: &mut Member,
    bytes: &[u8],
    config: &LobbyConfig,
    doomed: &mut Vec<(MemberId, Exit)>,
    now: Instant,
) {
    if !member.queue(bytes, config.max_queued_bytes, config.trace, now) {
        doom(id, member, Exit::Dropped, doomed);
    }
}

fn trace_sent(trace: Trace, name: &str, bytes: &[u8]) {
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    trace.sent(name, String::from_utf8_lossy(line));
}

/// Sends without blocking and without touching the socket's `O_NONBLOCK`
/// flag, which the member's reader thread relies on for its blocking reads.
#[cfg(unix)]
fn send_nonblocking(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;

    // A peer that has gone must give us `EPIPE`, not kill the process with
    // `SIGPIPE`. Where `MSG_NOSIGNAL` does not exist (macOS), Rust's runtime
    // already ignores `SIGPIPE`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const NO_SIGNAL: libc::c_int = libc::MSG_NOSIGNAL;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const NO_SIGNAL: libc::c_int = 0;

    loop {
        // SAFETY: `stream` is borrowed for the whole call, so its descriptor
        // stays open; `buf` is a live slice of exactly `buf.len()` bytes that
        // `send` only reads. `MSG_DONTWAIT` makes this one call non-blocking
        // without changing the descriptor's flags.
        let sent = unsafe {
            libc::send(
                stream.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | NO_SIGNAL,
            )
        };
        if sent >= 0 {
            return Ok(sent.unsigned_abs());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Without `MSG_DONTWAIT`, the short write timeout set at admission bounds
/// how long one send can hold the hub up.
#[cfg(not(unix))]
fn send_nonblocking(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    (&*stream).write(buf)
}

/// The write timeout that stands in for `MSG_DONTWAIT` where it is missing.
#[cfg(not(unix))]
const FALLBACK_WRITE_TIMEOUT: Duration = Duration::from_millis(1);

/// Gets an admitted socket ready for its two threads: blocking reads without
/// a timeout for the reader, and no delay for the hub's batched writes.
fn prepare(stream: &TcpStream) -> io::Result<()> {
    // The invitation may have been read under a timeout; a member may stay
    // quiet for as long as it likes.
    stream.set_read_timeout(None)?;
    stream.set_nonblocking(false)?;
    // The hub already batches lines into one send, so Nagle's algorithm
    // would only add latency.
    stream.set_nodelay(true)?;
    #[cfg(not(unix))]
    stream.set_write_timeout(Some(FALLBACK_WRITE_TIMEOUT))?;
    Ok(())
}

/// The hub thread's state. Only the hub thread ever touches it.
struct Hub {
    config: LobbyConfig,
    notices: Sender<Notice>,
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
}

impl Hub {
    fn new(config: LobbyConfig, notices: Sender<Notice>, events: Sender<Event>) -> Hub {
        Hub {
            config,
            notices,
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

    fn run(mut self, inbox: Receiver<Event>) {
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
            let first = match inbox.recv_deadline(wake) {
                Ok(event) => Some(event),
                Err(RecvTimeoutError::Timeout) => None,
                // The hub holds a sender itself, so this cannot happen;
                // closing is still the right answer if it ever does.
                Err(RecvTimeoutError::Disconnected) => break CloseReason::LeaderLeft,
            };
            let mut closing = None;
            if let Some(event) = first {
                closing = self.handle(event);
                let mut handled = 1;
                while closing.is_none() && handled < BATCH_LIMIT && !self.batch_full() {
                    let Ok(event) = inbox.try_recv() else { break };
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
        self.finish(reason, inbox);
    }

    /// Handles one event; returns the reason when it is the end.
    fn handle(&mut self, event: Event) -> Option<CloseReason> {
        match event {
            Event::Admit {
                name,
                reader,
                writer,
            } => self.admit(name, reader, writer),
            Event::From { id, input } => self.input(id, input),
            Event::Say(text) => {
                let line = ToMember::Msg {
                    from: self.config.leader.clone(),
                    text,
                };
                self.broadcast(&line, None);
            }
            Event::Members(reply) => {
                // The asker may have given up; that is its business.
                let _ = reply.send(self.names());
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

    fn admit(&mut self, name: String, reader: ConnReader, writer: TcpStream) {
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
                stream: writer,
                out: Vec::new(),
                doomed: false,
                last_heard: Instant::now(),
                last_sent: Instant::now(),
            },
        );
        let everyone = ToMember::Members(self.names());
        self.send_to(id, &everyone);
        self.broadcast(&ToMember::Joined(name.clone()), Some(id));
        self.notify(Notice::Joined(name));
    }

    fn input(&mut self, id: MemberId, input: Input) {
        // Lines can still arrive from a member that was just removed; they
        // were sent before it left and no longer concern anyone.
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        member.last_heard = Instant::now();
        match input {
            Input::Line(Ok(ToLeader::Msg(text))) => {
                // The hub stamps the sender's name itself, so nobody can
                // speak as someone else.
                let from = member.name.clone();
                let line = ToMember::Msg {
                    from: from.clone(),
                    text: text.clone(),
                };
                self.broadcast(&line, Some(id));
                self.notify(Notice::Msg { from, text });
            }
            // A heartbeat only shows the member is alive; arriving at all
            // is what counts.
            Input::Line(Ok(ToLeader::Hello)) => {}
            Input::Line(Ok(ToLeader::Leave)) | Input::Gone => {
                self.doomed.push((id, Exit::Left));
            }
            Input::Line(Ok(ToLeader::Accept | ToLeader::Reject | ToLeader::Busy)) => {
                let err = ToMember::Err(ErrorCode::BadArgs, "not expected in a lobby".to_string());
                self.send_to(id, &err);
            }
            Input::Line(Err(err)) => {
                self.send_to(id, &ToMember::Err(err.code, err.text));
            }
            Input::TooLong => {
                let err = ToMember::Err(ErrorCode::LineTooLong, LineError::TooLong.to_string());
                self.send_to(id, &err);
                self.doomed.push((id, Exit::Left));
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
            self.broadcast(&ToMember::Left(member.name.clone()), None);
            self.notify(match exit {
                Exit::Left => Notice::Left(member.name),
                Exit::Dropped => Notice::Dropped(member.name),
                Exit::Silent => Notice::Silent(member.name),
            });
        }
    }

    /// Gives every member's backlog to the kernel, one send per member, and
    /// removes the members whose connection broke. Every `PASS_CHUNK`
    /// members it handles the events that arrived meanwhile, so their lines
    /// go out with the rest of this pass; returns the reason if one of them
    /// closes the lobby.
    fn flush(&mut self, inbox: &Receiver<Event>) -> Option<CloseReason> {
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
                        let Ok(event) = inbox.try_recv() else { break };
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
                    doom(*id, member, Exit::Left, &mut self.doomed);
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
    fn finish(mut self, reason: CloseReason, inbox: Receiver<Event>) {
        let bytes = encode(&ToMember::Closed(reason));
        for member in self.members.values_mut() {
            // `CLOSED` goes out even past the backlog limit: it is short, and
            // it is the line that tells the member why the lobby ended.
            member.out.extend_from_slice(&bytes);
            if self.config.trace.is_on() {
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
            let _ = inbox.recv_timeout(wait);
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

    fn notify(&self, notice: Notice) {
        // A leader without a user interface still runs the lobby.
        let _ = self.notices.send(notice);
    }
}

/// A line as the bytes that go on the wire, with its `\n`.
fn encode(line: &ToMember) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_into(&mut bytes, line);
    bytes
}

fn encode_into(bytes: &mut Vec<u8>, line: &ToMember) {
    bytes.clear();
    writeln!(bytes, "{line}").expect("writing to a Vec cannot fail");
}

/// A member's reader thread: turns what arrives into events for the hub
/// until the connection ends or the hub is gone.
fn read_member(
    id: MemberId,
    mut reader: ConnReader,
    events: Sender<Event>,
    trace: Option<(Trace, String)>,
) {
    loop {
        let input = match reader.next_frame() {
            Ok(Frame::Line(line)) => {
                if let Some((trace, name)) = &trace {
                    trace.received(name, &line);
                }
                Input::Line(line.parse())
            }
            Ok(Frame::BadEncoding) => {
                if let Some((trace, name)) = &trace {
                    trace.received(name, "(a line that is not UTF-8)");
                }
                Input::Line(Err(ParseError::new(
                    ErrorCode::BadEncoding,
                    LineError::BadEncoding.to_string(),
                )))
            }
            Ok(Frame::TooLong) => Input::TooLong,
            // A read timeout left on the socket only means silence.
            Err(err) if line::is_timeout(&err) => continue,
            Ok(Frame::Eof) | Err(_) => Input::Gone,
        };
        let last = matches!(input, Input::TooLong | Input::Gone);
        if events.send(Event::From { id, input }).is_err() || last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    use super::*;
    use crate::line::LineReader;

    #[test]
    fn a_line_that_arrives_during_a_pass_reaches_the_members_not_yet_served() {
        let members = PASS_CHUNK + 8;
        let (events, inbox) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let (notices, _ui) = crossbeam_channel::unbounded();
        let mut hub = Hub::new(LobbyConfig::new("leader"), notices, events.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut clients = Vec::new();
        for i in 0..members {
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            let reader = LineReader::new(BufReader::new(server.try_clone().unwrap()));
            hub.admit(format!("m{i}"), reader, server);
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
