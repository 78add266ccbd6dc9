//! What the prompt at a terminal says: where the user is. At a menu it is
//! the plain `> `; in a lobby it names the leader and how many are in it
//! (`[alice · 3] > `), while a new lobby waits for its first answers it
//! says how many chat requests are out (`[inviting 2] > `), and it says
//! `(away)` when the user is away. `prompt` is a pure function of the
//! stage and the `Place`; `PromptText` carries the text to the line
//! editor's thread, as `LobbyNames` carries the names for Tab.
//!
//! The one lock here guards a short string that one thread writes and one
//! reads, never held across anything else. Piped peers show no prompt at
//! all: only the line editor draws one.

use std::sync::{Arc, Mutex, PoisonError};

use super::stage::{Phase, Stage, Start, Starting};

/// The prompt where nothing more is to be said: the menus and questions.
pub const PLAIN_PROMPT: &str = "> ";

/// What the prompt says besides the stage: the core keeps one, and sets
/// it through its methods.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Place {
    away: bool,
}

impl Place {
    /// Whether the user is away (`/away`); the prompt says so.
    pub(crate) fn set_away(&mut self, away: bool) {
        self.away = away;
    }

    /// The prompt for the user at `stage`, whose own name is `me` and
    /// whose conversation list (the first invitees of a new lobby) holds
    /// `contacts`. Names come from the registry or a leader's `MEMBERS`
    /// and passed the wire's name rule (letters, digits, `_ . -`), so they
    /// are safe to draw as they are.
    pub(super) fn prompt(self, stage: &Stage, me: &str, contacts: usize) -> String {
        let away = if self.away { "(away) " } else { "" };
        match lobby(stage, me, contacts) {
            Some(lobby) => format!("[{lobby}] {away}> "),
            None => format!("{away}{PLAIN_PROMPT}"),
        }
    }
}

/// What the prompt says about the lobby at `stage`, if the user is in one.
///
/// A terminal takes the prompt when a line begins, so one stage's prompt
/// may stay on screen through the next (`console.rs` says why): a new
/// lobby says `inviting` from its start until someone joins, and a member
/// who accepted names the leader before the member list comes.
fn lobby(stage: &Stage, me: &str, contacts: usize) -> Option<String> {
    Some(match stage {
        Stage::Starting(Starting {
            then: Start::Fresh, ..
        }) => format!("inviting {contacts}"),
        Stage::Starting(_) => "starting".to_string(),
        Stage::Leading(leading) if !leading.someone_joined && leading.invitations.len() > 0 => {
            format!("inviting {}", leading.invitations.len())
        }
        // The members besides us, and us.
        Stage::Leading(leading) => format!("{me} · {}", leading.members.len() + 1),
        Stage::Member(membership) => match &membership.phase {
            Phase::Admitted { .. } => {
                // `MEMBERS` names everyone, the leader first; a list
                // without the leader still counts it.
                let members = &membership.members;
                let leader = usize::from(!members.contains(&membership.leader));
                format!("{} · {}", membership.leader, members.len() + leader)
            }
            Phase::Invited => membership.leader.clone(),
            Phase::Rejoining { .. } | Phase::Linking { .. } => "rejoining".to_string(),
        },
        _ => return None,
    })
}

/// The prompt as the core last set it, shared between the driver, which
/// sets it after each input, and the line editor, which draws it.
#[derive(Debug, Clone)]
pub struct PromptText(Arc<Mutex<String>>);

impl Default for PromptText {
    fn default() -> PromptText {
        PromptText(Arc::new(Mutex::new(PLAIN_PROMPT.to_string())))
    }
}

impl PromptText {
    /// The prompt as it was last set.
    pub fn get(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the prompt, if it changed.
    pub(super) fn set(&self, text: String) {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if *held != text {
            *held = text;
        }
    }
}
