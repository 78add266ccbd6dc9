//! The messages between the peer's threads: what the workers (the chat
//! connections, the inviters, the rejoiners, the member readers) tell the
//! app thread, and what the app thread answers them.
//!
//! This is the bottom of `peer/`: it imports no other peer module, so the
//! workers and the app both depend on it and nothing depends back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::client::{Refused, Vouched};
use crate::conn::{Conn, LeaderConn, MemberConn, Stream};
use crate::crypto::{IdentityKey, PeerKey};
use crate::files::PartFile;
use crate::lobby::Proven;
use crate::wire::{
    BusyReason, Contact, Fetch, FileOffer, InviteStatus, OfferId, Rejoin, Sending, ToLeader,
    ToMember,
};

/// What background threads tell the app thread.
pub(super) enum Event {
    /// A chat request arrived; `answer` waits for the user's decision.
    /// `proved` is the key the leader proved in the TLS handshake (none in
    /// plain text), to be compared with the key `CHECK` vouches for.
    Invitation {
        from: String,
        ticket: Option<String>,
        proved: Option<IdentityKey>,
        answer: Sender<ChatAnswer>,
    },
    /// An invitee answered one of our chat requests (or did not).
    Invited {
        lobby: u64,
        name: String,
        outcome: Outcome,
    },
    /// A member of a lobby came back (`REJOIN`) on our chat listener,
    /// having proven a key as `proven` says.
    /// Boxed: a claim and its proof are large beside the other events.
    Rejoin {
        claim: Box<Rejoin>,
        proven: Box<Proven>,
        conn: MemberConn,
    },
    /// A peer asks us to prove our seat's key (`PROVE`): the lobby we hold
    /// a seat in and our name, if we do.
    Prove {
        reply: Sender<Option<(String, String)>>,
    },
    /// A rejoiner's walk of the roster ended (`migration.rs`).
    Rejoined { lobby: u64, outcome: Rejoined },
    /// The chat request that `answer` would answer is no longer open: the
    /// leader closed the connection, or it `expired` unanswered.
    Withdrawn {
        answer: Sender<ChatAnswer>,
        expired: bool,
    },
    /// The registry worker's reply to a `RegistryAsk`.
    Registry(RegistryReply),
    /// What the registry worker found about a key the registry vouched
    /// for; it comes before the reply that carried the key.
    Keys(KeyNews),
    /// What a file's thread (summing, fetching, sending) came to.
    File(FileNews),
    /// A peer fetches a file we offered (`FETCH` on the chat listener),
    /// having proved `proved` in the TLS handshake (none in plain text).
    Fetch {
        fetch: Fetch,
        proved: Option<IdentityKey>,
        conn: Box<FileConn>,
    },
}

/// A transfer connection after its `FETCH`: the sender answers `SENDING`
/// (or `ERR`), then the bytes.
pub(super) type FileConn = Conn<Stream, String, Sending>;

/// Which way a transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Way {
    Sending,
    Receiving,
}

/// One transfer: offer `id` with `peer`, `way`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct TransferId {
    pub(super) id: OfferId,
    pub(super) peer: String,
    pub(super) way: Way,
}

/// What the files' threads tell the app, and what the driver answers at
/// once about a file to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FileNews {
    /// The file at `path` was read and summed to be offered to `to` (all
    /// the others in the lobby if none), or why it could not be.
    Hashed {
        path: PathBuf,
        to: Option<String>,
        result: Result<FileOffer, String>,
    },
    /// Room is made for `offer` from `from`: its `.part`, and the byte a
    /// kept `.part` lets it resume at (answered at once).
    Prepared {
        from: String,
        offer: FileOffer,
        part: PartFile,
        resume: u64,
    },
    /// `offer` from `from` cannot be taken, and why (answered at once).
    Unprepared {
        from: String,
        offer: FileOffer,
        why: String,
    },
    /// A transfer's bytes began at byte `at`.
    Started { transfer: TransferId, at: u64 },
    /// A transfer passed a quarter of its file (`pct` 25, 50, 75, 100).
    Quarter { transfer: TransferId, pct: u8 },
    /// A transfer has `done` bytes of its file: told at most a few times a
    /// second (`progress::Throttle`), and at the last byte.
    Progress { transfer: TransferId, done: u64 },
    /// A transfer ended.
    Ended {
        transfer: TransferId,
        result: Result<Done, Failure>,
    },
}

