//! The hub's side of the lobby's commands: private messages, members'
//! invite requests, kicks, and what the lobby knows of its members. The
//! rules themselves are plain functions in `lobby/rules.rs`; this applies
//! them to the hub's state and queues the lines they call for. Like the rest
//! of the hub, it never blocks on a socket.

use std::time::Instant;

use crate::wire::{CloseReason, Contact, ErrorCode, ParseError, ToMember};

use super::super::Notice;
use super::super::member::{Exit, MemberId, doom};
use super::super::rules::{self, Refusal};
use super::Hub;

impl Hub {
    /// The names of everyone in the lobby, the leader first, for the rules.
    /// A member on its way out (doomed, not yet reaped) is not counted.
    pub(super) fn everyone(&self) -> Vec<&str> {
        let mut names = Vec::with_capacity(self.members.len() + 1);
        names.push(self.config.leader.as_str());
        let staying = self.members.values().filter(|m| !m.doomed);
        names.extend(staying.map(|m| m.name.as_str()));
        names
    }

    /// The member called `name` (ignoring case), if there is one that is not
    /// on its way out.
    pub(super) fn id_of(&self, name: &str) -> Option<MemberId> {
        self.members
            .iter()
            .find(|(_, m)| !m.doomed && m.name.eq_ignore_ascii_case(name))
            .map(|(&id, _)| id)
    }

    pub(super) fn refuse(&mut self, id: MemberId, refusal: Refusal) {
        self.send_to(id, &ToMember::Err(refusal.code, refusal.text));
    }

    pub(super) fn refuse_named(&mut self, to: &str, code: ErrorCode, text: String) {
        if let Some(id) = self.id_of(to) {
            self.send_to(id, &ToMember::Err(code, text));
        }
    }

    /// A member's `PM`: to the addressee alone, stamped with the sender's
    /// name; never kept in the history.
    pub(super) fn member_private(&mut self, id: MemberId, from: String, to: &str, text: String) {
        let target = rules::private_to(&self.everyone(), &from, to).map(|(at, _)| at);
        match target {
            Err(refusal) => self.refuse(id, refusal),
            Ok(0) => self.notify(Notice::Private { from, text }),
            Ok(_) => {
                // `everyone` and `id_of` both leave doomed members out, so
                // the member `private_to` found is there.
                if let Some(to) = self.id_of(to) {
                    self.send_to(to, &ToMember::Private { from, text });
                }
            }
        }
    }

    /// The leader's `PM`.
    pub(super) fn leader_private(&mut self, to: &str, text: String) -> Result<String, ParseError> {
        let leader = self.config.leader.clone();
        let name = rules::private_to(&self.everyone(), &leader, to)
            .map(|(_, name)| name.to_string())
            .map_err(|refusal| ParseError::new(refusal.code, refusal.text))?;
        let id = self.id_of(&name).ok_or_else(|| {
            ParseError::new(
                ErrorCode::NotInLobby,
                format!("{name} is not in this lobby"),
            )
        })?;
        self.send_to(id, &ToMember::Private { from: leader, text });
        Ok(name)
    }

    /// A member's `INVITE`: refused here if the rules say so, otherwise the
    /// leader's peer decides.
    pub(super) fn invite_asked(&mut self, id: MemberId, by: String, name: String) {
        let now = Instant::now();
        let allowed = self.members.get_mut(&id).is_some_and(|m| m.asks.allow(now));
        if !allowed {
            self.refuse(id, rules::too_many_asks());
            return;
        }
        match rules::may_ask_invite(self.config.invites, &self.everyone(), &name) {
            Ok(()) => self.notify(Notice::InviteAsked { by, name }),
            Err(refusal) => {
                if refusal.code == ErrorCode::LeaderOnly {
                    self.notify(Notice::InviteDenied { by, name });
                }
                self.refuse(id, refusal);
            }
        }
    }

    /// Removes a member at the leader's word: `CLOSED KICKED` to it, and
    /// `KICKED` and `LEFT` to the others as it is reaped.
    pub(super) fn kick(&mut self, name: &str, reason: Option<String>) -> Option<String> {
        let id = self.id_of(name)?;
        self.send_to(id, &ToMember::Closed(CloseReason::Kicked(reason.clone())));
        let member = self.members.get_mut(&id)?;
        let name = member.name.clone();
        doom(id, member, Exit::Kicked(reason), &mut self.doomed);
        Some(name)
    }

    /// The members whose chat address is known, in admission order.
    pub(super) fn contacts(&self) -> Vec<Contact> {
        let known = self.members.values().filter_map(|m| {
            let addr = m.chat_addr?;
            Some(Contact {
                name: m.name.clone(),
                ip: addr.ip(),
                port: addr.port(),
            })
        });
        known.collect()
    }
}
