//! The app's side of keys: `/verify <name>` typed at the menu or in a
//! lobby (the driver shows the code from the keyring), and the loud line
//! when a known user's key has changed.
//!
//! It reads no file and no clock: the keyring is the driver's and the
//! registry worker's.

use crate::crypto::PeerKey;
use crate::wire::check_name;

use super::app::App;
use super::effect::Effect;
use super::keys::change_warning;
use super::msg::KeyNews;
use super::stage::Stage;

impl App {
    /// Handles `/verify <name>` where commands are typed (the menu and the
    /// lobbies; never at a password prompt). True if `line` was one.
    pub(super) fn verify_command(&mut self, line: &str) -> bool {
        if !matches!(
            self.stage,
            Stage::Menu | Stage::Leading(_) | Stage::Member(_)
        ) {
            return false;
        }
        let Some(rest) = line.trim().strip_prefix("/verify") else {
            return false;
        };
        if !rest.is_empty() && !rest.starts_with(' ') {
            return false;
        }
        match rest.split_whitespace().collect::<Vec<_>>()[..] {
            [name] if check_name(name).is_ok() => self.out.push(Effect::Verify(name.to_string())),
            _ => self.say("Usage: /verify <name>."),
        }
        true
    }

    /// The key the registry last vouched for `name`, as the keyring
    /// remembers it (in memory): what a seat's key is held to before a
    /// private message is sealed to it or believed from it.
    pub(super) fn vouched_key(&self, name: &str) -> Option<PeerKey> {
        self.keys.as_ref()?.known(name)
    }

    /// Says what the keyring found, loudly: never counted as a repeat.
    pub(super) fn on_key_news(&mut self, news: KeyNews) {
        match news {
            KeyNews::Changed(change) => self.say(change_warning(&change)),
            KeyNews::Trouble(why) => self.say(format!("Warning: {why}.")),
        }
    }
}
