//! The lobby's `/commands` carried out, for a leader and for a member:
//! invitations into a running lobby, private messages, kicks.

use crate::crypto::Identity;
use crate::screen::ScreenLine;
use crate::wire::{Contact, ErrorCode, InviteStatus, ToLeader};

use super::app::App;
use super::effect::{Effect, LobbyCommand, MembersFor};
use super::msg::{NotInvited, RegistryAsk};
use super::stage::{Leading, Membership, Phase, Stage};

impl App {
    /// The leader's `/invite`, or a member's that the hub let through
    /// (`asked_by`): a chat request as at the start, while the chat goes on.
    /// The leader's own needs the invitee not in the lobby yet, which the
    /// hub is asked first (`MembersFor::Invite`).
    pub(super) fn leader_invite(
        &mut self,
        leading: &mut Leading,
        name: &str,
        asked_by: Option<String>,
    ) {
        if asked_by.is_some() {
            return self.invite_checked(leading, name, asked_by);
        }
        if name.eq_ignore_ascii_case(&self.my_name()) {
            self.say("That is you.");
            return;
        }
        let members = LobbyCommand::Members(MembersFor::Invite(name.to_string()));
        self.to_lobby(leading.id, members);
    }

    /// An invitation that may go out as far as the lobby's members go: the
    /// registry is asked for a ticket. The invitation counts from now, so
    /// that nobody asks for it twice while the registry answers.
    pub(super) fn invite_checked(
        &mut self,
        leading: &mut Leading,
        name: &str,
        asked_by: Option<String>,
    ) {
        let by = asked_by.clone().unwrap_or_else(|| self.my_name());
        if let Err((code, text)) = leading.invitations.check(name, &by) {
            match asked_by {
                Some(asker) => {
                    self.say(format!("{asker} asked to invite {name}; refused: {text}."));
                    let to = asker;
                    self.to_lobby(leading.id, LobbyCommand::Refuse { to, code, text });
                }
                None => self.say(format!("Not invited: {text}.")),
            }
            return;
        }
        leading.invitations.sent(name, &by, self.now.at);
        self.out.push(Effect::ToRegistry(RegistryAsk::Ticket {
            lobby: leading.id,
            name: name.to_string(),
            by: asked_by,
        }));
    }

    /// The registry's answer for an invitation into the running lobby:
    /// the chat request goes out, and every member hears that it did, and
    /// later how it ended; or everyone hears why it could not.
    pub(super) fn invite_ticket(
        &mut self,
        name: String,
        by: Option<String>,
        result: Result<(Contact, String), NotInvited>,
    ) {
        let Stage::Leading(mut leading) = std::mem::replace(&mut self.stage, Stage::Menu) else {
            return;
        };
        let me = self.my_name();
        let by = by.unwrap_or_else(|| me.clone());
        match result {
            Ok((contact, ticket)) => {
                self.send_invitation(leading.id, &me, contact, ticket);
                let asked = if by == me {
                    String::new()
                } else {
                    format!(" (asked by {by})")
                };
                self.say(format!("Sending a chat request to {name}{asked}..."));
                self.show_still_asked(&leading);
                self.out
                    .log(leading.log, format!("* invited {name}{asked}"));
                let status = InviteStatus::Sent { by };
                self.to_lobby(leading.id, LobbyCommand::Invitation { name, status });
            }
            Err(why) => {
                leading.invitations.answered(&name);
                self.say(format!("{name}: {why}"));
                let event = format!("* could not invite {name}: {why}");
                self.out.log(leading.log, event);
                let asked = (by != me).then_some(by);
                self.not_invited(&leading, name, asked, &why);
            }
        }
        self.stage = Stage::Leading(leading);
    }

    /// Tells the lobby why no request went out. A name the registry does
    /// not know is nothing the lobby need hear of; only a member who asked
    /// for it is answered.
    fn not_invited(
        &self,
        leading: &Leading,
        name: String,
        asked: Option<String>,
        why: &NotInvited,
    ) {
        match (why.status(), asked) {
            (Some(status), _) => {
                self.to_lobby(leading.id, LobbyCommand::Invitation { name, status })
            }
            (None, Some(to)) => {
                let code = ErrorCode::NotFound;
                let text = format!("{name} is not registered");
                self.to_lobby(leading.id, LobbyCommand::Refuse { to, code, text });
            }
            (None, None) => {}
        }
    }