/// Why a transfer failed: the line for the user, and, for a receipt
/// refused because of what the sender sent, what the sender is told
/// (never a path of ours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub why: String,
    pub to_sender: Option<String>,
}

impl From<String> for Failure {
    fn from(why: String) -> Failure {
        Failure {
            why,
            to_sender: None,
        }
    }
}

impl From<&str> for Failure {
    fn from(why: &str) -> Failure {
        Failure::from(why.to_string())
    }
}

/// How a transfer that went well ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Done {
    /// Received, checked, and saved at this path.
    Saved(PathBuf),
    /// This many bytes sent.
    Sent(u64),
}

/// What the keyring found about a vouched key that the user must hear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyNews {
    /// A known user's key is not the one remembered.
    Changed(KeyChange),
    /// The keys could not be kept (the known peers' file), and why.
    Trouble(String),
}

/// A known user whose vouched key is not the one remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyChange {
    pub(super) name: String,
    pub(super) pinned: PeerKey,
    pub(super) presented: PeerKey,
}

/// Who asked the registry for a list or a search: the menu waits for the
/// reply; a lobby goes on and shows it when it comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Asker {
    Menu,
    Lobby,
}

/// What the app thread asks the registry, with what its reply needs: the
/// registry worker asks, and sends back a `RegistryReply` with the same
/// context, so that the app thread never waits on the registry.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum RegistryAsk {
    /// Whether `name` is free to register (`NAME`).
    NameFree(String),
    Register {
        name: String,
        password: String,
    },
    /// Join with the chat port others reach us on.
    Join {
        name: String,
        password: String,
        port: u16,
    },
    List(Asker),
    Search {
        name: String,
        asker: Asker,
    },
    /// A ticket to invite `name` into lobby `lobby`, and where `name` is
    /// now (the address on the conversation list may be old); `by` is the
    /// member who asked for it, if one did.
    Ticket {
        lobby: u64,
        name: String,
        by: Option<String>,
    },
    /// The user is away with this text (`AWAY`), or back (`None`).
    Away(Option<String>),
    /// The ticket of the chat request `request` (`CHECK`).
    Check {
        request: u64,
        from: String,
        ticket: String,
    },
}

/// Written by hand so that a password never reaches a test's output or a
/// debug line.
impl std::fmt::Debug for RegistryAsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryAsk::NameFree(name) => write!(f, "NameFree({name})"),
            RegistryAsk::Register { name, .. } => write!(f, "Register({name}, <password>)"),
            RegistryAsk::Join { name, port, .. } => {
                write!(f, "Join({name}, <password>, {port})")
            }
            RegistryAsk::List(asker) => write!(f, "List({asker:?})"),
            RegistryAsk::Search { name, asker } => write!(f, "Search({name}, {asker:?})"),
            RegistryAsk::Ticket { lobby, name, by } => {
                write!(f, "Ticket({lobby}, {name}, {by:?})")
            }
            RegistryAsk::Check {
                request,
                from,
                ticket,
            } => write!(f, "Check({request}, {from}, {ticket})"),
            RegistryAsk::Away(away) => write!(f, "Away({away:?})"),
        }
    }
}

/// The registry's reply to a `RegistryAsk`, with the ask's context.
pub(super) enum RegistryReply {
    NameFree {
        name: String,
        result: Result<(), Refused>,
    },
    Registered(Result<String, Refused>),
    Joined(Result<Contact, Refused>),
    List {
        asker: Asker,
        result: Result<Vec<Contact>, Refused>,
    },
    Search {
        name: String,
        asker: Asker,
        result: Result<Contact, Refused>,
    },
    Ticket {
        lobby: u64,
        name: String,
        by: Option<String>,
        result: Result<(Contact, String), NotInvited>,
    },
    Checked {
        request: u64,
        from: String,
        verdict: Result<Vouched, Refused>,
    },
    Away(Result<(), Refused>),
}

/// Why no chat request could be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum NotInvited {
    Offline,
    /// The registry knows no such user: a typing mistake, most likely.
    NotRegistered,
    Unreachable(String),
}

