//! The leader's side of a lobby: the typed lines of a leader, the hub's
//! notices, the invitees' answers, and what the hub answers the core's
//! `LobbyCommand`s. The hub itself is the driver's; the core names it by
//! its number and hears its answers as `Incoming::Lobby`.

use crate::crypto::Identity;
use crate::lobby::{Handed, Notice};
use crate::screen::ScreenLine;
use crate::wire::{BusyReason, CloseReason, InviteStatus, ParseError, ToMember};

use super::app::App;
use super::commands::LobbyInput;
use super::effect::{ConnId, Effect, LobbyAnswer, LobbyCommand, LogId, MembersFor};
use super::files::Route;
use super::invitations::in_seconds;
use super::msg::Outcome;
use super::render::{self, LobbyEvent, Role, said_line};
use super::stage::{Leading, Stage, Start};

impl App {
    /// A command for the hub of lobby `lobby`.
    pub(super) fn to_lobby(&self, lobby: u64, command: LobbyCommand) {
        self.out.push(Effect::Lobby(lobby, command));
    }

    /// A line the leader typed.
    pub(super) fn lead(&mut self, leading: Leading, line: &str) -> Stage {
        let mut leading = match self.answer_end(leading, line) {
            Ok(leading) => leading,
            Err(stage) => return *stage,
        };
        let id = leading.id;
        let log = leading.log;
        if self.file_command(line, Route::Lead { id, log }) {
            return Stage::Leading(leading);
        }
        match LobbyInput::from(line) {
            LobbyInput::Members => self.to_lobby(id, LobbyCommand::Members(MembersFor::Show)),
            LobbyInput::Leave => {
                self.leave_lobby(leading);
                return Stage::Menu;
            }
            LobbyInput::End => return self.end_asked(leading),
            LobbyInput::Say(text) => {
                for piece in self.pieces(text) {
                    self.to_lobby(id, LobbyCommand::Say(piece.to_string()));
                    self.out.log(leading.log, said_line(&self.my_name(), piece));
                    self.said(piece);
                }
                if !leading.someone_joined {
                    self.said_to_nobody();
                }
            }
            LobbyInput::Action(text) => {
                self.out.log(leading.log, said_line(&self.my_name(), &text));
                self.said(&text);
                self.to_lobby(id, LobbyCommand::Say(text));
            }
            LobbyInput::Invite(name) => self.leader_invite(&mut leading, name, None),
            LobbyInput::Private { to, text } => {
                let (to, text) = (to.to_string(), text.to_string());
                self.to_lobby(id, LobbyCommand::Tell { to, text });
            }
            LobbyInput::Kick { name, reason } => self.kick(&leading, name, reason),
            LobbyInput::Away(change) => {
                if let Some(away) = self.change_away(change) {
                    self.to_lobby(id, LobbyCommand::Away(away));
                }
            }
            LobbyInput::Handover(to) => {
                self.to_lobby(id, LobbyCommand::Handover(to.map(str::to_string)));
            }
            other => self.answer_lobby_input(other),
        }
        Stage::Leading(leading)
    }

    /// Ends the lobby we lead, which nobody else is in (or will be).
    pub(super) fn end_lobby(&mut self, leading: Leading, why: &str) {
        self.close_lobby(leading, CloseReason::LeaderLeft, why);
    }

    /// Ends the lobby we lead, for everyone: `CLOSED <reason>`. What it
    /// relayed and we have not handled yet still goes to its log
    /// (`LobbyAnswer::Closed`), not to the screen: the user moved on.
    pub(super) fn close_lobby(&mut self, leading: Leading, reason: CloseReason, why: &str) {
        let log = leading.log;
        self.to_lobby(leading.id, LobbyCommand::Close { reason, log });
        self.out
            .event(log, &LobbyEvent::Ended(why.to_string()), Role::Leader);
    }

    /// The current stage's lobby, if it leads lobby `lobby`: taken out of
    /// the stage, which is the menu until it is put back.
    fn take_leading(&mut self, lobby: u64) -> Option<Leading> {
        match std::mem::replace(&mut self.stage, Stage::Menu) {
            Stage::Leading(leading) if leading.id == lobby => Some(leading),
            other => {
                self.stage = other;
                None
            }
        }
    }

    /// What a hub answered a command of the core.
    pub(super) fn on_lobby(&mut self, answer: LobbyAnswer) {
        match answer {
            LobbyAnswer::Started { lobby, result } => self.on_started(lobby, result),
            LobbyAnswer::Members { lobby, what, names } => self.on_members(lobby, what, &names),
            LobbyAnswer::Told {
                lobby,
                text,
                result,
            } => self.on_told(lobby, &text, result),
            LobbyAnswer::Kicked { lobby, name, found } => {
                let ours = matches!(&self.stage, Stage::Leading(l) if l.id == lobby);
                if ours && found.is_none() {
                    self.say(format!("{name} is not in this lobby."));
                }
            }
            LobbyAnswer::Handed { lobby, result } => self.on_handed(lobby, result),
            LobbyAnswer::Left { log, to, notices } => self.on_left(log, to, notices),
            LobbyAnswer::Closed { log, notices } => self.on_closed(log, notices),
            LobbyAnswer::FileSent {
                lobby,
                line,
                result,
            } => self.on_file_sent(lobby, line, result),
        }
    }

