//! The user's away state (`/away [text]`, `/back`), which is the user's,
//! not a lobby's: it survives lobby changes and ends with the session. The
//! core keeps it, tells the registry (`AWAY`, `BACK`), and shows how others
//! are marked away in lists, searches and before a chat request goes out.
//! It does no I/O: the registry's answer comes back as a `RegistryReply`.

use crate::client::Refused;
use crate::sanitize::escape;
use crate::wire::{self, Contact};

use super::app::App;
use super::effect::Effect;
use super::msg::RegistryAsk;

/// What `/away [text]` does, given whether the user is away now: as in
/// irssi, `/away` with no text while away means back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum AwayChange {
    Away(String),
    Back,
}

impl AwayChange {
    /// `/away <text>` (text may be empty, `text` already trimmed).
    pub(super) fn away(text: &str) -> AwayChange {
        AwayChange::Away(text.trim().to_string())
    }

    /// What the change means while the user is `away` or not.
    pub(super) fn resolve(self, away: bool) -> AwayChange {
        match self {
            AwayChange::Away(text) if text.is_empty() && away => AwayChange::Back,
            change => change,
        }
    }
}

/// ` (away: lunch)`, ` (away)` or nothing: what a list or a search shows
/// after a user's name. The text came from the network, so it is escaped.
pub(super) fn away_note(away: Option<&str>) -> String {
    match away {
        None => String::new(),
        Some("") => " (away)".to_string(),
        Some(text) => format!(" (away: {})", escape(text)),
    }
}

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
        self.out.push(Effect::ToRegistry(RegistryAsk::Away(away)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn away_with_no_text_while_away_is_back() {
        for (text, away, expected) in [
            ("lunch", false, AwayChange::Away("lunch".into())),
            ("lunch", true, AwayChange::Away("lunch".into())),
            ("", false, AwayChange::Away(String::new())),
            ("  ", false, AwayChange::Away(String::new())),
            ("", true, AwayChange::Back),
            (" ", true, AwayChange::Back),
        ] {
            let change = AwayChange::away(text).resolve(away);
            assert_eq!(change, expected, "{text:?} {away}");
        }
        assert_eq!(AwayChange::Back.resolve(true), AwayChange::Back);
    }

    #[test]
    fn notes_are_escaped() {
        assert_eq!(away_note(None), "");
        assert_eq!(away_note(Some("")), " (away)");
        assert_eq!(away_note(Some("lunch")), " (away: lunch)");
        assert!(!away_note(Some("a\u{1b}[2Jb")).contains('\u{1b}'));
    }
}
