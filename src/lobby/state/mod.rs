//! The lobby's rules apart from its sockets: who is in it, its roster and
//! history, who may say what, and how it goes on without its leader.
//!
//! `LobbyState` takes one `LobbyEvent` at a time, with the time it is
//! handled (`Now`) and, where a rule needs it, randomness the caller drew,
//! and returns what should happen as `LobbyEffect`s: a line for one member,
//! a line for all, a member to drop and why, a notice for the leader's user
//! interface. The hub thread (`lobby/hub.rs`) carries them out. This module
//! never reads a clock, touches a socket, starts a thread or holds a
//! channel, so every rule here is tested as data.

use std::collections::BTreeMap;
use std::mem;
use std::time::Instant;

use chrono::{DateTime, Utc};
use core::net::SocketAddr;

use crate::crypto::PeerKey;
use crate::crypto::seal::Sealed;
use crate::wire::FileLine;
use crate::wire::{
    CloseReason, Contact, ErrorCode, InviteStatus, LeftReason, ParseError, Rejoin, ToLeader,
};
use crate::wire::{Succession, ToMember};

use super::history::History;
use super::roster::{Proven, Roster, Seat};
use super::rules::Asks;
use super::{Inheritance, KEPT_FOR_RETURNS, LobbyConfig, Notice};

mod admission;
mod commands;
mod succession;
#[cfg(test)]
mod tests;

/// The hub's name for a member: admission order, never reused, so the
/// membership iterates in the order `MEMBERS` lists.
pub(super) type MemberId = u64;

/// When an event is handled: the monotonic time the rules measure with,
/// and the wall-clock time a message is stamped with (`HISTORY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Now {
    pub(super) at: Instant,
    pub(super) utc: DateTime<Utc>,
}

/// Everything the lobby's rules react to. The hub turns its own events
/// (which carry sockets and reply channels) into these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LobbyEvent {
    /// A newcomer on connection `id`, listening for chat requests at
    /// `chat_addr` if the leader knows, with the public keys it proved or
    /// announced on its invitation (`key`): both make its seat, in a lobby
    /// that can outlive its leader.
    Admit {
        id: MemberId,
        name: String,
        chat_addr: Option<SocketAddr>,
        key: Option<PeerKey>,
    },
    /// A member comes back (`REJOIN`) on connection `id`, having proven a
    /// key as `proven` says.
    Rejoin {
        id: MemberId,
        claim: Rejoin,
        proven: Proven,
    },
    /// A line from a member, parsed.
    Line {
        id: MemberId,
        line: Result<ToLeader, ParseError>,
    },
    /// A line over `MAX_LINE`: the member's stream cannot be framed any more.
    TooLong(MemberId),
    /// A member's connection ended or failed.
    Gone(MemberId),
    /// A member's backlog would pass the limit: it has stopped reading.
    Overflowed(MemberId),
    /// The leader says something.
    Say(String),
    /// `INVITATION <name> <status>` to everyone.
    Invitation { name: String, status: InviteStatus },
    /// The leader is away with this text (`Some`, maybe empty), or back.
    LeaderAway(Option<String>),
    /// `ERR` to one member, by name.
    Refuse {
        to: String,
        code: ErrorCode,
        text: String,
    },
    /// Time to say `HELLO` to members that heard nothing for a while, and to
    /// drop members that said nothing for too long.
    Tick,
}

/// What the lobby's rules want done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LobbyEffect {
    /// One line for one member (or for a connection about to be turned away).
    ToMember(MemberId, ToMember),
    /// One line for every member but `except`.
    ToAll {
        line: ToMember,
        except: Option<MemberId>,
    },
    /// Give the connection what is queued for it, then close it.
    Drop(MemberId, Why),
    /// Tell the leader's user interface.
    Notice(Notice),
}

/// Why a connection is dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Why {
    /// It sent `LEAVE`.
    Left,
    /// The connection broke without `LEAVE`: the member may come back.
    Lost,
    /// The member came back on a new connection, which replaces this one.
    Replaced,
    /// Its backlog passed the limit: it stopped reading.
    Dropped,
    /// Nothing arrived for `silence_timeout`.
    Silent,
    /// It sent a line longer than `MAX_LINE`.
    TooLong,
    /// The leader removed the member, with this reason if it gave one.
    Kicked(Option<String>),
    /// A newcomer whose name is taken: never admitted.
    Duplicate,
    /// A `REJOIN` whose credential does not hold: never admitted.
    NotAMember,
}