    /// The hub of the lobby being started runs, or could not start.
    fn on_started(&mut self, lobby: u64, result: Result<Option<String>, String>) {
        let starting = match std::mem::replace(&mut self.stage, Stage::Menu) {
            Stage::Starting(starting) if starting.id == lobby => starting,
            other => {
                self.stage = other;
                return;
            }
        };
        self.stage = match (starting.then, result) {
            (Start::Fresh, Ok(lobby_id)) => self.opening(lobby, lobby_id),
            (Start::Fresh, Err(err)) => {
                self.say(format!("Cannot start a chat: {err}"));
                Stage::Menu
            }
            (Start::TakeOver { membership, why }, Ok(lobby_id)) => {
                self.took_over(lobby, lobby_id, *membership, &why)
            }
            (Start::TakeOver { membership, .. }, Err(err)) => {
                self.lobby_lost(*membership, &format!("cannot lead it: {err}"))
            }
        };
        self.prompt();
        self.replay_held();
    }

    fn on_members(&mut self, lobby: u64, what: MembersFor, names: &[String]) {
        match what {
            MembersFor::Show => {
                let empty = super::away_notes::AwayList::default();
                let away = match &self.stage {
                    Stage::Leading(leading) => &leading.away,
                    _ => &empty,
                };
                self.show_members(names, away);
                if let Stage::Leading(leading) = &self.stage {
                    self.show_still_asked(leading);
                }
            }
            MembersFor::Invite(name) => {
                let Some(mut leading) = self.take_leading(lobby) else {
                    return;
                };
                match names.iter().find(|m| m.eq_ignore_ascii_case(&name)) {
                    Some(there) => self.say(format!("{there} is in this lobby already.")),
                    None => self.invite_checked(&mut leading, &name, None),
                }
                self.stage = Stage::Leading(leading);
            }
            MembersFor::Offer(id) => self.offer_to_everyone(lobby, id, names),
            MembersFor::EmptyCheck => {
                let Some(leading) = self.take_leading(lobby) else {
                    return;
                };
                if leading.invitations.len() > 0 || names.len() > 1 {
                    self.stage = Stage::Leading(leading);
                    return;
                }
                self.end_lobby(leading, "nobody else is in it");
                self.prompt();
            }
        }
    }

    /// The hub's answer to the leader's `/msg`.
    fn on_told(&mut self, lobby: u64, text: &str, result: Result<String, ParseError>) {
        match result {
            Ok(name) => {
                let line = format!("[you -> {name}] {text}");
                let log = match &self.stage {
                    Stage::Leading(leading) if leading.id == lobby => leading.log,
                    _ => None,
                };
                self.out.log(log, &line);
                self.say(ScreenLine::Private(line));
            }
            Err(err) => self.say(format!("Not sent: {}.", err.text)),
        }
    }

    /// The hub's answer to `/handover`: we come back to the lobby as a
    /// member, or stay its leader and hear why not.
    fn on_handed(&mut self, lobby: u64, result: Result<Handed, String>) {
        let handed = match result {
            Ok(handed) => handed,
            Err(why) => return self.say(format!("Not handed over: {why}.")),
        };
        let Some(leading) = self.take_leading(lobby) else {
            return;
        };
        self.stage = self.handed_over(leading, handed);
        self.prompt();
    }

    /// The lobby ended: what it relayed that we had not handled yet goes
    /// to its log.
    pub(super) fn on_closed(&mut self, log: Option<LogId>, notices: Vec<Notice>) {
        for notice in notices {
            let logged = render::lines(&LobbyEvent::from(notice), Role::Leader).log;
            self.out.log(log, logged.unwrap_or_default());
        }
    }

