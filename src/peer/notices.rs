//! What the registry link says unasked (lost, back, replaced, given up),
//! as the user hears it, and where it leaves the menus.

use std::net::SocketAddr;

use crate::client::LinkNotice;
use crate::wire::Reply;

use super::app::App;
use super::stage::{Stage, Wait};

impl App {
    pub(super) fn on_link(&mut self, notice: LinkNotice) {
        // Only a user who has joined has chats that could go on.
        let joined = self.me.is_some();
        match notice {
            LinkNotice::NotYet { tried, why } => self.say(format!(
                "The registry is not reachable yet at {} ({why}); trying again in the background. \
                 Start the registry (the server program) there, or {ELSEWHERE}.",
                or_list(&tried)
            )),
            LinkNotice::Lost(why) => self.say(format!(
                "The registry is unreachable: {why}. {}",
                reconnecting(joined)
            )),
            LinkNotice::Stopped => {
                self.say(format!("The registry stopped. {}", reconnecting(joined)));
            }
            LinkNotice::Reachable => self.say("The registry is reachable now."),
            LinkNotice::KeyRefused { why, first } => self.say(key_refused(&why, first, joined)),
            LinkNotice::Back(contact) => {
                self.notice(format!(
                    "Reconnected to the registry; you are online again as {}.",
                    contact.name
                ));
                self.me = Some(contact);
            }
            LinkNotice::Replaced => self.replaced(),
            LinkNotice::GaveUp(refused) => self.gave_up(&refused),
        }
    }

    /// Rejoining after a reconnect was refused: this peer is logged out.
    fn gave_up(&mut self, refused: &Reply) {
        self.me = None;
        self.say(format!(
            "Stopped rejoining the registry: joining again failed ({}). \
             Join again from the first menu.",
            refusal(refused)
        ));
        self.back_to_welcome();
    }

    /// The same user joined from somewhere else: this peer is logged out
    /// and goes back to the first menu (a lobby goes on until it ends).
    fn replaced(&mut self) {
        let name = self.my_name();
        self.me = None;
        let next = if self.at_a_menu() {
            "Join again with '2' to come back here."
        } else {
            "This lobby goes on; when you leave it, join again from the first menu."
        };
        self.say(format!(
            "You ({name}) joined from somewhere else, so the registry logged this peer out. {next}"
        ));
        self.back_to_welcome();
    }

    /// Goes to the first menu if the user is at a menu now; in a lobby, the
    /// menu shows the first menu when the lobby ends.
    fn back_to_welcome(&mut self) {
        if self.at_a_menu() {
            self.stage = Stage::Welcome;
            self.prompt();
        }
    }

    /// Whether the user is at a menu (not in a lobby, nor starting one).
    fn at_a_menu(&self) -> bool {
        matches!(
            self.stage,
            Stage::Menu
                | Stage::Search
                | Stage::ConfirmAdd(_)
                | Stage::Waiting(Wait::List | Wait::Search)
        )
    }
}

/// `a`, `a or b`, `a or b or c`.
fn or_list(addrs: &[SocketAddr]) -> String {
    let words: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
    words.join(" or ")
}

/// A refused JOIN as the user reads it: the registry's words, not its code.
fn refusal(reply: &Reply) -> String {
    match reply {
        Reply::Err(_, text) => text.clone(),
        other => format!("the registry answered {other}"),
    }
}

/// Where to go when the registry stays away.
const ELSEWHERE: &str = "start again with another --server HOST:PORT";

/// The end of a line about a lost registry.
fn reconnecting(joined: bool) -> &'static str {
    if joined {
        "Reconnecting in the background; chats go on."
    } else {
        "Reconnecting in the background."
    }
}

/// A registry key refused, at start (`first`) or on a reconnect.
fn key_refused(why: &str, first: bool, joined: bool) -> String {
    if first {
        format!(
            "WARNING: connecting to the registry, {why}. Nothing was sent to it; \
             retrying in the background ({ELSEWHERE})."
        )
    } else {
        let chats_go_on = if joined { "; chats go on" } else { "" };
        format!(
            "WARNING: reconnecting to the registry, {why}. Nothing was sent to it; \
             retrying in the background{chats_go_on}."
        )
    }
}
