//! The app thread's state: the events background threads send it, the
//! stages of the user's session, and the event loop's dispatch of a typed
//! line, an event or a registry notice to the menu (`menu.rs`) or the lobby
//! (`lobby_stage.rs`).
//!
//! Only the app thread holds an `App`; it must never block on a socket.

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::chatlog::ChatLog;
use crate::client::{LinkNotice, RegistryLink};
use crate::line::ConnReader;
use crate::lobby::{Lobby, Notice};
use crate::wire::{self, Contact, ToLeader, ToMember};

use super::screen::Screen;
use super::{ADD_PROMPT, MENU_PROMPT, PeerConfig, WELCOME_PROMPT, Want};

/// What background threads tell the app thread.
pub(super) enum Event {
    /// A chat request arrived; `answer` waits for the user's decision.
    Invitation {
        from: String,
        ticket: Option<String>,
        answer: Sender<ChatAnswer>,
    },
    /// An invitee answered one of our chat requests (or did not).
    Invited {
        lobby: u64,
        name: String,
        outcome: Outcome,
    },
    /// A line from the leader of the lobby we are a member of.
    FromLeader { lobby: u64, line: ToMember },
    /// The connection to that leader closed, or went `silent` too long.
    LeaderGone { lobby: u64, silent: bool },
}

/// The user's answer to a chat request.
pub(super) enum ChatAnswer {
    Accept {
        lobby: u64,
        outbox: Receiver<ToLeader>,
    },
    Reject,
    Busy,
}

/// How a chat request we sent ended.
pub(super) enum Outcome {
    Accepted {
        addr: SocketAddr,
        reader: ConnReader,
        writer: TcpStream,
    },
    Rejected,
    Busy,
    NoAnswer,
    Unreachable(String),
}

pub(super) enum Flow {
    Go,
    Quit,
}

#[derive(Clone, Copy)]
pub(super) enum Purpose {
    Register,
    Join,
}

pub(super) enum Stage {
    Welcome,
    Name(Purpose),
    Password(Purpose, String),
    Menu,
    Search,
    ConfirmAdd(Contact),
    Leading(Leading),
    Member(Membership),
}

pub(super) struct Leading {
    pub(super) id: u64,
    pub(super) lobby: Lobby,
    pub(super) log: Option<ChatLog>,
    /// Chat requests not answered yet.
    pub(super) waiting: usize,
    pub(super) cancel: Arc<AtomicBool>,
}

pub(super) struct Membership {
    pub(super) id: u64,
    pub(super) leader: String,
    pub(super) outbox: Sender<ToLeader>,
    pub(super) members: Vec<String>,
    pub(super) log: Option<ChatLog>,
    /// Set once the leader sent `MEMBERS`.
    pub(super) admitted: bool,
}

