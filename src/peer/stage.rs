//! The stages of the user's session as values: where the app's core is
//! (a menu, waiting for the registry, starting a lobby, leading one, a
//! member of one), each with what that stage has.

use std::time::Instant;

use crate::crypto::IdentityKey;
use crate::wire::{Contact, ToLeader, ToMember};

use super::away_notes::AwayList;
use super::effect::{Effect, Effects, LogId};
use super::invitations::Invitations;
use super::msg::Move;
use super::standing::Standing;

#[derive(Clone, Copy)]
pub(super) enum Purpose {
    Register,
    Join,
}

pub(super) enum Stage {
    Welcome,
    Name(Purpose),
    Password(Purpose, String),
    /// A new password typed once without echo, asked again to be sure.
    Repeat {
        name: String,
        password: String,
    },
    Menu,
    Search,
    ConfirmAdd(Contact),
    /// A request is with the registry; typed lines wait for its reply.
    Waiting(Wait),
    /// A lobby's hub asked to start; typed lines wait for its answer.
    Starting(Starting),
    Leading(Leading),
    Member(Membership),
}

/// What a menu waits for the registry to answer, with what the answer needs.
pub(super) enum Wait {
    /// `NAME`: whether a name to register is free, before its password is
    /// asked.
    NameFree(String),
    /// `REGISTER` or `JOIN` as `name`.
    LogIn(Purpose, String),
    /// The online list.
    List,
    /// A search from the menu.
    Search,
}

/// A lobby just started: the tickets for its first chat requests are with
/// the registry. Typed lines wait until they are all back.
pub(super) struct Opening {
    /// How many tickets are still to come.
    pub(super) asked: usize,
    /// Who can be invited, with the ticket that proves we invite them.
    pub(super) ready: Vec<(Contact, String)>,
}

/// A lobby whose hub the driver starts (`LobbyCommand::Start`), until the
/// hub answers `Started`.
pub(super) struct Starting {
    /// The core's number for the lobby, which its commands carry.
    pub(super) id: u64,
    pub(super) then: Start,
}

/// What a lobby being started becomes once its hub runs.
pub(super) enum Start {
    /// A new lobby, whose first invitees are the conversation list.
    Fresh,
    /// A lobby this member takes over, after a handover or a lost leader.
    TakeOver {
        membership: Box<Membership>,
        why: Move,
    },
}

/// A lobby we lead. Its hub is the driver's (`Effect::Lobby`).
pub(super) struct Leading {
    /// The core's number for the lobby, which its commands carry.
    pub(super) id: u64,
    /// The lobby's id, in a lobby that can outlive its leader.
    pub(super) lobby_id: Option<String>,
    pub(super) log: Option<LogId>,
    /// Chat requests not answered yet.
    pub(super) invitations: Invitations,
    /// Set until the first chat requests have their tickets.
    pub(super) opening: Option<Opening>,
    /// Who is in the lobby besides us, as the hub's notices tell it: for
    /// Tab to complete (at most `MAX_MEMBERS`).
    pub(super) members: Vec<String>,
    /// Whether anyone has come in yet: until then a line said reaches
    /// nobody now, and the leader is told so.
    pub(super) someone_joined: bool,
    /// Set when `/end` asked the user, so the next line is the answer.
    pub(super) asked_to_end: bool,
    /// Who of the members is away, as the hub's notices tell it.
    pub(super) away: AwayList,
}

pub(super) struct Membership {
    pub(super) id: u64,
    pub(super) leader: String,
    pub(super) members: Vec<String>,
    /// Who in the lobby is away, as the leader's lines tell it.
    pub(super) away: AwayList,
    /// Opened when the leader admits us (`MEMBERS`): a request withdrawn
    /// before that leaves no log.
    pub(super) log: Option<LogId>,
    /// The credential, roster and numbered messages that let the lobby
    /// outlive its leader.
    pub(super) standing: Box<Standing>,
    pub(super) phase: Phase,
}

/// Where a membership stands with its leader; each phase has what it needs.
/// Its connection (the outbox and the leader's lines) is the driver's, by
/// the membership's id, while the phase is `Invited`, `Linking` or
/// `Admitted`.
pub(super) enum Phase {
    /// We said `OK`; the leader has not sent `MEMBERS` yet.
    Invited,
    /// The leader sent `MEMBERS`.
    Admitted {
        /// True while the leader's `HISTORY` lines are being shown, so the
        /// first live line after them can say where they end.
        earlier: bool,
    },
    /// A rejoiner looks for the lobby's leader: typed lines wait.
    /// The driver stops the rejoiner when the stage no longer waits for
    /// it (the user left, or quit).
    Rejoining {
        /// Why we look for a leader.
        why: Move,
    },
    /// `leader` took us back; the driver starts the link to it
    /// (`Worker::MemberLink`), and once it runs, `first` (its `MEMBERS`)
    /// is shown.
    Linking {
        leader: String,
        first: ToMember,
        why: Move,
    },
}

impl Membership {
    /// Sends `line` to the leader, if we are connected to one; while
    /// rejoining there is none, and the line is lost.
    pub(super) fn send(&self, out: &Effects, line: ToLeader) {
        match &self.phase {
            Phase::Invited | Phase::Admitted { .. } => out.push(Effect::ToLeader(self.id, line)),
            Phase::Rejoining { .. } | Phase::Linking { .. } => {}
        }
    }

    pub(super) fn is_rejoining(&self) -> bool {
        matches!(self.phase, Phase::Rejoining { .. } | Phase::Linking { .. })
    }

    /// The leader's `MEMBERS` came: an invited member is admitted.
    pub(super) fn admit(&mut self) {
        if let Phase::Invited = &self.phase {
            self.phase = Phase::Admitted { earlier: false };
        }
    }

    /// Whether the driver is to keep this membership's connection.
    pub(super) fn is_linked(&self) -> bool {
        !matches!(self.phase, Phase::Rejoining { .. })
    }
}

/// A chat request the user is asked about, or whose ticket the registry
/// checks, by the driver's number for it.
pub(super) struct Pending {
    pub(super) request: u64,
    pub(super) from: String,
    /// The key the leader proved in the TLS handshake; none in plain text.
    pub(super) proved: Option<IdentityKey>,
    /// When it came: the answer window (our invite timeout) began then.
    pub(super) arrived: Instant,
}
