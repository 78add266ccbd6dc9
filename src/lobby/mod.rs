//! The lobby a leader runs: the thread that owns the membership and relays
//! every message to every member. This module owns who is in a lobby and every
//! byte written to a member. One hub thread holds the membership and is the
//! only thread that writes to member sockets; one reader thread per member
//! turns lines into events for it. Nothing else may change the membership or
//! write to a member, and the hub must never block on a member's socket: a
//! member that stops reading is dropped instead of stalling everyone else.
//! Its rules are a sans-IO state (one event and the time in, effects out)
//! that the hub thread drives.

mod history;
mod hub;
mod member;
pub mod roster;
mod rules;
mod state;

pub use history::Said;
pub use roster::{Proven, Roster, Seat};
pub use rules::InvitePolicy;

use std::io;
use std::net::SocketAddr;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::conn::MemberConn;
use crate::crypto::seal::{self, Binding, SealSecret, Sealed};
use crate::crypto::{PeerKey, SealKey};
use crate::trace::Trace;
use crate::wire::{self, CloseReason, Contact, ErrorCode, FileLine, InviteStatus, ParseError};

use hub::{Event, Hub, Inboxes};

/// How many events may wait for the hub. A reader that finds the channel full
/// blocks, which is the backpressure that keeps one flooding member from
/// growing the hub's memory without bound.
const CHANNEL_CAPACITY: usize = 4096;

/// A lobby connection with nothing sent for this long gets `HELLO`.
pub const DEFAULT_LOBBY_HELLO_INTERVAL: Duration = Duration::from_secs(10);
/// A lobby connection with nothing heard for this long is gone.
pub const DEFAULT_SILENCE_TIMEOUT: Duration = Duration::from_secs(30);
/// How many messages a lobby replays to a member it admits.
pub const DEFAULT_HISTORY: usize = 20;
/// The most messages a lobby keeps for members admitted later, whatever
/// `LobbyConfig::history` says: about a megabyte of text.
pub const MAX_HISTORY: usize = 1000;
/// How many messages a lobby that can outlive its leader keeps, whatever
/// `history` says, for members who come back after their connection broke.
pub const KEPT_FOR_RETURNS: usize = 200;

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
    /// How many of the last messages a newly admitted member gets (0: none,
    /// at most `MAX_HISTORY`).
    pub history: usize,
    /// Whether a member's `INVITE` reaches the leader's peer.
    pub invites: InvitePolicy,
    /// Where the leader's peer takes chat connections. With it, the lobby
    /// can outlive its leader: members get credentials, the roster and
    /// numbered messages (`CREDENTIAL`, `SEAT`, `SEQ`), and may `REJOIN`.
    pub succession: Option<SocketAddr>,
    /// The leader's public keys: its seat's, which it proves to members
    /// who come back to it. Without them, the leader has no seat.
    pub key: Option<PeerKey>,
    /// The leader's private key for sealed messages: its own `/msg` is
    /// sealed to its recipient with it, and members' sealed messages to the
    /// leader open with it. Without it, the leader's messages are plain.
    pub seal: Option<SealSecret>,
}

impl LobbyConfig {
    pub fn new(leader: impl Into<String>) -> LobbyConfig {
        LobbyConfig {
            leader: leader.into(),
            max_queued_bytes: 1 << 20,
            trace: Trace::off(),
            retry_interval: Duration::from_millis(2),
            close_timeout: Duration::from_secs(1),
            hello_interval: DEFAULT_LOBBY_HELLO_INTERVAL,
            silence_timeout: DEFAULT_SILENCE_TIMEOUT,
            history: DEFAULT_HISTORY,
            invites: InvitePolicy::Anyone,
            succession: None,
            key: None,
            seal: None,
        }
    }
}

/// What a leader's peer that hands its lobby on keeps: enough to come back
/// to it as a member (`REJOIN`), and to show who leads now.
#[derive(Debug, Clone)]
pub struct Handed {
    /// The new leader.
    pub to: Seat,
    /// The roster as the lobby's members have it, the new leader first.
    pub roster: Roster,
    /// The messages kept, numbered.
    pub said: Vec<Said>,
}

/// What a member that takes over a lobby brings to its new hub.
#[derive(Debug, Clone)]
pub struct Inheritance {
    /// The roster, the new leader first.
    pub roster: Roster,
    /// The messages it has, numbered, oldest first.
    pub said: Vec<Said>,
}

