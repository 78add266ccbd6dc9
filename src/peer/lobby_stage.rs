//! The user's side of a lobby: leading one (the lobby hub's notices, the
//! answers of invitees), being a member of one (the leader's lines), and the
//! answer to a chat request that makes us one.

use crate::crypto::Identity;
use std::sync::atomic::Ordering;

use crossbeam_channel::{bounded, unbounded};

use crate::lobby::Notice;
use crate::screen::ScreenLine;
use crate::wire::{
    self, BusyReason, CloseReason, InviteStatus, MAX_TEXT, Succession, ToLeader, ToMember,
};

use super::app::{App, Leading, Membership, Pending, Phase, Stage};
use super::commands::LobbyInput;
use super::effect::{Effect, Effects, LogId};
use super::msg::{Asker, ChatAnswer, Outcome, RegistryAsk};
use super::render::{self, LobbyEvent, Role};
use super::standing::MAX_SEATS;
use super::{CANCEL_CHECK, FEED_CAPACITY, LOBBY_HELP};

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

    pub(super) fn lead(&mut self, mut leading: Leading, line: &str) -> Stage {
        match LobbyInput::from(line) {
            LobbyInput::Members => self.show_members(&leading.lobby.members()),
            LobbyInput::Leave => {
                self.end_lobby(leading, "you left");
                return Stage::Menu;
            }
            LobbyInput::Say(text) => {
                for piece in self.pieces(text) {
                    leading.lobby.say(piece.to_string());
                    let line = format!("[{}] {piece}", self.my_name());
                    self.out.log(leading.log, line);
                }
            }
            LobbyInput::Invite(name) => self.leader_invite(&mut leading, name, None),
            LobbyInput::Private { to, text } => self.leader_private(&mut leading, to, text),
            LobbyInput::Kick { name, reason } => self.kick(&leading, name, reason),
            LobbyInput::Handover(to) => return self.hand_over(leading, to),
            other => self.answer_lobby_input(other),
        }
        Stage::Leading(leading)
    }

    pub(super) fn member(&mut self, mut membership: Membership, line: &str) -> Stage {
        match LobbyInput::from(line) {
            LobbyInput::Members => self.show_members(&membership.members),
            LobbyInput::Leave => {
                self.leave_membership(membership);
                return Stage::Menu;
            }
            LobbyInput::Say(text) => {
                for piece in self.pieces(text) {
                    let rejoining = membership.is_rejoining();
                    if !membership.standing.sent(piece, rejoining) {
                        self.say("Not sent: too many lines wait for the lobby's leader.");
                        return Stage::Member(membership);
                    }
                    let line = format!("[{}] {piece}", self.my_name());
                    self.out.log(membership.log, line);
                    membership.send(ToLeader::Msg(piece.to_string()));
                }
            }
            LobbyInput::Invite(name) => self.member_invite(&membership, name),
            LobbyInput::Private { to, text } => self.member_private(&mut membership, to, text),
            LobbyInput::Kick { .. } => self.say("Only the leader can remove members."),
            LobbyInput::Handover(_) => self.say("Only the leader can hand the lobby on."),
            other => self.answer_lobby_input(other),
        }
        Stage::Member(membership)
    }

    /// A typed message as the texts it is sent as: several, and the user
    /// told so, when it is longer than one message may be.
    fn pieces<'t>(&self, text: &'t str) -> Vec<&'t str> {
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

    pub(super) fn show_members(&self, members: &[String]) {
        self.say(format!("Members: {}", members.join(", ")));
    }

    /// What a leader and a member answer alike.
    pub(super) fn answer_lobby_input(&mut self, input: LobbyInput<'_>) {
        match input {
            LobbyInput::Help => {
                self.say(LOBBY_HELP);
                self.say(long_messages());
            }
            LobbyInput::Unknown(command) => {
                self.say(format!("Unknown command {command}. {LOBBY_HELP}"));
            }
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
            LobbyInput::Nothing
            | LobbyInput::Members
            | LobbyInput::Leave
            | LobbyInput::Say(_)
            | LobbyInput::Invite(_)
            | LobbyInput::Private { .. }
            | LobbyInput::Kick { .. }
            | LobbyInput::Handover(_) => {}
        }
    }

    /// Ends the lobby we lead. What it relayed and we have not handled
    /// yet still goes to its log (not to the screen: the user moved on).
    pub(super) fn end_lobby(&mut self, leading: Leading, why: &str) {
        leading.cancel.store(true, Ordering::SeqCst);
        let unnoticed = leading.lobby.close(CloseReason::LeaderLeft);
        for notice in leading.notices.try_iter().chain(unnoticed) {
            let logged = render::lines(&LobbyEvent::from(notice), Role::Leader).log;
            self.out.log(leading.log, logged.unwrap_or_default());
        }
        self.out.event(
            leading.log,
            &LobbyEvent::Ended(why.to_string()),
            Role::Leader,
        );
    }

    pub(super) fn leave_membership(&mut self, membership: Membership) {
        match &membership.phase {
            Phase::Rejoining { cancel, .. } => cancel.store(true, Ordering::SeqCst),
            Phase::Invited { .. } | Phase::Admitted { .. } => membership.send(ToLeader::Leave),
        }
        self.out.log(membership.log, "* you left the lobby");
        self.notice(format!("You left {}'s lobby.", membership.leader));
    }

    pub(super) fn answer_request(&mut self, pending: Pending, answer: &str) {
        match answer.to_ascii_lowercase().as_str() {
            "ok" | "yes" | "y" => self.accept_request(pending),
            "reject" | "no" | "n" => {
                let _ = pending.answer.send(ChatAnswer::Reject);
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

    /// The user said yes: the chat connection's thread gets a new lobby id
    /// and the outbox, and we are a member until the leader says otherwise.
    fn accept_request(&mut self, pending: Pending) {
        self.next_lobby += 1;
        let id = self.next_lobby;
        let (outbox, outbox_rx) = unbounded();
        // Bounded, so a flooding lobby waits in TCP rather than in memory.
        let (feed, feed_rx) = bounded(FEED_CAPACITY);
        let accept = ChatAnswer::Accept {
            outbox: outbox_rx,
            feed,
        };
        if pending.answer.send(accept).is_err() {
            self.say(format!(
                "The chat request from '{}' was withdrawn.",
                pending.from
            ));
            self.prompt();
            return;
        }
        self.notice(format!("Joining {}'s lobby...", pending.from));
        self.stage = Stage::Member(Membership {
            id,
            leader: pending.from,
            members: Vec::new(),
            log: None,
            standing: Box::default(),
            phase: Phase::Invited {
                outbox,
                feed: feed_rx,
            },
        });
    }

    pub(super) fn on_invited(&mut self, lobby: u64, name: String, outcome: Outcome) {
        let Stage::Leading(leading) = &mut self.stage else {
            return;
        };
        if leading.id != lobby {
            // An answer for a lobby that has ended: tell an accepting
            // invitee so rather than leaving it waiting.
            if let Outcome::Accepted { mut conn, .. } = outcome {
                let _ = conn.socket().set_write_timeout(Some(CANCEL_CHECK));
                let _ = conn.send(&ToMember::Closed(CloseReason::LeaderLeft));
            }
            return;
        }
        leading.invitations.answered(&name);
        let (report, status) = match outcome {
            Outcome::Accepted { addr, key, conn } => {
                // Everyone hears `JOINED` from the hub instead.
                leading.lobby.admit_from(name.clone(), addr, key, *conn);
                let report = format!("OK -> ('{}', {})", addr.ip(), addr.port());
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
            leading.lobby.invitation(name, status);
        }
        self.notice(report);
        self.maybe_end_empty_lobby();
    }

    /// A leader left alone, with no chat request still open, has no lobby.
    pub(super) fn maybe_end_empty_lobby(&mut self) {
        let Stage::Leading(leading) = &self.stage else {
            return;
        };
        if leading.invitations.len() > 0 || leading.lobby.members().len() > 1 {
            return;
        }
        if let Stage::Leading(leading) = std::mem::replace(&mut self.stage, Stage::Menu) {
            self.end_lobby(leading, "nobody else is in it");
            self.prompt();
        }
    }

    pub(super) fn on_notice(&mut self, notice: Notice) {
        if let Notice::InviteAsked { by, name } = notice {
            self.on_invite_asked(by, name);
            return;
        }
        if !matches!(self.stage, Stage::Leading(_)) {
            return;
        }
        let someone_left = matches!(
            notice,
            Notice::Left(_)
                | Notice::Dropped(_)
                | Notice::Silent(_)
                | Notice::TooLong(_)
                | Notice::Kicked { .. }
        );
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
        self.out.event(leading.log, &event, Role::Leader);
        if someone_left {
            self.maybe_end_empty_lobby();
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
        if let (ToMember::Members(_), Phase::Invited { .. }) = (&line, &membership.phase) {
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
            let Stage::Member(membership) = std::mem::replace(&mut self.stage, Stage::Menu) else {
                unreachable!("checked above");
            };
            self.stage = self.follow_handover(membership, to);
            self.prompt();
            return;
        }
        if let ToMember::Sealed { from, sealed } = &line {
            let standing = &membership.standing;
            let lobby = standing.lobby().unwrap_or_default();
            let seat = standing.roster.seat(from).map(|seat| seat.key);
            let key = super::sealed::sender_key(seat, vouched);
            let secret = identity.as_deref().map(Identity::seal_secret);
            let event =
                super::sealed::opened(secret, lobby, key.as_ref(), from.clone(), &me, sealed);
            let event = self.replays.once(sealed, event);
            let role = Role::Member {
                leader: &membership.leader,
            };
            self.out.event(membership.log, &event, role);
            return;
        }
        let ToMember::Closed(reason) = line else {
            membership.show(line, &self.out);
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

/// Why the leader's `CLOSED` ends the lobby for us, in words.
fn closed_why(reason: CloseReason, leader: &str) -> String {
    match reason {
        CloseReason::LeaderLeft => "the leader left".to_string(),
        CloseReason::Kicked(None) => format!("{leader} removed you"),
        CloseReason::Kicked(Some(why)) => format!("{leader} removed you: {why}"),
        other => other.to_string(),
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
        let between = matches!(
            line,
            ToMember::History { .. } | ToMember::Hello | ToMember::Succession(_)
        );
        if let Phase::Admitted { earlier, .. } = &mut self.phase
            && *earlier
            && !between
        {
            *earlier = false;
            screen.show(ScreenLine::Notice(
                "--- end of earlier messages ---".to_string(),
            ));
        }
        let Some(event) = self.follow(line, screen) else {
            return;
        };
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
            ToMember::Left(name) if self.members.contains(&name) => {
                self.members.retain(|m| *m != name);
                LobbyEvent::Left(name)
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
            ToMember::Err(code, text) => LobbyEvent::LeaderSays(code, text),
            ToMember::Left(_)
            | ToMember::ChatRequest { .. }
            | ToMember::Hello
            | ToMember::Closed(_)
            | ToMember::Succession(_) => return None,
        })
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
