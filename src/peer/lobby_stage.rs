//! The user's side of a lobby as a member (the leader's lines, turned into
//! `LobbyEvent`s), what a leader and a member answer alike, and the answer
//! to a chat request that makes us a member. The leader's side is in
//! `leading.rs`.

use crate::crypto::seal::Sealed;
use crate::crypto::{Identity, PeerKey};

use crate::screen::ScreenLine;
use crate::wire::{self, CloseReason, LeftReason, MAX_TEXT, Succession, ToLeader, ToMember};

use super::app::App;
use super::away_notes::{self, AwayList};
use super::commands::{LobbyInput, near_miss};
use super::effect::{Answer, Effect, Effects, LogId};
use super::files::Route;
use super::msg::{Asker, RegistryAsk};
use super::render::{LobbyEvent, Role, said_line};
use super::stage::{Membership, Pending, Phase, Stage};
use super::standing::MAX_SEATS;
use super::{LOBBY_HELP, LOBBY_HINT};

/// The most names a member keeps in its member list: as many as seats, so
/// a leader cannot grow it without bound with `JOINED` lines.
pub(super) const MAX_MEMBERS: usize = MAX_SEATS;

/// `JOINED <name>`: `name` joins the member list, once, while there is room.
fn list_joined(members: &mut Vec<String>, name: String) {
    if members.len() < MAX_MEMBERS && !members.contains(&name) {
        members.push(name);
    }
}

impl App {
    /// Opens a chat log for `leader`'s lobby; the driver says at once if
    /// it could not, and then writes to it are lost.
    pub(super) fn open_log(&mut self, leader: &str) -> Option<LogId> {
        self.next_log += 1;
        let log = LogId(self.next_log);
        self.out.push(Effect::OpenLog {
            log,
            me: self.my_name(),
            leader: leader.to_string(),
        });
        Some(log)
    }

    pub(super) fn member(&mut self, mut membership: Membership, line: &str) -> Stage {
        // What the user types comes after the replayed messages, and the
        // screen says so before it shows anything the line causes.
        membership.end_earlier(&self.out);
        if self.file_command(line, Route::Member(&membership)) {
            return Stage::Member(membership);
        }
        match LobbyInput::from(line) {
            LobbyInput::Members => self.show_members(&membership.members, &membership.away),
            LobbyInput::Leave => {
                self.leave_membership(membership);
                return Stage::Menu;
            }
            LobbyInput::Say(text) => {
                let pieces = self.pieces(text);
                self.member_say(&mut membership, &pieces);
            }
            LobbyInput::Action(text) => self.member_say(&mut membership, &[text.as_str()]),
            LobbyInput::Invite(name) => self.member_invite(&membership, name),
            LobbyInput::Private { to, text } => self.member_private(&mut membership, to, text),
            LobbyInput::Away(change) => {
                if let Some(away) = self.change_away(change) {
                    self.away_told |= away.is_some();
                    membership.send(&self.out, super::away::away_line(away));
                }
            }
            LobbyInput::Kick { .. } => self.say("Only the leader can remove members."),
            LobbyInput::Handover(_) => self.say("Only the leader can hand the lobby on."),
            LobbyInput::End => {
                self.say("Only the leader can end the lobby for everyone; /leave leaves it.");
            }
            other => self.answer_lobby_input(other),
        }
        Stage::Member(membership)
    }

    /// Our messages, to the leader and our log, while the leader's queue
    /// has room for them.
    fn member_say(&mut self, membership: &mut Membership, pieces: &[&str]) {
        for &piece in pieces {
            let rejoining = membership.is_rejoining();
            if !membership.standing.sent(piece, rejoining) {
                self.say("Not sent: too many lines wait for the lobby's leader.");
                return;
            }
            self.out
                .log(membership.log, said_line(&self.my_name(), piece));
            self.said(piece);
            membership.send(&self.out, ToLeader::Msg(piece.to_string()));
        }
    }