    /// An invitee answered a chat request into lobby `lobby`.
    pub(super) fn on_invited(&mut self, lobby: u64, name: String, outcome: Outcome<ConnId>) {
        let Stage::Leading(leading) = &mut self.stage else {
            return;
        };
        if leading.id != lobby {
            // An answer for a lobby that has ended: an accepting invitee
            // is told so rather than left waiting.
            if let Outcome::Accepted { conn, .. } = outcome {
                let line = ToMember::Closed(CloseReason::LeaderLeft);
                self.out.push(Effect::TurnAway(conn, line));
            }
            return;
        }
        leading.invitations.answered(&name);
        let log = leading.log;
        let (report, status) = match outcome {
            Outcome::Accepted { addr, conn, .. } => {
                // Everyone hears `JOINED` from the hub instead.
                let report = format!("OK -> ('{}', {})", addr.ip(), addr.port());
                let name = name.clone();
                self.to_lobby(lobby, LobbyCommand::Admit { name, conn });
                (report, None)
            }
            Outcome::Rejected => {
                not_in(&name, "rejected your chat request", InviteStatus::Rejected)
            }
            Outcome::Busy(reason) => not_in(&name, busy(reason), InviteStatus::Busy),
            Outcome::NoAnswer => not_in(&name, "no answer", InviteStatus::NoAnswer),
            Outcome::Unreachable(why) => {
                let why = format!("unreachable ({why})");
                not_in(&name, why, InviteStatus::Unreachable)
            }
        };
        if let Some(status) = status {
            // The leader's log keeps how it ended, as the members' logs do
            // (an accepted one is logged as the hub's `JOINED`).
            self.out.log(log, format!("* {report}"));
            self.to_lobby(lobby, LobbyCommand::Invitation { name, status });
        }
        self.notice(report);
        self.maybe_end_empty_lobby();
    }

    /// A line said while nobody has come in yet: it is not lost, but the
    /// leader should know that nobody read it yet.
    fn said_to_nobody(&self) {
        let kept = self.config.history;
        if kept > 0 {
            self.notice(format!(
                "Nobody has joined yet: whoever does will see this line among the last {kept} said."
            ));
        } else {
            self.notice("Nobody has joined yet, so nobody heard that.".to_string());
        }
    }

    /// Who is still being asked into the lobby we lead, and how long each
    /// has left to answer; nothing when nobody is.
    pub(super) fn show_still_asked(&self, leading: &Leading) {
        let window = self.config.invite_timeout;
        let asked: Vec<String> = leading
            .invitations
            .still_asked(window, self.now.at)
            .into_iter()
            .map(|(name, left)| format!("{name} ({} left)", in_seconds(left)))
            .collect();
        if !asked.is_empty() {
            self.notice(format!("Still asking: {}.", asked.join(", ")));
        }
    }

    /// A leader left alone, with no chat request still open, has no lobby:
    /// the hub is asked who is in it (`MembersFor::EmptyCheck`).
    pub(super) fn maybe_end_empty_lobby(&mut self) {
        let Stage::Leading(leading) = &self.stage else {
            return;
        };
        if leading.invitations.len() > 0 {
            return;
        }
        let check = LobbyCommand::Members(MembersFor::EmptyCheck);
        self.to_lobby(leading.id, check);
    }

    /// A notice of the hub we lead.
    pub(super) fn on_notice(&mut self, notice: Notice) {
        if let Notice::InviteAsked { by, name } = notice {
            self.on_invite_asked(by, name);
            return;
        }
        if !matches!(self.stage, Stage::Leading(_)) {
            return;
        }
        let gone = match &notice {
            Notice::Left(name)
            | Notice::Lost(name)
            | Notice::Dropped(name)
            | Notice::Silent(name)
            | Notice::TooLong(name)
            | Notice::Kicked { name, .. } => Some(name.clone()),
            _ => None,
        };
        let event = match notice {
            Notice::Sealed {
                lobby,
                from,
                key,
                sealed,
            } => {
                let identity = self.identity();
                let me = self.my_name();
                let secret = identity.as_deref().map(Identity::seal_secret);
                let key = super::sealed::sender_key(key, self.vouched_key(&from));
                let event = super::sealed::opened(secret, &lobby, key.as_ref(), from, &me, &sealed);
                self.replays.once(&sealed, event)
            }
            other => LobbyEvent::from(other),
        };
        let Stage::Leading(leading) = &mut self.stage else {
            return;
        };
        super::names::follow(&mut leading.members, &event);
        super::away_notes::follow(&mut leading.away, &event);
        if matches!(event, LobbyEvent::Joined(_)) {
            leading.someone_joined = true;
        }
        let log = leading.log;
        self.out.event(log, &event, Role::Leader);
        if let Some(name) = gone {
            self.member_gone(&name, log);
            self.maybe_end_empty_lobby();
        }
    }
}

/// What the leader is told of an invitee that did not come in, and what
/// the members hear.
fn not_in(
    name: &str,
    what: impl std::fmt::Display,
    status: InviteStatus,
) -> (String, Option<InviteStatus>) {
    (format!("{name}: {what}"), Some(status))
}

/// An invitee's busy answer, in words.
fn busy(reason: BusyReason) -> String {
    let why = match reason {
        BusyReason::Answering => " (answering another request)",
        BusyReason::InChat => " (in a chat)",
        BusyReason::Unsaid => "",
    };
    format!("busy{why}")
}
