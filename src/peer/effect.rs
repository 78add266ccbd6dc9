//! What the app's core hands its driver to carry out, as values: the lines
//! to show, the requests for the registry, the workers to start. The core
//! pushes them onto its `Effects` as it handles an input; the driver
//! (`driver.rs`) takes them after each input and does the I/O.
//!
//! A plain module: it holds values and does no I/O.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::client::LinkNotice;
use crate::crypto::{Identity, IdentityKey};
use crate::files::PartFile;
use crate::lobby::roster::Candidate;
use crate::lobby::{Handed, Inheritance, LobbyConfig, Notice, Proven, Seat};
use crate::screen::ScreenLine;
use crate::wire::{
    BusyReason, CloseReason, Contact, ErrorCode, Fetch, FileLine, FileOffer, InviteStatus, OfferId,
    ParseError, Rejoin, ToLeader, ToMember,
};

use super::msg::{
    FileNews, FromLeader, KeyNews, Outcome, RegistryAsk, RegistryReply, Rejoined, Timing,
    TransferId,
};
use super::render::{self, Lines, LobbyEvent, Role, Shown};

/// One input for the core: what the user typed, what a worker, the
/// current lobby or the registry link said, or a timer that came due.
pub(super) enum Incoming {
    Line(String),
    /// A line the user began typing before the question now on screen was
    /// shown (`Input::Stale`), or entered before the newest question asked
    /// was drawn (`Input::Typed` with too few questions seen).
    Stale(String),
    /// The registry worker's reply to a `RegistryAsk`.
    Registry(RegistryReply),
    /// What the registry worker learned about keys.
    Keys(KeyNews),
    /// An invitee answered one of our chat requests into lobby `lobby`
    /// (or did not); an accepted connection is the driver's, by number.
    Invited {
        lobby: u64,
        name: String,
        outcome: Outcome<ConnId>,
    },
    /// A member of a lobby came back (`REJOIN`) on our chat listener,
    /// having proven a key as `proven` says, on connection `conn`.
    Rejoin {
        claim: Box<Rejoin>,
        proven: Box<Proven>,
        conn: ConnId,
    },
    /// The walk of membership `lobby` ended.
    Rejoined {
        lobby: u64,
        outcome: Rejoined<ConnId>,
    },
    /// A line (or the end) from the leader of the lobby we are a member of.
    Feed(FromLeader),
    /// A notice of the lobby hub we lead.
    Notice(Notice),
    Link(LinkNotice),
    /// The count of a repeated warning is due.
    Repeats,
    /// A file offer, either way, expires (`App::files.next_expiry`).
    OffersDue,
    /// A chat log could not be kept (fed back at once by the driver).
    LogFailed(LogFailure),
    /// A lobby hub's answer to a `LobbyCommand` (fed back at once by the
    /// driver: the hub always reads its control inbox).
    Lobby(LobbyAnswer),
    /// A chat request arrived; the driver keeps where its answer goes.
    Request(ChatRequest),
    /// Chat request `request` is no longer open: the leader closed the
    /// connection, or it `expired` unanswered.
    Withdrawn {
        request: u64,
        expired: bool,
    },
    /// Membership `membership` has its connection to the leader (fed back
    /// at once by the driver for `Answer::Accept` and `Worker::MemberLink`),
    /// or why not.
    Linked {
        membership: u64,
        result: Result<(), String>,
    },
    /// What a file's thread came to, or what the driver answers at once
    /// about a file to receive.
    File(FileNews),
    /// A peer fetches offer `request.id` on connection `fetch` (the
    /// driver's number), having proved `proved` (none in plain text).
    Fetch {
        fetch: u64,
        request: Fetch,
        proved: Option<IdentityKey>,
    },
}

/// A chat request, by the driver's number for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ChatRequest {
    pub(super) request: u64,
    pub(super) from: String,
    pub(super) ticket: Option<String>,
    /// The key the leader proved in the TLS handshake; none in plain text.
    pub(super) proved: Option<IdentityKey>,
}

/// The user's answer to a chat request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// We join: the connection becomes membership `membership`'s.
    Accept {
        membership: u64,
    },
    Reject,
    Busy(BusyReason),
}