    /// A typed message as the texts it is sent as: several, and the user
    /// told so, when it is longer than one message may be.
    pub(super) fn pieces<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let pieces = wire::split_text(text);
        if pieces.len() > 1 {
            self.notice(format!(
                "Sent as {} messages. {}",
                pieces.len(),
                long_messages()
            ));
        }
        pieces
    }

    /// Our own message, shown with our name as the others see it: one of
    /// our own lines, which the screen never drops.
    pub(super) fn said(&self, text: &str) {
        self.out
            .show(super::render::said_screen(&self.my_name(), text));
    }

    /// `/who`: who is in the lobby, and who of them is away.
    pub(super) fn show_members(&self, members: &[String], away: &AwayList) {
        let me = self.my_name();
        let shown = away.who(members, &me, self.away.as_deref());
        self.say(format!("Members: {shown}"));
    }

    /// What a leader and a member answer alike.
    pub(super) fn answer_lobby_input(&mut self, input: LobbyInput<'_>) {
        match input {
            LobbyInput::Help => {
                self.say(LOBBY_HELP);
                self.say(long_messages());
            }
            LobbyInput::Unknown(command) => match near_miss(command) {
                Some(usage) => self.say(format!("Unknown command {command}. Usage: {usage}.")),
                None => self.say(format!("Unknown command {command}. {LOBBY_HINT}")),
            },
            LobbyInput::Usage(usage) => self.say(format!("Usage: {usage}. Type /help for more.")),
            LobbyInput::Refused(why) => self.say(format!("Not sent: {why}.")),
            LobbyInput::List => {
                let ask = RegistryAsk::List(Asker::Lobby);
                self.out.push(Effect::ToRegistry(ask));
            }
            LobbyInput::Search(name) => {
                // The reply shows the menu's lines, and the lobby goes on.
                let _ = self.search(name, Asker::Lobby);
            }
            // Carried out where the stage is at hand (`member`, `lead`).
            LobbyInput::Away(_) => {}
            LobbyInput::Nothing
            | LobbyInput::Members
            | LobbyInput::Leave
            | LobbyInput::Say(_)
            | LobbyInput::Action(_)
            | LobbyInput::Invite(_)
            | LobbyInput::Private { .. }
            | LobbyInput::Kick { .. }
            | LobbyInput::Handover(_)
            | LobbyInput::End => {}
        }
    }

    pub(super) fn leave_membership(&mut self, membership: Membership) {
        // A rejoiner still walking is stopped by the driver: the stage
        // no longer waits for it.
        membership.send(&self.out, ToLeader::Leave);
        self.out.log(membership.log, "* you left the lobby");
        self.notice(format!("You left {}'s lobby.", membership.leader));
    }

    pub(super) fn answer_request(&mut self, pending: Pending, answer: &str) {
        match answer.to_ascii_lowercase().as_str() {
            "ok" | "yes" | "y" => self.accept_request(pending),
            "reject" | "no" | "n" => {
                self.answer(pending.request, Answer::Reject);
                self.say(format!(
                    "Rejected the chat request from '{}'.",
                    pending.from
                ));
                self.prompt();
            }
            _ => {
                self.say("Please answer OK or REJECT.");
                self.pending = Some(pending);
                self.prompt();
            }
        }
    }

    /// The user said yes: the chat connection becomes a new membership's,
    /// and we are a member until the leader says otherwise. The driver
    /// says at once whether the connection was still there (`on_linked`).
    fn accept_request(&mut self, pending: Pending) {
        self.next_lobby += 1;
        let id = self.next_lobby;
        self.answer(pending.request, Answer::Accept { membership: id });
        self.stage = Stage::Member(Membership {
            id,
            leader: pending.from,
            members: Vec::new(),
            away: AwayList::default(),
            log: None,
            standing: Box::default(),
            phase: Phase::Invited,
        });
    }

    /// Membership `membership` has its connection to the leader, or it was
    /// gone: an invitation accepted, or a leader that took us back.
    pub(super) fn on_linked(&mut self, membership: u64, result: Result<(), String>) {
        let ours = matches!(&self.stage, Stage::Member(m) if m.id == membership);
        if !ours {
            return;
        }
        let Stage::Member(member) = std::mem::replace(&mut self.stage, Stage::Menu) else {
            unreachable!("checked just above");
        };
        match (member.phase, result) {
            (Phase::Invited, Ok(())) => {
                self.notice(format!("Joining {}'s lobby...", member.leader));
                self.stage = Stage::Member(Membership {
                    phase: Phase::Invited,
                    ..member
                });
            }
            (Phase::Invited, Err(_)) => {
                self.say(format!(
                    "The chat request from '{}' was withdrawn.",
                    member.leader
                ));
                self.prompt();
            }
            (Phase::Linking { leader, first, why }, result) => {
                let member = Membership {
                    phase: Phase::Admitted { earlier: false },
                    ..member
                };
                self.stage = self.linked(member, leader, first, &why, result);
                self.prompt();
            }
            (phase, _) => self.stage = Stage::Member(Membership { phase, ..member }),
        }
    }

    /// A line from the leader of lobby `lobby`, if we are still its member:
    /// shown and logged, and `CLOSED` ends the membership.
    pub(super) fn on_leader_line(&mut self, lobby: u64, line: ToMember) {
        let me = self.my_name();
        let Stage::Member(membership) = &mut self.stage else {
            return;
        };
        if membership.id != lobby {
            return;
        }
        if !continues_earlier(&line) {
            membership.end_earlier(&self.out);
        }
        if let (ToMember::Members(_), Phase::Invited) = (&line, &membership.phase) {
            self.open_member_log();
        }
        let identity = self.identity();
        let vouched = match &line {
            ToMember::Sealed { from, .. } => self.vouched_key(from),
            _ => None,
        };
        let Stage::Member(membership) = &mut self.stage else {
            return;
        };
        membership.standing.hear(&line, &me, self.now.utc);
        if let ToMember::Succession(Succession::Handover(to)) = line {
            return self.leader_handed_over(to);
        }
        if let ToMember::Sealed { from, sealed } = &line {
            let event = opened_for(membership, identity.as_deref(), &me, from, sealed, vouched);
            let event = self.replays.once(sealed, event);
            let role = Role::Member {
                leader: &membership.leader,
            };
            self.out.event(membership.log, &event, role);
            return;
        }
        let ToMember::Closed(reason) = line else {
            let gone = match &line {
                ToMember::Left { name, .. } | ToMember::Kicked { name, .. } => Some(name.clone()),
                _ => None,
            };
            let log = membership.log;
            let admitted = matches!(line, ToMember::Members(_));
            membership.show(line, &self.out);
            if let Some(name) = gone {
                self.member_gone(&name, log);
            }
            if admitted {
                // A leader (a new one, after a rejoin, too) learns who is
                // away from each member itself.
                self.tell_lobby_away();
            }
            return;
        };
        self.leader_closed(reason);
    }

    /// The leader's `HANDOVER`: we follow the lobby to its new leader.
    fn leader_handed_over(&mut self, to: String) {
        let Stage::Member(membership) = std::mem::replace(&mut self.stage, Stage::Menu) else {
            return;
        };
        self.stage = self.follow_handover(membership, to);
        self.prompt();
    }

    /// The leader's `CLOSED`: the lobby is over for us.
    fn leader_closed(&mut self, reason: CloseReason) {
        let Stage::Member(membership) = &self.stage else {
            return;
        };
        let why = closed_why(reason, &membership.leader);
        let role = Role::Member {
            leader: &membership.leader,
        };
        self.out
            .event(membership.log, &LobbyEvent::Ended(why), role);
        self.stage = Stage::Menu;
        self.prompt();
    }

    /// Admitted: only now is there a lobby to log.
    fn open_member_log(&mut self) {
        let Stage::Member(membership) = &self.stage else {
            return;
        };
        let leader = membership.leader.clone();
        let log = self.open_log(&leader);
        self.out.log(log, format!("* joined the lobby of {leader}"));
        if let Stage::Member(membership) = &mut self.stage {
            membership.log = log;
        }
    }
}