impl Why {
    /// What the leader's user interface hears of a member leaving so, and
    /// the reason its `LEFT` gives the others; nothing for a member that
    /// came back or was never admitted.
    fn notice(self, name: String) -> Option<(Notice, LeftReason)> {
        Some(match self {
            Why::Left => (Notice::Left(name), LeftReason::Left),
            Why::Lost => (Notice::Lost(name), LeftReason::Lost),
            Why::Dropped => (Notice::Dropped(name), LeftReason::Slow),
            Why::Silent => (Notice::Silent(name), LeftReason::Silent),
            Why::TooLong => (Notice::TooLong(name), LeftReason::TooLong),
            Why::Kicked(reason) => (Notice::Kicked { name, reason }, LeftReason::Kicked),
            Why::Replaced | Why::Duplicate | Why::NotAMember => return None,
        })
    }
}

/// Where a lobby that can outlive its leader starts from.
#[derive(Debug, Clone)]
pub(super) enum Origin {
    /// A new lobby, with its fresh random id.
    New { lobby: String },
    /// A lobby this peer takes over.
    Inherited(Inheritance),
}

/// The text of a private message: plain (the leader could read it) or
/// sealed to its recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PrivateText {
    Plain(String),
    Sealed(Sealed),
    /// A file offer or an answer to one, relayed the same way.
    File(FileLine),
}

/// One member as the rules know it.
#[derive(Debug)]
struct Member {
    name: String,
    /// Where the member listens for chat requests, if the leader knows.
    chat_addr: Option<SocketAddr>,
    /// When the member last sent a line, and when it was last sent one.
    last_heard: Instant,
    last_sent: Instant,
    /// The member's `INVITE` requests, counted against `rules::MAX_ASKS`.
    asks: Asks,
    /// The member's `AWAY` and `BACK` lines, counted the same way.
    away_changes: Asks,
    /// Set once its `Drop` is out: nothing more goes to it, and it is
    /// removed when the event is handled.
    leaving: bool,
}

/// The lobby's rules and what they remember.
#[derive(Debug)]
pub(super) struct LobbyState {
    config: LobbyConfig,
    members: BTreeMap<MemberId, Member>,
    /// The last messages, for members admitted later.
    history: History,
    /// The members' seats, for the lobby's succession.
    roster: Roster,
    /// Seats of members whose connection broke, kept until they may no
    /// longer come back.
    away: Vec<(Instant, Seat)>,
    /// Who is away, by name, with the text (maybe empty): the leader and
    /// members in the lobby only, each set from its own connection.
    away_notes: BTreeMap<String, String>,
    /// Set by a handover: the lobby ends without `CLOSED`.
    handed_over: bool,
    /// Members dropped by the event being handled, removed at its end.
    doomed: Vec<(MemberId, Why)>,
    /// The effects of the event being handled.
    out: Vec<LobbyEffect>,
    /// When the event being handled happened.
    now: Now,
}

impl LobbyState {
    /// A lobby with no member yet. `origin` matters only with
    /// `config.succession`.
    pub(super) fn new(config: LobbyConfig, origin: Option<Origin>, now: Now) -> LobbyState {
        let history = if config.succession.is_some() {
            History::keeping(config.history, KEPT_FOR_RETURNS)
        } else {
            History::new(config.history)
        };
        let mut state = LobbyState {
            config,
            members: BTreeMap::new(),
            history,
            roster: Roster::default(),
            away: Vec::new(),
            away_notes: BTreeMap::new(),
            handed_over: false,
            doomed: Vec::new(),
            out: Vec::new(),
            now,
        };
        if state.config.succession.is_some() {
            state.begin(origin);
        }
        state
    }

