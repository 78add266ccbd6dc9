//! The user's away state (`/away [text]`, `/back`), which is the user's,
//! not a lobby's: it survives lobby changes and ends with the session. The
//! core keeps it, tells the registry (`AWAY`, `BACK`) and the lobby it is
//! in (`AWAY [text]` to its leader, or its own hub's `AWAY <name> [text]`),
//! and says before a chat request goes out that its invitee is away. No
//! I/O: the registry's answer comes back as a `RegistryReply`.

use crate::client::Refused;
use crate::sanitize::escape;
use crate::wire::{self, Contact};

use super::app::App;
use super::away_notes::AwayChange;
use super::effect::Effect;
use super::msg::RegistryAsk;
use super::stage::Stage;

/// What a member tells its leader: `AWAY [text]` or `BACK`.
pub(super) fn away_line(away: Option<String>) -> wire::ToLeader {
    match away {
        Some(text) => wire::ToLeader::Away(text),
        None => wire::ToLeader::Back,
    }
}

impl App {
    /// Whether the user is away, and with which text (empty: none). A
    /// query for the prompt, as `want` is: the driver may ask it before
    /// each read.
    pub(super) fn away(&self) -> Option<&str> {
        self.away.as_deref()
    }

    /// `/away [text]` or `/back`: the registry is told, and the new state
    /// returned (`Some(text)` away, `None` back) for the lobby we are in,
    /// if it changed. The caller holds that lobby's stage.
    pub(super) fn change_away(&mut self, change: AwayChange) -> Option<Option<String>> {
        let away = match change.resolve(self.away().is_some()) {
            AwayChange::Away(text) => {
                if let Err(err) = wire::check_away(&text) {
                    self.say(format!("Not marked away: {}.", err.text));
                    return None;
                }
                Some(text)
            }
            AwayChange::Back if self.away.is_none() => {
                self.say("You are not marked away; /away [text] marks you away.");
                return None;
            }
            AwayChange::Back => None,
        };
        match &away {
            Some(text) if text.is_empty() => self.notice("You are marked away.".into()),
            Some(text) => self.notice(format!("You are marked away: {text}.")),
            None => self.notice("You are back.".into()),
        }
        self.away.clone_from(&away);
        self.place.set_away(away.is_some());
        self.out
            .push(Effect::ToRegistry(RegistryAsk::Away(away.clone())));
        Some(away)
    }

    /// Tells the lobby in the current stage that we are away, if we are:
    /// when a leader admits us (a new one, after a rejoin, too), since a
    /// lobby's leader takes our name from our connection, never from us.
    /// Back, after having told a lobby we were away, we say so again: a
    /// `/back` typed while the connection was down never reached the
    /// leader, and a new leader learned our `AWAY` as a member; a leader
    /// that did not think us away takes `BACK` as nothing.
    pub(super) fn tell_lobby_away(&mut self) {
        let Stage::Member(membership) = &self.stage else {
            return;
        };
        match self.away.clone() {
            Some(text) => {
                membership.send(&self.out, away_line(Some(text)));
                self.away_told = true;
            }
            None if self.away_told => {
                membership.send(&self.out, away_line(None));
                self.away_told = false;
            }
            None => {}
        }
    }

    /// The registry's answer to `AWAY` or `BACK`: said only if it failed,
    /// since the user heard the change already.
    pub(super) fn on_away(&self, result: Result<(), Refused>) {
        if let Err(err) = result {
            self.say(format!(
                "The registry did not take your away state ({err}); others may not see it \
                 in lists until you type /away again."
            ));
        }
    }

    /// Said before a chat request goes to an away user: it still answers.
    pub(super) fn say_if_away(&self, contact: &Contact) {
        match contact.away.as_deref() {
            None => {}
            Some("") => self.say(format!("{} is away; asking anyway.", contact.name)),
            Some(text) => self.say(format!(
                "{} is away ({}); asking anyway.",
                contact.name,
                escape(text)
            )),
        }
    }
}