/// What the hub tells the leader's own user interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A member was admitted.
    Joined(String),
    /// A member said something.
    Msg { from: String, text: String },
    /// A member left: it sent `LEAVE`.
    Left(String),
    /// A member's connection broke without `LEAVE`; it may come back.
    Lost(String),
    /// A member was dropped because it stopped reading.
    Dropped(String),
    /// A member was dropped because nothing came from it for too long.
    Silent(String),
    /// A member was dropped because it sent a line longer than `MAX_LINE`.
    TooLong(String),
    /// The leader removed a member (`Lobby::kick`).
    Kicked {
        name: String,
        reason: Option<String>,
    },
    /// A member sent the leader a private message.
    Private { from: String, text: String },
    /// A member sent the leader a sealed private message in `lobby`; `key`
    /// is its seat's, which the seal is checked against.
    Sealed {
        lobby: String,
        from: String,
        key: Option<PeerKey>,
        sealed: Sealed,
    },
    /// A member's file offer to the leader, or its answer to the leader's,
    /// with the sender's seat if it has one: where its file is fetched.
    File {
        from: String,
        line: FileLine,
        seat: Option<Seat>,
    },
    /// A member asks the leader's peer to invite `name`, and the lobby's
    /// policy lets it: the peer invites, or answers `Lobby::refuse`.
    InviteAsked { by: String, name: String },
    /// A member asked to invite `name` under `--invites leader`, and was
    /// told only the leader invites.
    InviteDenied { by: String, name: String },
    /// A member is away, with this text (maybe empty).
    Away { name: String, text: String },
    /// A member is back.
    Back(String),
}

/// A running hub. Dropping it without `close` closes it with reason `LEADER_LEFT`.
pub struct Lobby {
    /// To the hub's control inbox, which it always reads: the leader never
    /// waits behind the members' lines.
    events: Sender<Event>,
    leader: String,
    /// The leader's key for sealed messages (`LobbyConfig::seal`).
    seal: Option<SealSecret>,
    /// The lobby's id, in a lobby that can outlive its leader.
    id: Option<String>,
    /// `None` once the hub has been closed and joined, so that `close`
    /// followed by `Drop` closes only once.
    hub: Option<JoinHandle<Vec<Notice>>>,
}

impl Lobby {
    /// Starts the hub thread. Notices go to `notices`, which may be
    /// bounded: the hub never waits for it, but reads no member's line
    /// while notices wait for room, so a flood is held back in TCP. Give
    /// each lobby its own channel, so nothing of one shows up in another.
    /// Fails only if the system cannot start a thread.
    pub fn start(config: LobbyConfig, notices: Sender<Notice>) -> io::Result<Lobby> {
        Lobby::start_hub(config, notices, None)
    }

    /// Starts the hub of a lobby this peer takes over, after a handover or
    /// when its leader was lost: the members come back with `REJOIN`.
    pub fn resume(
        config: LobbyConfig,
        notices: Sender<Notice>,
        inheritance: Inheritance,
    ) -> io::Result<Lobby> {
        Lobby::start_hub(config, notices, Some(inheritance))
    }

    fn start_hub(
        config: LobbyConfig,
        notices: Sender<Notice>,
        inheritance: Option<Inheritance>,
    ) -> io::Result<Lobby> {
        let (from_readers, readers) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        // Unbounded, but only the leader's own requests go through it.
        let (events, control) = crossbeam_channel::unbounded();
        let leader = config.leader.clone();
        let seal = config.seal.clone();
        let hub = Hub::new(config, notices, from_readers, inheritance)?;
        let id = hub.lobby_id();
        let hub = thread::Builder::new()
            .name("lobby-hub".to_string())
            .spawn(move || hub.run(Inboxes { control, readers }))?;
        Ok(Lobby {
            events,
            leader,
            seal,
            id,
            hub: Some(hub),
        })
    }

    /// Admits a member whose `OK` was just read from `conn`, which only the
    /// hub will write to from now on.
    pub fn admit(&self, name: String, conn: MemberConn) {
        // If the hub is gone the event comes back inside the error and is
        // dropped, which closes the connection: the right end for it.
        let _ = self.events.send(Event::Admit {
            name,
            chat_addr: None,
            key: None,
            conn,
        });
    }

