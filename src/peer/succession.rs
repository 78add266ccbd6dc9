//! The app thread's side of a lobby that outlives its leader: a leader's
//! `/handover`, a member following `HANDOVER`, a member whose connection to
//! the leader broke walking the roster (`migration.rs`), taking the lobby
//! over when it is this peer's turn, and a leader taking a member back.
//!
//! None of it asks the registry: the roster has every address it needs.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::crypto::Identity;
use crate::lobby::roster::Candidate;
use crate::lobby::{Handed, LobbyConfig, Proven};
use crate::wire::{ErrorCode, Rejoin, ToLeader, ToMember};

use super::LOBBY_HINT;
use super::app::App;
use super::away_notes::AwayList;
use super::effect::LobbyCommand;
use super::effect::{ConnId, Effect, Walk, Worker};
use super::invitations::Invitations;
use super::keys::own_identity;
use super::msg::{Move, Rejoined, Timing};
use super::render::{LobbyEvent, Role};
use super::stage::{Leading, Membership, Phase, Stage, Start, Starting};
use super::standing::Standing;

impl App {
    /// The hub handed the lobby on (`/handover`): we come back to it as a
    /// member of the new leader.
    pub(super) fn handed_over(&mut self, leading: Leading, handed: Handed) -> Stage {
        let me = self.my_name();
        let to = handed.to.name.clone();
        let log = leading.log;
        self.out.log(log, format!("* you handed the lobby to {to}"));
        self.say(format!(
            "You handed the lobby to {to}; you stay as a member."
        ));
        let why = Move::Handover {
            old: me.clone(),
            to,
        };
        let membership = Membership {
            id: 0,
            leader: me,
            members: Vec::new(),
            away: AwayList::default(),
            log,
            standing: Box::new(Standing::handed(handed.clone())),
            phase: Phase::Rejoining { why: why.clone() },
        };
        let walk = vec![Candidate::Peer(handed.to)];
        self.go_to(membership, walk, why)
    }

    /// `HANDOVER <to>` from our leader: we lead, or we go to `to`.
    pub(super) fn follow_handover(&mut self, membership: Membership, to: String) -> Stage {
        let old = membership.leader.clone();
        let me = self.my_name();
        let why = Move::Handover {
            old,
            to: to.clone(),
        };
        if to.eq_ignore_ascii_case(&me) {
            return self.take_over(membership, &why);
        }
        let Some(seat) = membership.standing.roster.seat(&to).cloned() else {
            return self.lobby_lost(membership, "the new leader is not in the roster");
        };
        self.go_to(membership, vec![Candidate::Peer(seat)], why)
    }

    /// The connection to the leader of lobby `lobby` ended; if we are still
    /// its member, the lobby is over for us.
    pub(super) fn on_leader_gone(&mut self, lobby: u64, silent: bool) {
        let Stage::Member(membership) = &self.stage else {
            return;
        };
        if membership.id != lobby {
            return;
        }
        let Stage::Member(mut membership) = std::mem::replace(&mut self.stage, Stage::Menu) else {
            unreachable!("checked just above");
        };
        membership.end_earlier(&self.out);
        if let Phase::Invited = membership.phase {
            // The leader went away before it let us in: no lobby was joined.
            self.say(format!(
                "The chat request from '{}' was withdrawn: the leader closed the connection.",
                membership.leader
            ));
            self.prompt();
            return;
        }
        let why = if silent {
            "the leader stopped answering"
        } else {
            "lost the connection to the leader"
        };
        if membership.standing.can_rejoin() {
            self.stage = self.leader_lost(membership, why);
            self.prompt();
            return;
        }
        self.out.event(
            membership.log,
            &LobbyEvent::Ended(why.to_string()),
            Role::Member {
                leader: &membership.leader,
            },
        );
        self.prompt();
    }

    /// The connection to our leader broke: if it gave us a credential, walk
    /// the roster; otherwise the lobby is over, as it always was.
    pub(super) fn leader_lost(&mut self, membership: Membership, why: &str) -> Stage {
        let admitted = matches!(membership.phase, Phase::Admitted { .. });
        if !admitted || !membership.standing.can_rejoin() {
            return self.lobby_lost(membership, why);
        }
        let walk = membership.standing.roster.candidates(&self.my_name());
        let old = membership.leader.clone();
        self.say(format!(
            "Lost the connection to {old} ({why}); finding the lobby again..."
        ));
        self.go_to(membership, walk, Move::Lost { old })
    }

