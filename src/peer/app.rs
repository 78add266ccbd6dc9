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
use crate::wire::{Contact, Rejoin, ToLeader, ToMember};

use super::invitations::Invitations;
use super::migration::Rejoined;
use super::standing::Standing;
use super::succession::Move;
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
    /// A member of a lobby came back (`REJOIN`) on our chat listener.
    Rejoin {
        claim: Rejoin,
        reader: ConnReader,
        writer: TcpStream,
    },
    /// A rejoiner's walk of the roster ended (`migration.rs`).
    Rejoined { lobby: u64, outcome: Rejoined },
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
    pub(super) invitations: Invitations,
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
    /// True while the leader's `HISTORY` lines are being shown, so the
    /// first live line after them can say where they end.
    pub(super) earlier: bool,
    /// The credential, roster and numbered messages that let the lobby
    /// outlive its leader.
    pub(super) standing: Box<Standing>,
    /// True while a rejoiner looks for the lobby's leader: typed lines wait.
    pub(super) rejoining: bool,
    /// Set when the user leaves, so that a rejoiner under way gives up.
    pub(super) cancel: Arc<AtomicBool>,
}

pub(super) struct Pending {
    pub(super) from: String,
    pub(super) answer: Sender<ChatAnswer>,
}

pub(super) struct App {
    pub(super) config: PeerConfig,
    pub(super) chat_port: u16,
    pub(super) screen: Sender<String>,
    pub(super) link: RegistryLink,
    pub(super) events: Sender<Event>,
    pub(super) notices: Sender<Notice>,
    pub(super) me: Option<Contact>,
    pub(super) contacts: Vec<Contact>,
    pub(super) stage: Stage,
    pub(super) pending: Option<Pending>,
    pub(super) next_lobby: u64,
    pub(super) inviters: Vec<JoinHandle<()>>,
    /// Why the rejoiner under way looks for a leader.
    pub(super) moving: Option<Move>,
}

pub(super) fn write_log(log: &mut Option<ChatLog>, screen: &Sender<String>, event: &str) {
    if let Some(file) = log
        && let Err(err) = file.write(event)
    {
        let _ = screen.send(format!(
            "Cannot write the chat log {}: {err}",
            file.path().display()
        ));
        *log = None;
    }
}

impl App {
    pub(super) fn say(&self, text: impl Into<String>) {
        let _ = self.screen.send(text.into());
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
            Event::Rejoin {
                claim,
                reader,
                writer,
            } => self.on_rejoin(claim, reader, writer),
            Event::Rejoined { lobby, outcome } => self.on_rejoined(lobby, outcome),
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
        if membership.admitted && membership.standing.can_rejoin() {
            self.stage = self.leader_lost(membership, why);
            self.prompt();
            return;
        }
        write_log(
            &mut membership.log,
            &self.screen,
            &format!("* lobby ended: {why}"),
        );
        self.say(format!("The lobby has ended ({why})."));
        self.prompt();
    }

    pub(super) fn on_link(&mut self, notice: LinkNotice) {
        match notice {
            LinkNotice::Lost(why) => self.say(format!(
                "The registry is unreachable ({why}); reconnecting in the background. Chats go on."
            )),
            LinkNotice::Back(contact) => {
                self.say(format!(
                    "Reconnected to the registry; you are online again as {}.",
                    contact.name
                ));
                self.me = Some(contact);
            }
            LinkNotice::GaveUp(why) => self.say(format!(
                "Stopped reconnecting to the registry: {why}. Chats go on; start the peer again to rejoin."
            )),
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
        let _ = self.screen.send("Bye.".to_string());
    }
}