/// A connection the driver keeps for the input being handled, by number:
/// what the core does not hand on (to a hub, a link, or away with a line)
/// is closed once the input is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct ConnId(pub(super) u64);

/// The time an input is handled at: the core reads no clock.
#[derive(Debug, Clone, Copy)]
pub(super) struct Now {
    /// For timers and deadlines.
    pub(super) at: Instant,
    /// For what is stamped with the date (the messages a member keeps).
    pub(super) utc: DateTime<Utc>,
}

/// One thing the driver is to do.
#[derive(Debug)]
pub(super) enum Effect {
    /// One of the app's own lines: held, never dropped, while the screen
    /// is behind.
    Show(ScreenLine),
    /// A chat line, which is in the chat log already: the screen may drop
    /// it, and then says how many it dropped.
    Chat(ScreenLine),
    /// A request for the registry worker; the reply comes back as an input.
    ToRegistry(RegistryAsk),
    /// A worker thread to start.
    Start(Worker),
    /// `/verify <name>`: the driver shows the safety code from the keys it
    /// holds.
    Verify(String),
    /// Opens chat log `log`, of `me` in `leader`'s lobby; if it cannot be
    /// created, `Incoming::LogFailed` comes back at once.
    OpenLog {
        log: LogId,
        me: String,
        leader: String,
    },
    /// Appends `line` to chat log `log`, if it is open; if it cannot be
    /// written, the log is closed and `Incoming::LogFailed` comes back at
    /// once.
    Log { log: LogId, line: String },
    /// A command for the hub of lobby `.0` (the core's number for it),
    /// which the driver keeps; some are answered at once with an
    /// `Incoming::Lobby`.
    Lobby(u64, LobbyCommand),
    /// The answer to chat request `.0`.
    Answer(u64, Answer),
    /// Writes `line` on a member's connection the core turns away (an
    /// invitee that accepted into a lobby that has ended, a `REJOIN` while
    /// we lead none), then closes it.
    TurnAway(ConnId, ToMember),
    /// A line for the leader of membership `.0`; lost if it has no
    /// connection (while it looks for its leader).
    ToLeader(u64, ToLeader),
    /// Something for the driver's files: a file to read, room to make, a
    /// transfer to start or stop.
    File(FileOrder),
}

/// What the core asks of the driver's files (`file_desk.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FileOrder {
    /// Reads and sums the file at `path` to offer it to `to` (everyone
    /// else if none); `FileNews::Hashed` comes back later.
    Hash { path: PathBuf, to: Option<String> },
    /// Makes room in `dir` for `offer` from `from` (the folder, a kept
    /// `.part`, the free space); answered at once, `FileNews::Prepared`
    /// or `Unprepared`.
    Prepare {
        from: String,
        offer: FileOffer,
        dir: PathBuf,
    },
    /// Fetches a file we accepted.
    Fetch(FetchJob),
    /// Sends offer `offer`'s file at `path` from byte `from` on fetch
    /// connection `fetch`, to `to`.
    Serve {
        fetch: u64,
        to: String,
        path: PathBuf,
        offer: FileOffer,
        from: u64,
    },
    /// Answers fetch connection `fetch` `ERR`, and closes it.
    Refuse {
        fetch: u64,
        code: ErrorCode,
        text: String,
    },
    /// Stops a transfer running.
    Cancel(TransferId),
}

/// What a recipient's fetch needs: whom, where, which key, which offer,
/// into which `.part`, from which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FetchJob {
    pub(super) me: String,
    pub(super) from: String,
    pub(super) seat: Seat,
    pub(super) offer: FileOffer,
    pub(super) part: PartFile,
    pub(super) resume: u64,
}

/// A chat log the driver keeps open for the core: the lobby's, which goes
/// on under a new lobby id when the lobby changes leader. The driver closes
/// every log but the one the current stage writes (`App::log_in_use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct LogId(pub(super) u64);

/// Why a chat log could not be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LogFailure {
    /// It could not be created in the folder `dir`.
    Create { dir: String, why: String },
    /// It could not be written at `path`; it is closed.
    Write { path: String, why: String },
}