    /// Starts a rejoiner on `walk`; the membership waits, with a new id so
    /// that nothing more from the old connection counts.
    fn go_to(&mut self, mut membership: Membership, walk: Vec<Candidate>, why: Move) -> Stage {
        if walk.first() == Some(&Candidate::Me) {
            return self.take_over(membership, &why);
        }
        let Some(claim) = membership.standing.claim(&self.my_name()) else {
            return self.lobby_lost(membership, "no credential to come back with");
        };
        let Some(identity) = self.identity() else {
            return self.lobby_lost(membership, "no key to prove who we are");
        };
        self.next_lobby += 1;
        membership.id = self.next_lobby;
        // Nothing more from the old connection counts, its end included:
        // a rejoining membership has no feed.
        membership.phase = Phase::Rejoining { why };
        self.out.push(Effect::Start(Worker::Rejoiner(Walk {
            lobby: membership.id,
            walk,
            claim,
            deadline: self.now.at + self.config.lobby_timeout,
            identity,
        })));
        Stage::Member(membership)
    }

    /// The rejoiner of lobby `lobby` is done.
    pub(super) fn on_rejoined(&mut self, lobby: u64, outcome: Rejoined<ConnId>) {
        let ours = matches!(&self.stage, Stage::Member(m) if m.id == lobby && m.is_rejoining());
        if !ours {
            return;
        }
        let Stage::Member(membership) = std::mem::replace(&mut self.stage, Stage::Menu) else {
            unreachable!("checked just above");
        };
        let Phase::Rejoining { why, .. } = &membership.phase else {
            unreachable!("checked just above");
        };
        let why = why.clone();
        self.stage = match outcome {
            Rejoined::Admitted {
                leader,
                conn,
                first,
            } => self.rejoined(membership, leader, conn, first, &why),
            Rejoined::Lead => self.take_over(membership, &why),
            Rejoined::GaveUp => self.lobby_lost(membership, "nobody in it could be reached"),
            Rejoined::NoThread(err) => {
                self.lobby_lost(membership, &format!("cannot start a thread: {err}"))
            }
        };
        self.prompt();
    }

    /// A peer took us back: the driver starts the link to it under a new
    /// id for the membership, and says at once whether it runs (`linked`).
    fn rejoined(
        &mut self,
        mut membership: Membership,
        leader: String,
        conn: ConnId,
        first: ToMember,
        why: &Move,
    ) -> Stage {
        self.next_lobby += 1;
        membership.id = self.next_lobby;
        self.out.push(Effect::Start(Worker::MemberLink {
            membership: membership.id,
            leader: leader.clone(),
            conn,
            timing: self.timing(),
        }));
        let why = why.clone();
        membership.phase = Phase::Linking { leader, first, why };
        Stage::Member(membership)
    }

    /// The link to the peer that took us back runs: the chat goes on with
    /// it as the leader, and our lines it has not numbered go to it.
    pub(super) fn linked(
        &mut self,
        mut membership: Membership,
        leader: String,
        first: ToMember,
        why: &Move,
        result: Result<(), String>,
    ) -> Stage {
        if let Err(err) = result {
            return self.lobby_lost(membership, &format!("cannot go on: {err}"));
        }
        let id = membership.id;
        membership.leader = leader.clone();
        let news = rejoin_news(why, &leader, &self.my_name());
        self.out.log(membership.log, format!("* {news}"));
        self.say(format!("{}.", sentence(&news, why)));
        for text in membership.standing.unsent() {
            membership.send(&self.out, ToLeader::Msg(text));
        }
        self.stage = Stage::Member(membership);
        self.on_leader_line(id, first);
        std::mem::replace(&mut self.stage, Stage::Menu)
    }

    /// We lead the lobby now: a hub with the roster and messages we have,
    /// which the others `REJOIN`. The hub is asked to start; the lobby is
    /// ours once it runs (`took_over`).
    fn take_over(&mut self, membership: Membership, why: &Move) -> Stage {
        let me = self.my_name();
        // A lost leader loses its seat; one that handed the lobby on
        // comes back to it as a member.
        let lost = match why {
            Move::Lost { old } => Some(old.as_str()),
            Move::Handover { .. } => None,
        };
        let Some(inheritance) = membership.standing.inheritance(&me, lost) else {
            return self.lobby_lost(membership, "no credential to lead with");
        };
        self.next_lobby += 1;
        let id = self.next_lobby;
        let start = LobbyCommand::Start {
            config: Box::new(self.lobby_config(&me)),
            inheritance: Some(inheritance),
        };
        self.to_lobby(id, start);
        let why = why.clone();
        let then = Start::TakeOver {
            membership: Box::new(membership),
            why,
        };
        Stage::Starting(Starting { id, then })
    }