impl NotInvited {
    /// What the lobby's members are told: nothing of a name nobody has,
    /// since no request went out and nobody was there to be reached.
    pub(super) fn status(&self) -> Option<InviteStatus> {
        match self {
            NotInvited::Offline => Some(InviteStatus::Offline),
            NotInvited::NotRegistered => None,
            NotInvited::Unreachable(_) => Some(InviteStatus::Unreachable),
        }
    }
}

impl std::fmt::Display for NotInvited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotInvited::Offline => f.write_str("offline"),
            NotInvited::NotRegistered => f.write_str("not registered (check the name)"),
            NotInvited::Unreachable(why) => write!(f, "unreachable ({why})"),
        }
    }
}

/// What the member reader of a lobby we are a member of tells the app,
/// over that membership's own bounded channel.
pub(super) enum FromLeader {
    /// A line from the leader.
    Line(ToMember),
    /// The connection to the leader closed, or went `silent` too long.
    Gone { silent: bool },
}

/// The user's answer to a chat request.
pub(super) enum ChatAnswer {
    Accept {
        outbox: Receiver<ToLeader>,
        /// Where the member reader sends the leader's lines.
        feed: Sender<FromLeader>,
    },
    Reject,
    Busy(BusyReason),
}

/// How a chat request we sent ended. The inviter sends the connection;
/// the driver keeps it and hands the core its number (`C`).
pub(super) enum Outcome<C = Box<MemberConn>> {
    Accepted {
        addr: SocketAddr,
        key: Option<PeerKey>,
        // Boxed: a connection is far larger than the other outcomes.
        conn: C,
    },
    Rejected,
    Busy(BusyReason),
    NoAnswer,
    Unreachable(String),
}

impl<C> Outcome<C> {
    /// The same outcome with its connection replaced by `keep(conn)`.
    pub(super) fn map_conn<D>(self, keep: impl FnOnce(C) -> D) -> Outcome<D> {
        match self {
            Outcome::Accepted { addr, key, conn } => Outcome::Accepted {
                addr,
                key,
                conn: keep(conn),
            },
            Outcome::Rejected => Outcome::Rejected,
            Outcome::Busy(reason) => Outcome::Busy(reason),
            Outcome::NoAnswer => Outcome::NoAnswer,
            Outcome::Unreachable(why) => Outcome::Unreachable(why),
        }
    }
}

/// How a rejoiner's walk of the roster ended. The rejoiner sends the
/// connection; the driver keeps it and hands the core its number (`C`).
pub(super) enum Rejoined<C = Box<LeaderConn>> {
    /// A peer took us back: it leads now. `first` is its `MEMBERS` line.
    Admitted {
        leader: String,
        /// Boxed: a connection carries its buffers, and the other
        /// outcomes nothing.
        conn: C,
        first: ToMember,
    },
    /// Every peer before us in the roster is gone: we lead.
    Lead,
    /// Nobody took us back before the deadline.
    GaveUp,
    /// The rejoiner's thread could not start.
    NoThread(String),
}

impl<C> Rejoined<C> {
    /// The same outcome with its connection replaced by `keep(conn)`.
    pub(super) fn map_conn<D>(self, keep: impl FnOnce(C) -> D) -> Rejoined<D> {
        match self {
            Rejoined::Admitted {
                leader,
                conn,
                first,
            } => Rejoined::Admitted {
                leader,
                conn: keep(conn),
                first,
            },
            Rejoined::Lead => Rejoined::Lead,
            Rejoined::GaveUp => Rejoined::GaveUp,
            Rejoined::NoThread(why) => Rejoined::NoThread(why),
        }
    }
}

/// Why a member is on its way to another leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Move {
    /// The connection to `old` broke.
    Lost { old: String },
    /// `old` handed the lobby to `to`.
    Handover { old: String, to: String },
}

/// The timers of a chat connection, from `PeerConfig`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    /// How long the leader may take to send `CHAT_REQUEST`.
    pub(super) request: Duration,
    /// After this long with nothing sent to the leader, send `HELLO`.
    pub(super) hello: Duration,
    /// After this long with nothing from the leader, it is gone.
    pub(super) silence: Duration,
}