/// A sealed message `from` a member of `membership`'s lobby, opened with
/// our key against the sender's seat.
fn opened_for(
    membership: &Membership,
    identity: Option<&Identity>,
    me: &str,
    from: &str,
    sealed: &Sealed,
    vouched: Option<PeerKey>,
) -> LobbyEvent {
    let standing = &membership.standing;
    let lobby = standing.lobby().unwrap_or_default();
    let seat = standing.roster.seat(from).map(|seat| seat.key);
    let key = super::sealed::sender_key(seat, vouched);
    let secret = identity.map(Identity::seal_secret);
    super::sealed::opened(secret, lobby, key.as_ref(), from.to_string(), me, sealed)
}

/// Why the leader's `CLOSED` ends the lobby for us, in words.
fn closed_why(reason: CloseReason, leader: &str) -> String {
    match reason {
        CloseReason::LeaderLeft => "the leader left".to_string(),
        CloseReason::Ended => format!("{leader} ended it for everyone"),
        CloseReason::Kicked(None) => format!("{leader} removed you"),
        CloseReason::Kicked(Some(why)) => format!("{leader} removed you: {why}"),
        other => other.to_string(),
    }
}

/// `LEFT <name> <reason>` as the user hears of it: the same words the
/// leader's own screen has for each reason.
fn left(name: String, reason: LeftReason) -> LobbyEvent {
    match reason {
        LeftReason::Left => LobbyEvent::Left(name),
        LeftReason::Lost => LobbyEvent::Lost(name),
        LeftReason::Silent => LobbyEvent::Silent(name),
        LeftReason::Slow => LobbyEvent::Dropped(name),
        LeftReason::TooLong => LobbyEvent::TooLong(name),
        // A `KICKED` line with the leader's reason comes first, and the
        // name is gone by now; this is a leader that sent no `KICKED`.
        LeftReason::Kicked => LobbyEvent::Kicked { name, reason: None },
    }
}

/// The line after the replayed messages.
pub(super) const END_OF_EARLIER: &str = "--- end of earlier messages ---";