/// A worker thread the core wants started.
pub(super) enum Worker {
    /// Sends `contact` a chat request into lobby `lobby` with `ticket`;
    /// it gives up when that lobby ends or is handed on.
    Inviter {
        lobby: u64,
        me: String,
        contact: Contact,
        ticket: String,
    },
    /// Walks the roster; it gives up when the core's stage no longer
    /// waits for that walk (`App::walk_in_use`).
    Rejoiner(Walk),
    /// Carries membership `membership`'s chat over `conn`, which `leader`
    /// took back (a `member-writer` and a member reader). Answered at once
    /// with `Incoming::Linked`.
    MemberLink {
        membership: u64,
        leader: String,
        conn: ConnId,
        timing: Timing,
    },
}

/// A walk of the roster (`walk`) for membership `lobby`, whose leader is
/// lost or handed the lobby on, with our `claim`, signed with `identity`,
/// until `deadline`.
pub(super) struct Walk {
    pub(super) lobby: u64,
    pub(super) walk: Vec<Candidate>,
    pub(super) claim: Rejoin,
    pub(super) deadline: Instant,
    pub(super) identity: Arc<Identity>,
}

/// Written by hand: the worker and whom it is for, not its sockets or keys.
impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Worker::Inviter { lobby, contact, .. } => {
                write!(f, "Inviter({lobby}, {})", contact.name)
            }
            Worker::Rejoiner(Walk { lobby, walk, .. }) => {
                write!(f, "Rejoiner({lobby}, {walk:?})")
            }
            Worker::MemberLink {
                membership, leader, ..
            } => write!(f, "MemberLink({membership}, {leader})"),
        }
    }
}

/// What the core asks of a lobby hub it leads. The driver owns the hub.
pub(super) enum LobbyCommand {
    /// Starts the hub: a fresh lobby, or one taken over with what this
    /// peer inherits. Answered `Started`.
    Start {
        config: Box<LobbyConfig>,
        inheritance: Option<Inheritance>,
    },
    /// The leader says something to everyone.
    Say(String),
    /// The leader is away (with its text) or back.
    Away(Option<String>),
    /// Everyone in the lobby, for `MembersFor`. Answered `Members`.
    Members(MembersFor),
    /// The leader's private message. Answered `Told`.
    Tell { to: String, text: String },
    /// Removes a member. Answered `Kicked`.
    Kick {
        name: String,
        reason: Option<String>,
    },
    /// Hands the lobby on. Answered `Handed`.
    Handover(Option<String>),
    /// The leader leaves: the hub hands the lobby on, or ends it if nobody
    /// can lead it. Answered `Left`, with the notices it had not passed on
    /// yet, for chat log `log`.
    Leave { log: Option<LogId> },
    /// Ends the lobby. Answered `Closed`, with the notices it had not
    /// passed on yet, for chat log `log`.
    Close {
        reason: CloseReason,
        log: Option<LogId>,
    },
    /// Tells every member how an invitation went.
    Invitation { name: String, status: InviteStatus },
    /// Answers a member's request `ERR`.
    Refuse {
        to: String,
        code: ErrorCode,
        text: String,
    },
    /// Admits an invitee that accepted on connection `conn`.
    Admit { name: String, conn: ConnId },
    /// A member comes back (`REJOIN`) on connection `conn`.
    Rejoin {
        claim: Box<Rejoin>,
        proven: Box<Proven>,
        conn: ConnId,
    },
    /// The leader's file line to `to`. Answered `FileSent`.
    File { to: String, line: FileLine },
}

