//! What Tab completes at a terminal: the commands, and the names of who is
//! in the lobby. The driver hands `LobbyNames` the lobby's names after each
//! input; the line editor's thread reads them when Tab is pressed, and
//! `complete` picks the candidates.
//!
//! The one lock here guards a short list that one thread writes and one
//! reads, never held across anything else; it must never hold more than
//! the member list does.

use std::sync::{Arc, Mutex, PoisonError};

use super::lobby_stage::MAX_MEMBERS;
use super::render::LobbyEvent;
use super::stage::Stage;

/// The commands Tab completes, as typed at the start of a line.
pub const COMMANDS: &[&str] = &[
    "/accept",
    "/away",
    "/back",
    "/cancel",
    "/decline",
    "/files",
    "/handover",
    "/help",
    "/invite",
    "/kick",
    "/leave",
    "/list",
    "/me",
    "/members",
    "/msg",
    "/quit",
    "/search",
    "/send",
    "/verify",
    "/who",
];

/// The names of who is in the current lobby, shared between the driver,
/// which sets them, and the line editor, which completes them.
#[derive(Debug, Clone, Default)]
pub struct LobbyNames(Arc<Mutex<Vec<String>>>);

impl LobbyNames {
    /// The names as they were last set.
    pub fn get(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the names, if they changed.
    pub(super) fn set(&self, names: Vec<String>) {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if *held != names {
            *held = names;
        }
    }
}

/// The names in the lobby of `stage`, for Tab: a member's member list with
/// its leader, a leader's members; none out of a lobby.
pub(super) fn in_stage(stage: &Stage) -> Vec<String> {
    match stage {
        Stage::Member(membership) => {
            let mut names = membership.members.clone();
            if !names.contains(&membership.leader) {
                names.push(membership.leader.clone());
            }
            names
        }
        Stage::Leading(leading) => leading.members.clone(),
        _ => Vec::new(),
    }
}

/// Keeps a leader's list of members up to date with what its hub told.
pub(super) fn follow(members: &mut Vec<String>, event: &LobbyEvent) {
    match event {
        LobbyEvent::Joined(name) if members.len() < MAX_MEMBERS && !members.contains(name) => {
            members.push(name.clone());
        }
        LobbyEvent::Left(name)
        | LobbyEvent::Dropped(name)
        | LobbyEvent::Silent(name)
        | LobbyEvent::TooLong(name)
        | LobbyEvent::Kicked { name, .. } => members.retain(|m| m != name),
        _ => {}
    }
}

/// Where the word under the cursor of `line` (at byte `pos`) starts, and
/// what it could become: a command at the start of the line, else one of
/// `names`, ignoring case, each with a space after it.
pub fn complete(line: &str, pos: usize, names: &[String]) -> (usize, Vec<String>) {
    let Some(before) = line.get(..pos) else {
        return (pos, Vec::new());
    };
    let start = before.rfind(' ').map_or(0, |space| space + 1);
    let word = &before[start..];
    let starts = |candidate: &str| {
        candidate.len() >= word.len()
            && candidate.is_char_boundary(word.len())
            && candidate[..word.len()].eq_ignore_ascii_case(word)
    };
    let candidates: Vec<String> = if start == 0 && word.starts_with('/') {
        COMMANDS
            .iter()
            .filter(|c| starts(c))
            .map(|c| format!("{c} "))
            .collect()
    } else if word.is_empty() {
        Vec::new()
    } else {
        names
            .iter()
            .filter(|n| starts(n))
            .map(|n| format!("{n} "))
            .collect()
    };
    (start, candidates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(line: &str, expected_start: usize, expected: &[&str]) {
        let names: Vec<String> = ["alice", "bob", "Bobby", "carol"]
            .map(String::from)
            .to_vec();
        let (start, got) = complete(line, line.len(), &names);
        let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        assert_eq!((start, got), (expected_start, expected), "{line:?}");
    }

    #[test]
    fn tab_completes_commands_at_the_start_and_names_after() {
        check("/ms", 0, &["/msg "]);
        check("/m", 0, &["/me ", "/members ", "/msg "]);
        check("/MS", 0, &["/msg "]);
        check("/msg bo", 5, &["bob ", "Bobby "]);
        check("/msg BOBB", 5, &["Bobby "]);
        check("/kick ca", 6, &["carol "]);
        check("hi al", 3, &["alice "]);
        check("al", 0, &["alice "]);
        check("/msg ", 5, &[]);
        check("/msg dave", 5, &[]);
        check("/nothing", 0, &[]);
        // A command word after the start is not a command.
        check("hi /ms", 3, &[]);
        check("", 0, &[]);
    }

    #[test]
    fn the_cursor_decides_the_word_and_a_bad_position_gives_nothing() {
        let names = vec!["bob".to_string()];
        assert_eq!(complete("/msg bo hi", 7, &names), (5, vec!["bob ".into()]));
        assert_eq!(complete("ğ", 1, &names), (1, vec![]));
        assert_eq!(complete("/m", 9, &names), (9, vec![]));
    }

    #[test]
    fn a_leader_follows_who_comes_and_goes() {
        let mut members = Vec::new();
        for event in [
            LobbyEvent::Joined("bob".into()),
            LobbyEvent::Joined("carol".into()),
            LobbyEvent::Joined("bob".into()),
            LobbyEvent::Joined("dave".into()),
            LobbyEvent::Silent("dave".into()),
            LobbyEvent::Kicked {
                name: "carol".into(),
                reason: None,
            },
        ] {
            follow(&mut members, &event);
        }
        assert_eq!(members, ["bob"]);
        for i in 0..MAX_MEMBERS * 2 {
            follow(&mut members, &LobbyEvent::Joined(format!("u{i}")));
        }
        assert_eq!(members.len(), MAX_MEMBERS);
    }

    #[test]
    fn names_are_set_and_read_across_clones() {
        let names = LobbyNames::default();
        let editor = names.clone();
        names.set(vec!["bob".into()]);
        assert_eq!(editor.get(), ["bob"]);
    }
}