    /// Handles one event at `now`; returns what should happen, in order.
    pub(super) fn handle(&mut self, event: LobbyEvent, now: Now) -> Vec<LobbyEffect> {
        self.now = now;
        match event {
            LobbyEvent::Admit {
                id,
                name,
                chat_addr,
                key,
            } => self.admit(id, name, chat_addr, key),
            LobbyEvent::Rejoin { id, claim, proven } => self.rejoin(id, claim, &proven),
            LobbyEvent::Line { id, line } => self.line(id, line),
            LobbyEvent::TooLong(id) => self.too_long(id),
            LobbyEvent::Gone(id) => self.doom(id, Why::Lost),
            LobbyEvent::Overflowed(id) => self.doom(id, Why::Dropped),
            LobbyEvent::Say(text) => self.relay(None, self.config.leader.clone(), text),
            LobbyEvent::Invitation { name, status } => {
                self.broadcast(ToMember::Invitation { name, status }, None);
            }
            LobbyEvent::LeaderAway(away) => {
                let leader = self.config.leader.clone();
                self.set_away(None, leader, away);
            }
            LobbyEvent::Refuse { to, code, text } => self.refuse_named(&to, code, text),
            LobbyEvent::Tick => self.tick(),
        }
        self.effects()
    }

    /// The leader's private message to `to`: the addressee's name as the
    /// lobby spells it, or why not.
    pub(super) fn tell(
        &mut self,
        to: &str,
        text: PrivateText,
        now: Now,
    ) -> (Result<String, ParseError>, Vec<LobbyEffect>) {
        self.now = now;
        let told = self.leader_private(to, text);
        (told, self.effects())
    }

    /// Removes `name` at the leader's word; its name as the lobby spells
    /// it, or `None` if no such member is in the lobby.
    pub(super) fn kick(
        &mut self,
        name: &str,
        reason: Option<String>,
        now: Now,
    ) -> (Option<String>, Vec<LobbyEffect>) {
        self.now = now;
        let kicked = self.remove_at_leaders_word(name, reason);
        (kicked, self.effects())
    }

    /// Hands the lobby to `to`, or to the member admitted earliest: what
    /// the old leader needs to come back as a member, or why not.
    pub(super) fn handover(
        &mut self,
        to: Option<&str>,
        now: Now,
    ) -> (Result<super::Handed, String>, Vec<LobbyEffect>) {
        self.now = now;
        let handed = self.hand_on(to);
        (handed, self.effects())
    }

    /// The leader leaves: the lobby is handed on as `handover` would hand
    /// it, with `LEFT <leader> LEFT` first; who leads now, or `None` if
    /// nobody can lead it, and then it ends with `CLOSED`.
    pub(super) fn leave(&mut self, now: Now) -> (Option<String>, Vec<LobbyEffect>) {
        self.now = now;
        let to = self.hand_on_leaving();
        (to, self.effects())
    }

    /// The last line every member gets when the lobby ends: `CLOSED`, or
    /// nothing after a handover, whose `HANDOVER` was the last.
    pub(super) fn farewell(&self, reason: CloseReason) -> Option<ToMember> {
        (!self.handed_over).then_some(ToMember::Closed(reason))
    }

    /// The lobby's id and `name`'s seat, if it has one: what a private
    /// message to it is sealed for.
    pub(super) fn seat(&self, name: &str) -> Option<(String, Seat)> {
        let seat = self.roster.seat(name)?;
        Some((self.roster.lobby.clone(), seat.clone()))
    }

    /// The lobby's id, if it can outlive its leader.
    pub(super) fn lobby_id(&self) -> Option<String> {
        (!self.roster.lobby.is_empty()).then(|| self.roster.lobby.clone())
    }

