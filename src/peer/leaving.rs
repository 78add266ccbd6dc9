//! The ways a leader goes from its lobby: `/leave`, `/quit`, Ctrl-C and
//! SIGTERM hand the lobby on, as `/handover` does, and the leader goes;
//! `/end` ends it for everyone, after a yes at a terminal. A member's
//! `/leave` is `lobby_stage.rs`'s, and `/handover` is `succession.rs`'s.

use crate::wire::CloseReason;

use super::app::App;
use super::effect::{LobbyCommand, LogId};
use super::render::{LobbyEvent, Role};
use super::stage::{Leading, Stage};

/// What `/end` asks at a terminal before it ends the lobby.
const END_QUESTION: &str = "End the lobby for everyone? Type y to end it; anything else keeps it going (/leave hands it on instead). [y/N]";

impl App {
    /// The leader leaves its lobby: the hub hands it to the member
    /// `/handover` would choose, or ends it if nobody can lead it; its
    /// answer (`on_left`) says which.
    pub(super) fn leave_lobby(&mut self, leading: Leading) {
        let log = leading.log;
        self.to_lobby(leading.id, LobbyCommand::Leave { log });
    }

    /// The hub of the lobby we left is done: it went `to` a member, or it
    /// ended. What it relayed that we had not handled yet goes to its log
    /// first.
    pub(super) fn on_left(
        &mut self,
        log: Option<LogId>,
        to: Option<String>,
        notices: Vec<crate::lobby::Notice>,
    ) {
        self.on_closed(log, notices);
        match to {
            Some(to) => {
                self.out
                    .log(log, format!("* you left; {to} leads the lobby now"));
                self.notice(format!("You left the lobby; {to} leads it now."));
            }
            None => {
                let ended = LobbyEvent::Ended("you left".to_string());
                self.out.event(log, &ended, Role::Leader);
            }
        }
    }

    /// The leader's `/end`: at a terminal it asks first (the next line
    /// typed is the answer); a script's `/end` ends the lobby at once.
    pub(super) fn end_asked(&mut self, mut leading: Leading) -> Stage {
        if self.confirm_end {
            leading.asked_to_end = true;
            // A question: a line begun before it shows is not its answer.
            self.say(crate::screen::ScreenLine::Prompt(END_QUESTION.to_string()));
            return Stage::Leading(leading);
        }
        self.close_lobby(leading, CloseReason::Ended, "you ended it for everyone");
        Stage::Menu
    }

    /// The line typed after `/end` asked: a yes ends the lobby for
    /// everyone, and anything else keeps it going. A line that is neither
    /// yes nor no is then handled as typed (`Ok`), so that a message typed
    /// without seeing the question is not lost. The stage that follows an
    /// answer is boxed: it is large, and rare.
    pub(super) fn answer_end(
        &mut self,
        mut leading: Leading,
        line: &str,
    ) -> Result<Leading, Box<Stage>> {
        if !std::mem::take(&mut leading.asked_to_end) {
            return Ok(leading);
        }
        match line.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" => {
                self.close_lobby(leading, CloseReason::Ended, "you ended it for everyone");
                Err(Box::new(Stage::Menu))
            }
            "" | "n" | "no" => {
                self.notice("The lobby goes on.".to_string());
                Err(Box::new(Stage::Leading(leading)))
            }
            _ => {
                self.notice("The lobby goes on.".to_string());
                Ok(leading)
            }
        }
    }
}