/// Written by hand: the command's name and its words, not its sockets.
impl std::fmt::Debug for LobbyCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LobbyCommand::Start { inheritance, .. } => match inheritance {
                Some(_) => f.write_str("Resume"),
                None => f.write_str("Start"),
            },
            LobbyCommand::Say(text) => write!(f, "Say({text})"),
            LobbyCommand::Away(away) => write!(f, "Away({away:?})"),
            LobbyCommand::Members(what) => write!(f, "Members({what:?})"),
            LobbyCommand::Tell { to, text } => write!(f, "Tell({to}, {text})"),
            LobbyCommand::Kick { name, reason } => write!(f, "Kick({name}, {reason:?})"),
            LobbyCommand::Handover(to) => write!(f, "Handover({to:?})"),
            LobbyCommand::Leave { .. } => f.write_str("Leave"),
            LobbyCommand::Close { reason, .. } => write!(f, "Close({reason})"),
            LobbyCommand::Invitation { name, status } => write!(f, "Invitation({name}, {status})"),
            LobbyCommand::Refuse { to, text, .. } => write!(f, "Refuse({to}, {text})"),
            LobbyCommand::Admit { name, .. } => write!(f, "Admit({name})"),
            LobbyCommand::Rejoin { claim, .. } => write!(f, "Rejoin({})", claim.name),
            LobbyCommand::File { to, line } => write!(f, "File({to}, {line})"),
        }
    }
}

/// Why the core asks a hub who is in the lobby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum MembersFor {
    /// The user typed `/who`.
    Show,
    /// The leader's own `/invite name`, which needs `name` not in it.
    Invite(String),
    /// Whether the leader is left alone.
    EmptyCheck,
    /// The leader's `/send all`: everyone else is offered `OfferId`.
    Offer(OfferId),
}

/// A hub's answer to a `LobbyCommand` of lobby `lobby`.
#[derive(Debug)]
pub(super) enum LobbyAnswer {
    /// The hub runs, with the lobby's id if it can outlive its leader; or
    /// why it could not start.
    Started {
        lobby: u64,
        result: Result<Option<String>, String>,
    },
    Members {
        lobby: u64,
        what: MembersFor,
        names: Vec<String>,
    },
    /// The addressee's name as the lobby spells it, or why not sent.
    Told {
        lobby: u64,
        text: String,
        result: Result<String, ParseError>,
    },
    /// The name as the lobby spells it, or `None` if not in it.
    Kicked {
        lobby: u64,
        name: String,
        found: Option<String>,
    },
    Handed {
        lobby: u64,
        result: Result<Handed, String>,
    },
    /// The leader's file line went to the member named as the lobby
    /// spells it, with its seat if it has one; or why not.
    FileSent {
        lobby: u64,
        line: FileLine,
        result: Result<(String, Option<Seat>), ParseError>,
    },
    /// The leader left: the lobby went `to` a member, or ended (`None`).
    /// `notices` are those it had not passed on yet, which still go to
    /// chat log `log`.
    Left {
        log: Option<LogId>,
        to: Option<String>,
        notices: Vec<Notice>,
    },
    /// The lobby ended; `notices` are those it had not passed on yet,
    /// which still go to chat log `log`.
    Closed {
        log: Option<LogId>,
        notices: Vec<Notice>,
    },
}

/// The effects of the input being handled, in order.
#[derive(Debug, Default)]
pub(super) struct Effects(RefCell<Vec<Effect>>);

impl Effects {
    pub(super) fn push(&self, effect: Effect) {
        self.0.borrow_mut().push(effect);
    }

    /// One of the app's own lines, of any kind.
    pub(super) fn show(&self, line: ScreenLine) {
        self.push(Effect::Show(line));
    }

    /// A chat line, which the screen may drop.
    pub(super) fn chat(&self, line: ScreenLine) {
        self.push(Effect::Chat(line));
    }

    /// Appends `line` to the chat log `log`, if there is one.
    pub(super) fn log(&self, log: Option<LogId>, line: impl Into<String>) {
        if let Some(log) = log {
            self.push(Effect::Log {
                log,
                line: line.into(),
            });
        }
    }

    /// Shows and logs `event` as `role` sees it, through the one renderer.
    pub(super) fn event(&self, log: Option<LogId>, event: &LobbyEvent, role: Role<'_>) {
        let Lines {
            screen: shown,
            log: logged,
        } = render::lines(event, role);
        if let Some(logged) = logged {
            self.log(log, logged);
        }
        match shown {
            Some(Shown::Chat(line)) => self.chat(line),
            Some(Shown::Own(line)) => self.show(line),
            None => {}
        }
    }

    /// Everything pushed since the last call, oldest first.
    pub(super) fn take(&self) -> Vec<Effect> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}