/// What a line typed in a lobby asks for.
pub(super) enum LobbyInput<'a> {
    Nothing,
    Help,
    Members,
    Leave,
    Unknown(&'a str),
    /// A message to send.
    Say(&'a str),
    /// A message that cannot be sent, and why.
    Refused(String),
}

impl<'a> From<&'a str> for LobbyInput<'a> {
    fn from(line: &'a str) -> LobbyInput<'a> {
        let text = line.trim();
        match text {
            "" => LobbyInput::Nothing,
            "/help" => LobbyInput::Help,
            "/members" => LobbyInput::Members,
            "/leave" => LobbyInput::Leave,
            _ if text.starts_with('/') => LobbyInput::Unknown(text),
            _ => match wire::check_text(text) {
                Ok(()) => LobbyInput::Say(text),
                Err(err) => LobbyInput::Refused(err.text),
            },
        }
    }
}

pub(super) struct Pending {
    pub(super) from: String,
    pub(super) answer: Sender<ChatAnswer>,
}

pub(super) struct App {
    pub(super) config: PeerConfig,
    pub(super) chat_port: u16,
    pub(super) screen: Screen,
    pub(super) link: RegistryLink,
    pub(super) events: Sender<Event>,
    pub(super) notices: Sender<Notice>,
    pub(super) me: Option<Contact>,
    pub(super) contacts: Vec<Contact>,
    pub(super) stage: Stage,
    pub(super) pending: Option<Pending>,
    pub(super) next_lobby: u64,
    pub(super) inviters: Vec<JoinHandle<()>>,
}

pub(super) fn write_log(log: &mut Option<ChatLog>, screen: &Screen, event: &str) {
    if let Some(file) = log
        && let Err(err) = file.write(event)
    {
        screen.say(&format!(
            "Cannot write the chat log {}: {err}",
            file.path().display()
        ));
        *log = None;
    }
}

impl App {
    pub(super) fn say(&self, text: impl Into<String>) {
        self.screen.say(&text.into());
    }

    pub(super) fn my_name(&self) -> String {
        self.me
            .as_ref()
            .map_or_else(String::new, |me| me.name.clone())
    }

    pub(super) fn want(&self) -> Want {
        match self.stage {
            Stage::Password(..) if self.pending.is_none() => Want::Secret,
            _ => Want::Line,
        }
    }

    /// Shows the question the current stage waits on.
    pub(super) fn prompt(&self) {
        if let Some(pending) = &self.pending {
            self.say(format!(
                "Chat request from '{}'. Accept? ['OK', 'REJECT']",
                pending.from
            ));
            return;
        }
        match &self.stage {
            Stage::Welcome => self.say(WELCOME_PROMPT),
            Stage::Name(_) => self.say("User name:"),
            Stage::Password(..) => self.say("Password:"),
            Stage::Menu => self.say(MENU_PROMPT),
            Stage::Search => self.say("User name to search:"),
            Stage::ConfirmAdd(_) => self.say(ADD_PROMPT),
            Stage::Leading(_) | Stage::Member(_) => {}
        }
    }

    pub(super) fn on_line(&mut self, line: &str) -> Flow {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim() == "/quit" {
            return Flow::Quit;
        }
        if let Some(pending) = self.pending.take() {
            self.answer_request(pending, line.trim());
            return Flow::Go;
        }
        let stage = std::mem::replace(&mut self.stage, Stage::Welcome);
        self.stage = match stage {
            Stage::Welcome => self.welcome(line.trim()),
            Stage::Name(purpose) => self.name(purpose, line.trim()),
            Stage::Password(purpose, name) => self.password(purpose, name, line),
            Stage::Menu => self.menu(line.trim()),
            Stage::Search => self.search(line.trim()),
            Stage::ConfirmAdd(contact) => self.confirm_add(contact, line.trim()),
            Stage::Leading(leading) => self.lead(leading, line),
            Stage::Member(membership) => self.member(membership, line),
        };
        self.prompt();
        Flow::Go
    }

    /// Dispatches what a background thread reported; each arm is one call.
    pub(super) fn on_event(&mut self, event: Event) {
        match event {
            Event::Invitation {
                from,
                ticket,
                answer,
            } => self.on_invitation(from, ticket, answer),
            Event::Invited {
                lobby,
                name,
                outcome,
            } => self.on_invited(lobby, name, outcome),
            Event::FromLeader { lobby, line } => self.on_leader_line(lobby, line),
            Event::LeaderGone { lobby, silent } => self.on_leader_gone(lobby, silent),
        }
    }

    /// A chat request arrived: busy unless the user is at a menu with no
    /// other request open; rejected if its ticket does not hold; otherwise
    /// the user is asked.
    fn on_invitation(&mut self, from: String, ticket: Option<String>, answer: Sender<ChatAnswer>) {
        let free = matches!(
            self.stage,
            Stage::Menu | Stage::Search | Stage::ConfirmAdd(_)
        );
        if !free || self.pending.is_some() {
            let _ = answer.send(ChatAnswer::Busy);
            return;
        }
        // Only a request the user would be asked about needs its
        // ticket checked; a busy answer tells a forger nothing.
        if let Err(why) = self.check_ticket(&from, ticket) {
            let _ = answer.send(ChatAnswer::Reject);
            self.say(format!(
                "Warning: refused a chat request claiming to be from '{from}': {why}."
            ));
            self.prompt();
            return;
        }
        self.pending = Some(Pending { from, answer });
        self.prompt();
    }

    /// The connection to the leader of lobby `lobby` ended; if we are still
    /// its member, the lobby is over for us.
    fn on_leader_gone(&mut self, lobby: u64, silent: bool) {
        let Stage::Member(membership) = &self.stage else {
            return;
        };
        if membership.id != lobby {
            return;
        }
        let Stage::Member(mut membership) = std::mem::replace(&mut self.stage, Stage::Menu) else {
            unreachable!("checked just above");
        };
        let why = if silent {
            "the leader stopped answering"
        } else if membership.admitted {
            "lost the connection to the leader"
        } else {
            "the chat request is no longer open"
        };
        write_log(
            &mut membership.log,
            &self.screen,
            &format!("* lobby ended: {why}"),
        );
        self.say(format!("The lobby has ended ({why})."));
        self.prompt();
    }

    pub(super) fn on_link(&mut self, notice: LinkNotice) {
        // Only a user who has joined has chats that could go on.
        let chats_go_on = if self.me.is_some() {
            "; chats go on"
        } else {
            ""
        };
        match notice {
            LinkNotice::NotYet(why) => self.say(format!(
                "The registry is not reachable yet {why}; trying again in the background."
            )),
            LinkNotice::Lost(why) => self.say(format!(
                "The registry is unreachable: {why}. Reconnecting in the background{chats_go_on}."
            )),
            LinkNotice::Stopped => self.say(format!(
                "The registry stopped. Reconnecting in the background{chats_go_on}."
            )),
            LinkNotice::Reachable => self.say("The registry is reachable now."),
            LinkNotice::Back(contact) => {
                self.say(format!(
                    "Reconnected to the registry; you are online again as {}.",
                    contact.name
                ));
                self.me = Some(contact);
            }
            LinkNotice::Replaced => self.replaced(),
            LinkNotice::GaveUp(why) => {
                self.me = None;
                self.say(format!(
                    "Stopped rejoining the registry: {why}. Join again from the first menu."
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
            Stage::Menu | Stage::Search | Stage::ConfirmAdd(_)
        ) {
            self.stage = Stage::Welcome;
            self.prompt();
        }
    }

    /// Leaves any lobby, answers a waiting chat request, logs out.
    pub(super) fn quit(mut self) {
        if let Some(pending) = self.pending.take() {
            let _ = pending.answer.send(ChatAnswer::Busy);
        }
        match std::mem::replace(&mut self.stage, Stage::Welcome) {
            Stage::Leading(leading) => self.end_lobby(leading, "you quit"),
            Stage::Member(membership) => self.leave_membership(membership),
            _ => {}
        }
        for handle in self.inviters.drain(..) {
            let _ = handle.join();
        }
        self.link.close();
        self.screen.say("Bye.");
        self.screen.finish();
    }
}
