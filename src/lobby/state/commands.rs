//! Who may say what: a member's lines (messages, private messages, invite
//! requests, leaving), the leader's private messages and kicks, and the
//! liveness rules (`HELLO` to a member that heard nothing for a while,
//! dropping one that said nothing for too long). The rules themselves are
//! plain functions in `lobby/rules.rs`; this applies them to the lobby.

use crate::wire::{CloseReason, ErrorCode, LineError, ParseError, ToLeader, ToMember};

use super::super::Notice;
use super::super::rules::{self, Refusal};
use super::{LobbyState, MemberId, PrivateText, Why};

impl LobbyState {
    /// A line from a member, parsed (or why it did not parse).
    pub(super) fn line(&mut self, id: MemberId, line: Result<ToLeader, ParseError>) {
        // Lines can still arrive from a member that was just removed; they
        // were sent before it left and no longer concern anyone.
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        member.last_heard = self.now.at;
        let name = member.name.clone();
        match line {
            Ok(ToLeader::Msg(text)) => {
                // The lobby stamps the sender's name itself, so nobody can
                // speak as someone else.
                self.relay(Some(id), name.clone(), text.clone());
                self.notify(Notice::Msg { from: name, text });
            }
            Ok(ToLeader::Private { to, text }) => {
                self.member_private(id, name, &to, PrivateText::Plain(text));
            }
            // Relayed as it came: the leader can neither read nor forge it.
            Ok(ToLeader::Sealed { to, sealed }) => {
                self.member_private(id, name, &to, PrivateText::Sealed(sealed));
            }
            Ok(ToLeader::File { to, line }) => {
                self.member_private(id, name, &to, PrivateText::File(line));
            }
            Ok(ToLeader::Invite(asked)) => self.invite_asked(id, name, asked),
            Ok(ToLeader::Away(text)) => self.away_asked(id, name, Some(text)),
            Ok(ToLeader::Back) => self.away_asked(id, name, None),
            // A heartbeat only shows the member is alive; arriving at all
            // is what counts.
            Ok(ToLeader::Hello) => {}
            Ok(ToLeader::Leave) => self.doom(id, Why::Left),
            Ok(ToLeader::Accept(_) | ToLeader::Reject | ToLeader::Busy(_)) => {
                let err = ToMember::Err(ErrorCode::BadArgs, "not expected in a lobby".to_string());
                self.send_to(id, err);
            }
            Err(err) => self.send_to(id, ToMember::Err(err.code, err.text)),
        }
    }

    /// A line too long to frame: the member hears why, and goes.
    pub(super) fn too_long(&mut self, id: MemberId) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        member.last_heard = self.now.at;
        let err = ToMember::Err(ErrorCode::LineTooLong, LineError::TooLong.to_string());
        self.send_to(id, err);
        self.doom(id, Why::TooLong);
    }

    fn refuse(&mut self, id: MemberId, refusal: Refusal) {
        self.send_to(id, ToMember::Err(refusal.code, refusal.text));
    }

    /// `ERR` to the member called `to`, for a request the leader's peer
    /// turned down.
    pub(super) fn refuse_named(&mut self, to: &str, code: ErrorCode, text: String) {
        if let Some(id) = self.id_of(to) {
            self.send_to(id, ToMember::Err(code, text));
        }
    }

    /// A member's `PM`: to the addressee alone, stamped with the sender's
    /// name; never kept in the history.
    fn member_private(&mut self, id: MemberId, from: String, to: &str, text: PrivateText) {
        let target = rules::private_to(&self.everyone(), &from, to).map(|(at, _)| at);
        match target {
            Err(refusal) => self.refuse(id, refusal),
            Ok(0) => {
                let notice = match text {
                    PrivateText::Plain(text) => Notice::Private { from, text },
                    PrivateText::File(line) => {
                        // The sender's seat: where the leader's peer
                        // fetches an offered file, and the key it proves.
                        let seat = self.roster.seat(&from).cloned();
                        Notice::File { from, line, seat }
                    }
                    PrivateText::Sealed(sealed) => {
                        // The sender's key, for the leader's peer to check
                        // the seal with, if the sender has a seat.
                        let key = self.roster.seat(&from).map(|seat| seat.key);
                        Notice::Sealed {
                            lobby: self.roster.lobby.clone(),
                            from,
                            key,
                            sealed,
                        }
                    }
                };
                self.notify(notice);
            }
            Ok(_) => {
                // `everyone` and `id_of` both leave out members on their way
                // out, so the member `private_to` found is there.
                if let Some(to) = self.id_of(to) {
                    self.send_to(to, private_line(from, text));
                }
            }
        }
    }

    /// The leader's `PM`.
    pub(super) fn leader_private(
        &mut self,
        to: &str,
        text: PrivateText,
    ) -> Result<String, ParseError> {
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
        self.send_to(id, private_line(leader, text));
        Ok(name)
    }

    /// A member's `INVITE`: refused here if the rules say so, otherwise the
    /// leader's peer decides.
    fn invite_asked(&mut self, id: MemberId, by: String, name: String) {
        let now = self.now.at;
        let allowed = self.members.get_mut(&id).is_some_and(|m| m.asks.allow(now));
        if !allowed {
            return self.refuse(id, rules::too_many_asks());
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

    /// A member's `AWAY` or `BACK`, about itself only: the name is the
    /// connection's, never the line's. Each is relayed to everyone, so they
    /// are counted as invite requests are.
    fn away_asked(&mut self, id: MemberId, name: String, away: Option<String>) {
        let now = self.now.at;
        let allowed = self
            .members
            .get_mut(&id)
            .is_some_and(|m| m.away_changes.allow(now));
        if !allowed {
            return self.refuse(id, rules::too_many_away_changes());
        }
        self.set_away(Some(id), name, away);
    }

    /// Removes a member at the leader's word: `CLOSED KICKED` to it, and
    /// `KICKED` and `LEFT` to the others as it is reaped.
    pub(super) fn remove_at_leaders_word(
        &mut self,
        name: &str,
        reason: Option<String>,
    ) -> Option<String> {
        let id = self.id_of(name)?;
        let name = self.members.get(&id)?.name.clone();
        self.send_to(id, ToMember::Closed(CloseReason::Kicked(reason.clone())));
        self.doom(id, Why::Kicked(reason));
        Some(name)
    }

    /// Says `HELLO` to members that have heard nothing for a while, and
    /// drops members that have said nothing for too long.
    pub(super) fn tick(&mut self) {
        let now = self.now.at;
        let (silence, hello) = (self.config.silence_timeout, self.config.hello_interval);
        // Decided first, in admission order, then carried out: dropping a
        // member changes the map being walked.
        let mut due = Vec::new();
        for (&id, member) in &self.members {
            if member.leaving {
                continue;
            }
            if now.duration_since(member.last_heard) >= silence {
                due.push((id, true));
            } else if now.duration_since(member.last_sent) >= hello {
                due.push((id, false));
            }
        }
        for (id, silent) in due {
            if silent {
                self.doom(id, Why::Silent);
            } else {
                self.send_to(id, ToMember::Hello);
            }
        }
        self.forget_away();
    }
}

/// A private message's line to its recipient, stamped with its sender.
fn private_line(from: String, text: PrivateText) -> ToMember {
    match text {
        PrivateText::Plain(text) => ToMember::Private { from, text },
        PrivateText::Sealed(sealed) => ToMember::Sealed { from, sealed },
        PrivateText::File(line) => ToMember::File { from, line },
    }
}
