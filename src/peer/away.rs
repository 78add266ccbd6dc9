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
use super::effect::{Effect, LobbyCommand};
use super::msg::RegistryAsk;
use super::stage::Stage;

impl App {
    /// Whether the user is away, and with which text (empty: none). A
    /// query for the prompt, as `want` is: the driver may ask it before
    /// each read.
    pub(super) fn away(&self) -> Option<&str> {
        self.away.as_deref()
    }

    /// `/away [text]` (`rest` is what follows the command) or `/back`.
    pub(super) fn change_away(&mut self, change: AwayChange) {
        let away = match change.resolve(self.away().is_some()) {
            AwayChange::Away(text) => {
                if let Err(err) = wire::check_away(&text) {
                    return self.say(format!("Not marked away: {}.", err.text));
                }
                Some(text)
            }
            AwayChange::Back if self.away.is_none() => {
                return self.say("You are not marked away; /away [text] marks you away.");
            }
            AwayChange::Back => None,
        };
        match &away {
            Some(text) if text.is_empty() => self.notice("You are marked away.".into()),
            Some(text) => self.notice(format!("You are marked away: {text}.")),
            None => self.notice("You are back.".into()),
        }
        self.away.clone_from(&away);
        self.tell_lobby_away(true);
        self.out.push(Effect::ToRegistry(RegistryAsk::Away(away)));
    }

    /// Tells the lobby we are in how we are: at once (`changed`), or when
    /// we join one (as its leader, or admitted as a member) and are away.
    /// A lobby's leader takes our name from our connection, never from us.
    pub(super) fn tell_lobby_away(&mut self, changed: bool) {
        if !changed && self.away.is_none() {
            return;
        }
        let away = self.away.clone();
        match &self.stage {
            Stage::Leading(leading) => {
                let id = leading.id;
                self.to_lobby(id, LobbyCommand::Away(away));
            }
            Stage::Member(membership) => {
                let line = match away {
                    Some(text) => wire::ToLeader::Away(text),
                    None => wire::ToLeader::Back,
                };
                membership.send(&self.out, line);
            }
            _ => {}
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
