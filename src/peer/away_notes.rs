//! Away as plain values: what `/away [text]` and `/back` change
//! (`AwayChange`), who in a lobby is away (`AwayList`, for `/who`), and how
//! a name is marked away in a list (`away_note`). A plain module: no clock,
//! no I/O; `away.rs` applies them in the core.

use crate::sanitize::escape;

use super::render::LobbyEvent;
use super::standing::MAX_SEATS;

/// The most names an `AwayList` keeps: as many as a member list holds.
const MAX_NOTES: usize = MAX_SEATS;

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

/// Who in a lobby is away, as its lines said (`AWAY`, `BACK`), with the
/// text: for `/who`. It holds at most `MAX_NOTES` names, so a leader
/// cannot grow it without bound.
#[derive(Debug, Default)]
pub(super) struct AwayList {
    notes: Vec<(String, String)>,
}

impl AwayList {
    /// `name` is away with `text`; false if the list is full.
    pub(super) fn set(&mut self, name: &str, text: &str) -> bool {
        if let Some(note) = self.notes.iter_mut().find(|(n, _)| n == name) {
            note.1 = text.to_string();
            return true;
        }
        if self.notes.len() >= MAX_NOTES {
            return false;
        }
        self.notes.push((name.to_string(), text.to_string()));
        true
    }

    /// `name` is back (or gone); whether it was away.
    pub(super) fn back(&mut self, name: &str) -> bool {
        let before = self.notes.len();
        self.notes.retain(|(n, _)| n != name);
        self.notes.len() != before
    }

    pub(super) fn clear(&mut self) {
        self.notes.clear();
    }

    /// `name`'s away text, if it is away.
    pub(super) fn of(&self, name: &str) -> Option<&str> {
        self.notes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, text)| text.as_str())
    }

    /// `names` as `/who` shows them: `alice, bob (away: lunch)`; `me` (our
    /// own name) is marked with `mine`, which we know best.
    pub(super) fn who(&self, names: &[String], me: &str, mine: Option<&str>) -> String {
        let shown: Vec<String> = names
            .iter()
            .map(|name| {
                let away = if name == me { mine } else { self.of(name) };
                format!("{name}{}", away_note(away))
            })
            .collect();
        shown.join(", ")
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

/// Keeps `list` up to date with a lobby event: `AWAY` and `BACK`, and a
/// name that joins or goes is here, as far as we know. A new member list
/// (`MEMBERS`, after an admission or a rejoin) starts it again: who is away
/// follows it.
pub(super) fn follow(list: &mut AwayList, event: &LobbyEvent) {
    match event {
        LobbyEvent::Away { name, text } => {
            list.set(name, text);
        }
        LobbyEvent::Members(_) => list.clear(),
        LobbyEvent::Back(name)
        | LobbyEvent::Joined(name)
        | LobbyEvent::Left(name)
        | LobbyEvent::Lost(name)
        | LobbyEvent::Dropped(name)
        | LobbyEvent::Silent(name)
        | LobbyEvent::TooLong(name)
        | LobbyEvent::Kicked { name, .. } => {
            list.back(name);
        }
        _ => {}
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
    fn the_away_list_shows_who_is_away_and_stays_bounded() {
        let mut list = AwayList::default();
        let names: Vec<String> = ["alice", "bob", "carol"].map(String::from).to_vec();
        assert!(list.set("bob", "lunch"));
        assert!(list.set("alice", ""));
        assert_eq!(
            list.who(&names, "carol", Some("tea")),
            "alice (away), bob (away: lunch), carol (away: tea)"
        );
        assert!(list.set("bob", "dinner"));
        assert_eq!(list.of("bob"), Some("dinner"));
        assert!(list.back("bob"));
        assert!(!list.back("bob"));
        assert_eq!(list.who(&names, "carol", None), "alice (away), bob, carol");
        for i in 0..MAX_NOTES * 2 {
            list.set(&format!("m{i}"), "x");
        }
        assert_eq!(list.notes.len(), MAX_NOTES);
    }

    #[test]
    fn notes_are_escaped() {
        assert_eq!(away_note(None), "");
        assert_eq!(away_note(Some("")), " (away)");
        assert_eq!(away_note(Some("lunch")), " (away: lunch)");
        assert!(!away_note(Some("a\u{1b}[2Jb")).contains('\u{1b}'));
    }
}