/// Whether `line` may come amid the replayed messages without ending them:
/// a replayed message, its number, the roster, a heartbeat. Anything else
/// is live, or ends the lobby or moves it.
fn continues_earlier(line: &ToMember) -> bool {
    match line {
        ToMember::History { .. } | ToMember::Hello => true,
        ToMember::Succession(Succession::Handover(_)) => false,
        ToMember::Succession(_) => true,
        _ => false,
    }
}

/// The limit of one message, in letters a user counts: the protocol counts
/// bytes, and letters outside English take more than one.
fn long_messages() -> String {
    format!(
        "One message holds at most {MAX_TEXT} bytes: {MAX_TEXT} plain letters, {} letters such as ç or ş, or {} emoji; a longer line is sent as several messages.",
        MAX_TEXT / 2,
        MAX_TEXT / 4
    )
}

impl Membership {
    /// Shows and logs a line from the leader that does not end the lobby,
    /// and keeps the member list up to date.
    fn show(&mut self, line: ToMember, screen: &Effects) {
        let Some(event) = self.follow(line, screen) else {
            return;
        };
        away_notes::follow(&mut self.away, &event);
        let role = Role::Member {
            leader: &self.leader,
        };
        screen.event(self.log, &event, role);
    }

    /// Keeps the member list up to date with `line`, and says what it
    /// means to the user, if anything.
    fn follow(&mut self, line: ToMember, screen: &Effects) -> Option<LobbyEvent> {
        Some(match line {
            ToMember::Members(names) => {
                self.admit();
                self.members = names.clone();
                LobbyEvent::Members(names)
            }
            ToMember::Joined(name) => {
                list_joined(&mut self.members, name.clone());
                LobbyEvent::Joined(name)
            }
            ToMember::Msg { from, text } => LobbyEvent::Msg { from, text },
            // After `KICKED` the member is gone already, and its `LEFT`,
            // there for members that do not know `KICKED`, is not news.
            ToMember::Left { name, reason } if self.members.contains(&name) => {
                self.members.retain(|m| *m != name);
                left(name, reason)
            }
            ToMember::History { at, from, text } => {
                self.earlier_begins(screen);
                LobbyEvent::History { at, from, text }
            }
            ToMember::Private { from, text } => LobbyEvent::Private {
                from,
                text,
                seal: super::render::Seal::Plain,
            },
            // Opened by the app, which holds our key (`on_leader_line`).
            ToMember::Sealed { .. } => return None,
            ToMember::Kicked { name, reason } => {
                self.members.retain(|m| *m != name);
                LobbyEvent::Kicked { name, reason }
            }
            ToMember::Invitation { name, status } => LobbyEvent::Invitation { name, status },
            ToMember::Away { name, text } => LobbyEvent::Away { name, text },
            // Back without having been away, as far as we know, is no news.
            ToMember::Back(name) if self.away.of(&name).is_none() => return None,
            ToMember::Back(name) => LobbyEvent::Back(name),
            ToMember::Err(code, text) => LobbyEvent::LeaderSays(code, text),
            // Handled by the app, which holds the offers (`on_leader_line`).
            ToMember::File { .. } => return None,
            ToMember::Left { .. }
            | ToMember::ChatRequest { .. }
            | ToMember::Hello
            | ToMember::Closed(_)
            | ToMember::Succession(_) => return None,
        })
    }

    /// The replayed messages are over: said at once, so that nothing
    /// shown after them (a live line, the user's own, the lobby ending or
    /// moving) looks like one of them. Said only after some were shown.
    pub(super) fn end_earlier(&mut self, screen: &Effects) {
        if let Phase::Admitted { earlier } = &mut self.phase
            && std::mem::take(earlier)
        {
            screen.show(ScreenLine::Notice(END_OF_EARLIER.to_string()));
        }
    }

    /// The first replayed message says that earlier ones follow.
    fn earlier_begins(&mut self, screen: &Effects) {
        if let Phase::Admitted { earlier, .. } = &mut self.phase
            && !std::mem::replace(earlier, true)
        {
            screen.show(ScreenLine::Notice(
                "--- earlier in this lobby ---".to_string(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_member_list_holds_each_name_once_and_at_most_max_members() {
        let mut members = vec!["alice".to_string()];
        list_joined(&mut members, "bob".into());
        list_joined(&mut members, "bob".into());
        assert_eq!(members, ["alice", "bob"]);
        for i in 0..MAX_MEMBERS * 2 {
            list_joined(&mut members, format!("u{i}"));
        }
        assert_eq!(members.len(), MAX_MEMBERS);
        assert_eq!(members[..3], ["alice", "bob", "u0"]);
    }
}