    /// A member asked the leader's peer to invite `name`.
    pub(super) fn on_invite_asked(&mut self, by: String, name: String) {
        if !matches!(self.stage, Stage::Leading(_)) {
            return;
        }
        let Stage::Leading(mut leading) = std::mem::replace(&mut self.stage, Stage::Menu) else {
            unreachable!("checked just above");
        };
        self.say(format!("{by} asks you to invite {name}."));
        self.leader_invite(&mut leading, &name, Some(by));
        self.stage = Stage::Leading(leading);
    }

    /// The leader's `/kick`; the hub's notice shows and logs the removal.
    pub(super) fn kick(&mut self, leading: &Leading, name: &str, reason: Option<&str>) {
        if name.eq_ignore_ascii_case(&self.my_name()) {
            self.say("You lead this lobby; /leave hands it on, /end ends it for everyone.");
            return;
        }
        let reason = reason.map(str::to_string);
        let name = name.to_string();
        self.to_lobby(leading.id, LobbyCommand::Kick { name, reason });
    }

    /// A member's `/invite`: the leader's peer decides.
    pub(super) fn member_invite(&mut self, membership: &Membership, name: &str) {
        if membership
            .members
            .iter()
            .any(|m| m.eq_ignore_ascii_case(name))
        {
            self.say(format!("{name} is in this lobby already."));
            return;
        }
        membership.send(&self.out, ToLeader::Invite(name.to_string()));
        self.say(format!("Asked {} to invite {name}.", membership.leader));
    }

    /// A member's `/msg`: relayed by the leader to `to` alone.
    pub(super) fn member_private(&mut self, membership: &mut Membership, to: &str, text: &str) {
        if to.eq_ignore_ascii_case(&self.my_name()) {
            self.say("That is you.");
            return;
        }
        if let Err(why) = private_to_whom(membership, to) {
            self.say(format!("Not sent: {why}."));
            return;
        }
        let identity = self.identity();
        let me = self.my_name();
        let roster = &membership.standing.roster;
        let secret = identity.as_deref().map(Identity::seal_secret);
        let vouched = self.vouched_key(to);
        let sealed = super::sealed::seal_for(secret, roster, vouched, &me, to, text);
        let (line, private) = match sealed {
            Ok(Some((to, sealed))) => (
                format!("[you -> {to}] (sealed) {text}"),
                ToLeader::Sealed { to, sealed },
            ),
            Err(why) => {
                self.say(format!("Not sent: {why}."));
                return;
            }
            // A member with no key (or a leader that gave us no roster).
            Ok(None) => (
                format!(
                    "[you -> {to}] {text} (not sealed: {to} has no key here; the leader can read it)"
                ),
                ToLeader::Private {
                    to: to.to_string(),
                    text: text.to_string(),
                },
            ),
        };
        self.out.log(membership.log, &line);
        self.say(ScreenLine::Private(line));
        membership.send(&self.out, private);
    }
}

/// Whether a member's `/msg` to `to` can go out now: the leader knows no
/// other members than those it told us of (`MEMBERS`, `JOINED`), and while
/// the lobby looks for a leader there is nobody to carry it. Refused here,
/// it is neither shown as sent nor logged.
fn private_to_whom(membership: &Membership, to: &str) -> Result<(), String> {
    match membership.phase {
        Phase::Rejoining { .. } | Phase::Linking { .. } => {
            Err("the lobby is looking for its leader; send it again once it is back".into())
        }
        // The member list is not known yet: the leader will answer.
        Phase::Invited => Ok(()),
        Phase::Admitted { .. }
            if membership
                .members
                .iter()
                .any(|m| m.eq_ignore_ascii_case(to)) =>
        {
            Ok(())
        }
        Phase::Admitted { .. } => Err(format!("{to} is not in this lobby (/who shows who is)")),
    }
}