    /// Admits a member, as `admit`, that listens for chat requests at
    /// `chat_addr` (where its invitation reached it), so the lobby knows
    /// every member's contact (`contacts`). With its public keys (`key`:
    /// under TLS the connection's, in plain text what its `OK` announced),
    /// it gets a seat, so it can come back, lead, and be sent sealed
    /// messages.
    pub fn admit_from(
        &self,
        name: String,
        chat_addr: SocketAddr,
        key: Option<PeerKey>,
        conn: MemberConn,
    ) {
        let _ = self.events.send(Event::Admit {
            name,
            chat_addr: Some(chat_addr),
            key,
            conn,
        });
    }

    /// A member comes back with `claim` on a connection it opened to our
    /// chat port, having proven a key as `proven` says: admitted if that is
    /// the key of the seat it claims, refused with `ERR` otherwise.
    pub fn rejoin(&self, claim: wire::Rejoin, proven: Proven, conn: MemberConn) {
        let _ = self.events.send(Event::Rejoin {
            claim,
            proven,
            conn,
        });
    }

    /// The lobby's id, in a lobby that can outlive its leader: what its
    /// proofs of key are bound to.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The lobby's id and `name`'s seat (as the lobby spells the name), if
    /// the lobby has one for it.
    pub fn seat(&self, name: &str) -> Option<(String, Seat)> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        let name = name.to_string();
        self.events.send(Event::Seat { name, reply }).ok()?;
        answer.recv().ok().flatten()
    }

    /// Hands the lobby to `to` (by default the member admitted earliest):
    /// every member is told `HANDOVER`, and the hub ends without `CLOSED`.
    /// Returns what this peer needs to come back as a member, or why not.
    pub fn handover(&mut self, to: Option<String>) -> Result<Handed, String> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        let gone = || "the lobby has ended".to_string();
        self.events
            .send(Event::Handover { to, reply })
            .map_err(|_| gone())?;
        let handed = answer.recv().unwrap_or_else(|_| Err(gone()))?;
        if let Some(hub) = self.hub.take() {
            let _ = hub.join();
        }
        Ok(handed)
    }

    /// The members whose chat address the lobby knows, in the order they
    /// were admitted: where each can be reached without the registry.
    pub fn contacts(&self) -> Vec<Contact> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        if self.events.send(Event::Contacts(reply)).is_err() {
            return Vec::new();
        }
        answer.recv().unwrap_or_default()
    }

    /// The leader is away with `text` (`Some`, maybe empty) or back: every
    /// member hears `AWAY <leader> [text]` or `BACK <leader>`, and a
    /// newcomer learns it after `MEMBERS`. Text `wire::check_away` refuses
    /// is not sent.
    pub fn set_away(&self, away: Option<String>) {
        if away
            .as_deref()
            .is_some_and(|text| wire::check_away(text).is_err())
        {
            return;
        }
        let _ = self.events.send(Event::Away(away));
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

    /// Tells every member how an invitation into this lobby went.
    pub fn invitation(&self, name: String, status: InviteStatus) {
        let _ = self.events.send(Event::Invitation { name, status });
    }

    /// Answers the member `to` `ERR <code> <text>`, as the hub answers a
    /// line it refuses: for a request the leader's peer turned down.
    pub fn refuse(&self, to: String, code: ErrorCode, text: String) {
        let _ = self.events.send(Event::Refuse { to, code, text });
    }

    /// The leader's private message to `to`. Returns the addressee's name as
    /// the lobby spells it, or why it cannot be sent.
    pub fn tell(&self, to: String, text: String) -> Result<String, ParseError> {
        wire::check_text(&text)?;
        let text = self.sealed_for(&to, text)?;
        let (reply, answer) = crossbeam_channel::bounded(1);
        let gone = || ParseError::new(ErrorCode::NotInLobby, "the lobby has ended");
        self.events
            .send(Event::Private { to, text, reply })
            .map_err(|_| gone())?;
        answer.recv().unwrap_or_else(|_| Err(gone()))
    }

    /// The leader's file line (an offer or an answer) to the member `to`.
    /// Returns the addressee's name as the lobby spells it, or why not.
    pub fn tell_file(&self, to: String, line: FileLine) -> Result<String, ParseError> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        let gone = || ParseError::new(ErrorCode::NotInLobby, "the lobby has ended");
        let text = state::PrivateText::File(line);
        self.events
            .send(Event::Private { to, text, reply })
            .map_err(|_| gone())?;
        answer.recv().unwrap_or_else(|_| Err(gone()))
    }

    /// `text` sealed to `to`'s seat key, from the leader's, if both have
    /// keys; plain otherwise (a member with no key, a leader with none).
    fn sealed_for(&self, to: &str, text: String) -> Result<state::PrivateText, ParseError> {
        let Some(secret) = &self.seal else {
            return Ok(state::PrivateText::Plain(text));
        };
        let Some((lobby, seat)) = self.seat(to) else {
            return Ok(state::PrivateText::Plain(text));
        };
        let sealed = seal_to(
            secret,
            &seat.key.seal,
            &lobby,
            &self.leader,
            &seat.name,
            &text,
        )?;
        Ok(state::PrivateText::Sealed(sealed))
    }

    /// Removes the member `name`, whose lobby ends with `CLOSED KICKED
    /// [<reason>]`; the others get `KICKED` and `LEFT`. Returns the name as
    /// the lobby spells it, or `None` if no such member is in it.
    pub fn kick(&self, name: String, reason: Option<String>) -> Option<String> {
        // A reason that could not go on a line is left out rather than
        // letting the kick fail.
        let reason = reason.filter(|why| wire::check_reason(why).is_ok());
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.events
            .send(Event::Kick {
                name,
                reason,
                reply,
            })
            .ok()?;
        answer.recv().ok().flatten()
    }

    /// Everyone in the lobby, the leader first.
    pub fn members(&self) -> Vec<String> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        if self.events.send(Event::Members(reply)).is_err() {
            return vec![self.leader.clone()];
        }
        answer.recv().unwrap_or_else(|_| vec![self.leader.clone()])
    }

    /// The leader leaves, and the lobby goes on without it: it is handed to
    /// the member `handover` would choose, and every member hears
    /// `LEFT <leader> LEFT`, then `HANDOVER`. With nobody who can lead it,
    /// it ends with `CLOSED LEADER_LEFT`. Then all connections close and
    /// every thread is joined, as by `close`. Returns who leads now, if
    /// anyone, and the notices the `notices` channel had no room for.
    pub fn leave(mut self) -> (Option<String>, Vec<Notice>) {
        let Some(hub) = self.hub.take() else {
            return (None, Vec::new());
        };
        let (reply, answer) = crossbeam_channel::bounded(1);
        let _ = self.events.send(Event::Leave(reply));
        let to = answer.recv().ok().flatten();
        (to, hub.join().unwrap_or_default())
    }

    /// Ends the lobby: every member gets `CLOSED <reason>`, then all
    /// connections close and every thread is joined. Returns the notices
    /// the `notices` channel had no room for, after those it holds.
    pub fn close(mut self, reason: impl Into<CloseReason>) -> Vec<Notice> {
        self.shut(reason.into())
    }

    /// The one way a lobby ends, whether by `close` or by `Drop`.
    fn shut(&mut self, reason: CloseReason) -> Vec<Notice> {
        let Some(hub) = self.hub.take() else {
            return Vec::new();
        };
        // The hub may only be gone if it panicked; then there is nobody left
        // to tell, and the join below reports nothing we could act on.
        let _ = self.events.send(Event::Close(reason));
        hub.join().unwrap_or_default()
    }
}

impl Drop for Lobby {
    fn drop(&mut self) {
        let _ = self.shut(CloseReason::LeaderLeft);
    }
}

/// `text` sealed by `sender` (named `from`) to `recipient`'s key, bound to
/// the lobby and both names; refused if it would not fit on a line.
pub fn seal_to(
    sender: &SealSecret,
    recipient: &SealKey,
    lobby: &str,
    from: &str,
    to: &str,
    text: &str,
) -> Result<Sealed, ParseError> {
    if text.len() > wire::MAX_SEALED_TEXT {
        return Err(ParseError::new(
            ErrorCode::TextTooLong,
            format!(
                "a sealed message holds at most {} bytes",
                wire::MAX_SEALED_TEXT
            ),
        ));
    }
    let binding = Binding {
        lobby,
        sender: from,
        recipient: to,
    };
    seal::seal(sender, recipient, &binding, text)
        .map_err(|err| ParseError::new(ErrorCode::BadArgs, err.to_string()))
}