    /// Everyone in the lobby, the leader first.
    pub(super) fn names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.members.len() + 1);
        names.push(self.config.leader.clone());
        names.extend(self.members.values().map(|m| m.name.clone()));
        names
    }

    /// The members whose chat address is known, in admission order.
    pub(super) fn contacts(&self) -> Vec<Contact> {
        let known = self.members.values().filter_map(|m| {
            let addr = m.chat_addr?;
            Some(Contact {
                name: m.name.clone(),
                ip: addr.ip(),
                port: addr.port(),
                key: None,
                away: None,
            })
        });
        known.collect()
    }

    /// Removes the members dropped by this event, then hands out its effects.
    fn effects(&mut self) -> Vec<LobbyEffect> {
        self.reap();
        mem::take(&mut self.out)
    }

    /// One line for one member that is not on its way out.
    fn send_to(&mut self, id: MemberId, line: ToMember) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        if member.leaving {
            return;
        }
        member.last_sent = self.now.at;
        self.out.push(LobbyEffect::ToMember(id, line));
    }

    /// One line for every member but `except`.
    fn broadcast(&mut self, line: ToMember, except: Option<MemberId>) {
        let now = self.now.at;
        for (&id, member) in &mut self.members {
            if Some(id) != except && !member.leaving {
                member.last_sent = now;
            }
        }
        self.out.push(LobbyEffect::ToAll { line, except });
    }

    fn notify(&mut self, notice: Notice) {
        self.out.push(LobbyEffect::Notice(notice));
    }

    /// Drops a member: its connection goes at once, and the others hear of
    /// it when the event is handled (`reap`).
    fn doom(&mut self, id: MemberId, why: Why) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        if member.leaving {
            return;
        }
        member.leaving = true;
        self.out.push(LobbyEffect::Drop(id, why.clone()));
        self.doomed.push((id, why));
    }

    /// A connection that was never admitted gets `line` and is closed.
    fn turn_away(&mut self, id: MemberId, line: ToMember, why: Why) {
        self.out.push(LobbyEffect::ToMember(id, line));
        self.out.push(LobbyEffect::Drop(id, why));
    }

    /// Removes every doomed member, telling the others and the leader.
    fn reap(&mut self) {
        while let Some((id, why)) = self.doomed.pop() {
            let Some(member) = self.members.remove(&id) else {
                continue;
            };
            // Nobody else sees a replaced connection go: the same member is
            // already back.
            let Some((notice, reason)) = why.clone().notice(member.name.clone()) else {
                continue;
            };
            self.unseat(&member.name, &why);
            if let Why::Kicked(reason) = why {
                // Members that know `KICKED` learn why; the `LEFT` after it
                // keeps the others' member lists right.
                let name = member.name.clone();
                self.broadcast(ToMember::Kicked { name, reason }, None);
            }
            let name = member.name;
            self.away_notes.remove(&name);
            self.broadcast(ToMember::Left { name, reason }, None);
            self.notify(notice);
        }
    }

    /// The names of everyone in the lobby, the leader first, for the rules.
    /// A member on its way out is not counted.
    fn everyone(&self) -> Vec<&str> {
        let mut names = Vec::with_capacity(self.members.len() + 1);
        names.push(self.config.leader.as_str());
        let staying = self.members.values().filter(|m| !m.leaving);
        names.extend(staying.map(|m| m.name.as_str()));
        names
    }

    /// The member called `name` (ignoring case) that is not on its way out.
    fn id_of(&self, name: &str) -> Option<MemberId> {
        self.members
            .iter()
            .find(|(_, m)| !m.leaving && m.name.eq_ignore_ascii_case(name))
            .map(|(&id, _)| id)
    }

    /// A message said in the lobby: numbered, kept, relayed to everyone but
    /// its sender, and, in a lobby with succession, followed by `SEQ` for
    /// everyone, the sender included (its only sign of the number).
    /// `name` (member `sender`, or the leader) is away or back: everyone
    /// else hears it, and the leader's user interface if a member changed.
    fn set_away(&mut self, sender: Option<MemberId>, name: String, away: Option<String>) {
        let (line, notice) = match away {
            Some(text) => {
                self.away_notes.insert(name.clone(), text.clone());
                let line = ToMember::Away {
                    name: name.clone(),
                    text: text.clone(),
                };
                (line, Notice::Away { name, text })
            }
            // Back without having been away changes nothing.
            None if self.away_notes.remove(&name).is_none() => return,
            None => (ToMember::Back(name.clone()), Notice::Back(name)),
        };
        self.broadcast(line, sender);
        if sender.is_some() {
            self.notify(notice);
        }
    }

    /// What a newcomer `to` is told after `MEMBERS`: who is away.
    fn away_lines(&self, to: &str) -> Vec<ToMember> {
        self.away_notes
            .iter()
            .filter(|(name, _)| name.as_str() != to)
            .map(|(name, text)| ToMember::Away {
                name: name.clone(),
                text: text.clone(),
            })
            .collect()
    }

    fn relay(&mut self, sender: Option<MemberId>, from: String, text: String) {
        let seq = self.history.record(self.now.utc, &from, &text);
        self.broadcast(ToMember::Msg { from, text }, sender);
        if self.config.succession.is_some() {
            self.broadcast(ToMember::Succession(Succession::Seq(seq)), None);
        }
    }
}
