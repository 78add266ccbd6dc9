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
        let chats_go_on = if self.me.is_some() {
            "; chats go on"
        } else {
            ""
        };
        match notice {
            LinkNotice::NotYet { tried, why } => self.say(format!(
                "The registry is not reachable yet at {} ({why}); trying again in the background \
                 (another registry: start with --server HOST:PORT).",
                or_list(&tried)
            )),
            LinkNotice::Lost(why) => self.say(format!(
                "The registry is unreachable: {why}. Reconnecting in the background{chats_go_on}."
            )),
            LinkNotice::Stopped => self.say(format!(
                "The registry stopped. Reconnecting in the background{chats_go_on}."
            )),
            LinkNotice::Reachable => self.say("The registry is reachable now."),
            LinkNotice::Back(contact) => {
                self.notice(format!(
                    "Reconnected to the registry; you are online again as {}.",
                    contact.name
                ));
                self.me = Some(contact);
            }
            LinkNotice::Replaced => self.replaced(),
            LinkNotice::KeyRefused { why, first: true } => self.say(format!(
                "WARNING: connecting to the registry, {why}. Nothing was sent to it; \
                 retrying in the background (another registry: start with --server HOST:PORT)."
            )),
            LinkNotice::KeyRefused { why, first: false } => self.say(format!(
                "WARNING: reconnecting to the registry, {why}. Nothing was sent to it; \
                 retrying in the background{chats_go_on}."
            )),
            LinkNotice::GaveUp(refused) => {
                self.me = None;
                self.say(format!(
                    "Stopped rejoining the registry: joining again failed ({}). \
                     Join again from the first menu.",
                    refusal(&refused)
                ));
                self.back_to_welcome();
            }
        }
    }

    /// The same user joined from somewhere else: this peer is logged out
    /// and goes back to the first menu (a lobby goes on until it ends).
    fn replaced(&mut self) {
        let name = self.my_name();
        self.me = None;
        self.say(format!(
            "You ({name}) joined from somewhere else, so the registry logged this peer out. \
             Join again with '2' to come back here."
        ));
        self.back_to_welcome();
    }

    /// Goes to the first menu if the user is at a menu now; in a lobby, the
    /// menu shows the first menu when the lobby ends.
    fn back_to_welcome(&mut self) {
        if matches!(
            self.stage,
            Stage::Menu
                | Stage::Search
                | Stage::ConfirmAdd(_)
                | Stage::Waiting(Wait::List | Wait::Search)
        ) {
            self.stage = Stage::Welcome;
            self.prompt();
        }
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