    /// The hub of lobby `id`, taken over, runs: our lines no leader has
    /// numbered go to it.
    pub(super) fn took_over(
        &mut self,
        id: u64,
        lobby_id: Option<String>,
        mut membership: Membership,
        why: &Move,
    ) -> Stage {
        let me = self.my_name();
        let news = match why {
            Move::Lost { .. } => "the leader was lost; you lead the lobby now".to_string(),
            Move::Handover { old, .. } => format!("{old} handed the lobby to you; you lead it now"),
        };
        self.out.log(membership.log, format!("* {news}"));
        self.say(format!("{}. {LOBBY_HINT}", sentence(&news, why)));
        for text in membership.standing.unsent() {
            self.to_lobby(id, LobbyCommand::Say(text));
        }
        if let Some(text) = self.away.clone() {
            self.to_lobby(id, LobbyCommand::Away(Some(text)));
        }
        Stage::Leading(Leading {
            id,
            lobby_id,
            log: membership.log.take(),
            invitations: Invitations::started(&me, &[], self.now.at),
            opening: None,
            members: membership
                .members
                .into_iter()
                .filter(|m| *m != me)
                .collect(),
            someone_joined: true,
            asked_to_end: false,
            // What we learned as a member, until each member, rejoining,
            // says again how it is.
            away: membership.away,
        })
    }

    pub(super) fn lobby_lost(&mut self, membership: Membership, why: &str) -> Stage {
        self.out.event(
            membership.log,
            &LobbyEvent::Ended(why.to_string()),
            Role::Member {
                leader: &membership.leader,
            },
        );
        Stage::Menu
    }

    /// The timers of a chat connection, from the peer's options.
    fn timing(&self) -> Timing {
        Timing {
            request: self.config.invite_timeout,
            hello: self.config.lobby_hello,
            silence: self.config.lobby_timeout,
        }
    }

    /// The configuration of a lobby this peer leads, from its own options:
    /// the same whether it starts the lobby or takes one over.
    pub(super) fn lobby_config(&self, me: &str) -> LobbyConfig {
        let mut config = LobbyConfig::new(me);
        config.trace = self.config.trace;
        config.hello_interval = self.config.lobby_hello;
        config.silence_timeout = self.config.lobby_timeout;
        config.history = self.config.history;
        config.invites = self.config.invites;
        config.succession = self.chat_addr();
        if let Some(identity) = self.identity() {
            config.key = Some(identity.public());
            config.seal = Some(identity.seal_secret().clone());
        }
        config
    }

    /// This peer's keys: the logged-in user's (from the keyring, loaded at
    /// `JOIN`), or else the pair `Peer::start` made for the run. A core
    /// driven without either (its tests) leads and chats in plain text,
    /// with no seat to come back to.
    pub(super) fn identity(&self) -> Option<Arc<Identity>> {
        own_identity(self.keys.as_deref(), self.config.identity.as_ref())
    }

    /// Where others reach our chat listener: what a leader's seat says.
    pub(super) fn chat_addr(&self) -> Option<SocketAddr> {
        let me = self.me.as_ref()?;
        Some(SocketAddr::new(me.ip, self.chat_port))
    }

    /// The seat a peer at our chat listener asks us to prove (`PROVE`):
    /// the lobby we hold a seat in, as its leader or a member, and our
    /// name. A query the driver answers the chat connection's thread with
    /// at once, as `want` is: the answer changes no state.
    pub(super) fn seat_held(&self) -> Option<(String, String)> {
        let lobby = match &self.stage {
            Stage::Leading(leading) => leading.lobby_id.clone(),
            Stage::Member(membership) => membership.standing.lobby().map(str::to_string),
            _ => None,
        };
        lobby.map(|lobby| (lobby, self.my_name()))
    }

    /// A `REJOIN` reached our chat listener: the hub checks its proof if
    /// we lead; otherwise we do not lead (yet), which the member hears.
    pub(super) fn on_rejoin(&mut self, claim: Box<Rejoin>, proven: Box<Proven>, conn: ConnId) {
        if let Stage::Leading(leading) = &self.stage {
            let rejoin = LobbyCommand::Rejoin {
                claim,
                proven,
                conn,
            };
            self.to_lobby(leading.id, rejoin);
            return;
        }
        // Traced by its address still: the name is a claim nobody checked.
        let refused = ToMember::Err(ErrorCode::NotLeader, "I do not lead a lobby".to_string());
        self.out.push(Effect::TurnAway(conn, refused));
    }
}

/// `news` as the screen shows it: a sentence, with a capital, unless it
/// opens with the name of whoever handed the lobby on, which is shown as
/// that user spelled it.
fn sentence(news: &str, why: &Move) -> String {
    if let Move::Handover { old, .. } = why
        && news.starts_with(old.as_str())
    {
        return news.to_string();
    }
    let mut chars = news.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What a member taken back by `leader` is told, by why it moved.
fn rejoin_news(why: &Move, leader: &str, me: &str) -> String {
    match why {
        Move::Lost { old } if old.eq_ignore_ascii_case(leader) => {
            format!("back in {leader}'s lobby")
        }
        Move::Lost { .. } => format!("the leader was lost; {leader} leads the lobby now"),
        Move::Handover { old, to } if old.eq_ignore_ascii_case(me) => {
            format!("you are a member of {to}'s lobby now")
        }
        Move::Handover { old, to } => format!("{old} handed the lobby to {to}"),
    }
}
