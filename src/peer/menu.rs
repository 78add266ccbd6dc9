//! The menus before and between lobbies: registering, joining, the online
//! list, search, the conversation list, and starting a chat.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;

use crate::client::Refused;
use crate::lobby::Lobby;
use crate::wire::{self, AttemptLimit, Contact, ErrorCode, InviteStatus};

use crossbeam_channel::bounded;

use super::app::{App, Leading, Purpose, Stage};
use super::invitations::Invitations;
use super::inviter::Inviter;
use super::screen::write_log;
use super::{FEED_CAPACITY, LOBBY_HELP};

impl App {
    /// The first menu: register or join.
    pub(super) fn welcome(&mut self, choice: &str) -> Stage {
        match choice {
            "1" => {
                self.say("Please enter your user name and password to register.");
                Stage::Name(Purpose::Register)
            }
            "2" => {
                self.say("Please enter your user name and password to join.");
                Stage::Name(Purpose::Join)
            }
            _ => {
                self.say("Please type 1 to register or 2 to join.");
                Stage::Welcome
            }
        }
    }

    /// An empty name is a change of mind: back to the first menu.
    pub(super) fn name(&mut self, purpose: Purpose, name: &str) -> Stage {
        if name.is_empty() {
            return Stage::Welcome;
        }
        match wire::check_name(name) {
            Ok(()) => Stage::Password(purpose, name.to_string()),
            Err(err) => {
                self.say(format!("That name will not do: {}.", err.text));
                Stage::Name(purpose)
            }
        }
    }

    /// The password is taken as typed, spaces and all: the check says
    /// whether it will do.
    pub(super) fn password(&mut self, purpose: Purpose, name: String, password: &str) -> Stage {
        match wire::check_password(password) {
            Ok(()) if self.confirm_password && matches!(purpose, Purpose::Register) => {
                Stage::Repeat {
                    name,
                    password: password.to_string(),
                }
            }
            Ok(()) => self.log_in(purpose, name, password.to_string()),
            Err(err) => {
                self.say(format!("That password will not do: {}.", err.text));
                Stage::Password(purpose, name)
            }
        }
    }

    /// A new password typed without echo, typed again: registers if both
    /// are the same, asks for a new one if not.
    pub(super) fn repeat_password(&mut self, name: String, first: String, again: &str) -> Stage {
        if again == first {
            self.log_in(Purpose::Register, name, first)
        } else {
            self.say("The two passwords are not the same; please type a new one again.");
            Stage::Password(Purpose::Register, name)
        }
    }

    pub(super) fn confirm_add(&mut self, contact: Contact, answer: &str) -> Stage {
        match answer.to_ascii_lowercase().as_str() {
            "yes" | "y" => {
                self.say(format!("Added {} to your conversation list.", contact.name));
                self.contacts.push(contact);
                Stage::Menu
            }
            "no" | "n" => Stage::Menu,
            _ => {
                self.say("Please answer Yes or No.");
                Stage::ConfirmAdd(contact)
            }
        }
    }

    pub(super) fn log_in(&mut self, purpose: Purpose, name: String, password: String) -> Stage {
        let result = match purpose {
            Purpose::Register => self.link.register(&name, &password).map(Ok),
            Purpose::Join => self.link.join(&name, &password, self.chat_port).map(Err),
        };
        match result {
            Ok(Ok(_)) => {
                self.say("The registration process is successful. You can 'join'");
                Stage::Welcome
            }
            Ok(Err(contact)) => {
                self.say("The 'join' process is successful. You can 'search'");
                self.say(format!(
                    "Joined as {}; others reach you at {} port {}. Type /quit at any time to leave.",
                    contact.name, contact.ip, contact.port
                ));
                self.me = Some(contact);
                Stage::Menu
            }
            Err(Refused::TooManyAttempts { wait, limit }) => {
                let wait = wait.map_or_else(|| "some".to_string(), |secs| secs.to_string());
                let which = match limit {
                    Some(AttemptLimit::Name) => format!("for {name}"),
                    Some(AttemptLimit::Address) => "from this address".to_string(),
                    None => format!("for {name} or from this address"),
                };
                let what = match purpose {
                    Purpose::Register => "Too many registrations from this address".to_string(),
                    Purpose::Join => format!("Too many failed attempts {which}"),
                };
                self.say(format!("{what}; try again in {wait} seconds."));
                Stage::Welcome
            }
            Err(Refused::Err(_, text)) => {
                let what = match purpose {
                    Purpose::Register => "register",
                    Purpose::Join => "join",
                };
                self.say(format!("Could not {what} {name}: {text}."));
                Stage::Welcome
            }
            Err(err) => {
                self.say(format!("{err}."));
                Stage::Welcome
            }
        }
    }

    pub(super) fn menu(&mut self, choice: &str) -> Stage {
        if self.me.is_none() {
            // Logged out by the registry while in a lobby.
            self.say("You are not joined any more.");
            return Stage::Welcome;
        }
        match choice {
            "1" => {
                self.show_list();
                Stage::Menu
            }
            "2" => Stage::Search,
            "3" => self.start_chat(),
            _ => {
                self.say("Please type 1, 2 or 3 (or /quit).");
                Stage::Menu
            }
        }
    }

    pub(super) fn show_list(&self) {
        match self.link.list() {
            Ok(rows) => {
                self.say("<<< ONLINE USER LIST >>>");
                self.say(format!(
                    "{:<32}  {:<39}  {}",
                    "User name", "IP address", "Port"
                ));
                for c in &rows {
                    self.say(format!(
                        "{:<32}  {:<39}  {}",
                        c.name,
                        c.ip.to_string(),
                        c.port
                    ));
                }
                match rows.len() {
                    1 => self.say("1 user online."),
                    n => self.say(format!("{n} users online.")),
                }
            }
            Err(err) => self.say(format!("{err}.")),
        }
    }

    pub(super) fn search(&mut self, name: &str) -> Stage {
        if let Err(err) = wire::check_name(name) {
            self.say(format!("That is not a user name: {}.", err.text));
            return Stage::Menu;
        }
        match self.link.search(name) {
            Ok(contact) => {
                self.say(format!("UserIp: {} Port: {}", contact.ip, contact.port));
                if contact.name.eq_ignore_ascii_case(&self.my_name()) {
                    self.say("That is you.");
                    Stage::Menu
                } else if self.contacts.iter().any(|c| c.name == contact.name) {
                    self.say(format!(
                        "{} is on your conversation list already.",
                        contact.name
                    ));
                    Stage::Menu
                } else {
                    Stage::ConfirmAdd(contact)
                }
            }
            Err(Refused::Err(ErrorCode::Offline, _)) => {
                self.say(format!("{name} is offline."));
                Stage::Menu
            }
            Err(Refused::Err(ErrorCode::NotFound, _)) => {
                self.say(format!("There is no user called {name}."));
                Stage::Menu
            }
            Err(err @ Refused::Link(_)) => {
                self.say(format!("{err}."));
                Stage::Menu
            }
            Err(other) => {
                self.say(format!("The registry answered strangely: {other:?}"));
                Stage::Menu
            }
        }
    }

    pub(super) fn start_chat(&mut self) -> Stage {
        if self.contacts.is_empty() {
            self.say("Your conversation list is empty: search a user with '2' and add them first.");
            return Stage::Menu;
        }
        let me = self.my_name();
        self.next_lobby += 1;
        let id = self.next_lobby;
        let config = self.lobby_config(&me);
        // A channel of its own, bounded: nothing of this lobby can show up
        // in the next, and a flood waits in TCP rather than in memory.
        let (notices, notices_rx) = bounded(FEED_CAPACITY);
        let lobby = match Lobby::start(config, notices) {
            Ok(lobby) => lobby,
            Err(err) => {
                self.say(format!("Cannot start a chat: {err}"));
                return Stage::Menu;
            }
        };
        let mut log = self.open_log(&me);
        write_log(&mut log, &self.screen, &format!("* lobby started by {me}"));
        let cancel = Arc::new(AtomicBool::new(false));
        self.notice(format!(
            "Sending chat requests to {}...",
            self.contacts
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        self.inviters.retain(|h| !h.is_finished());
        let mut invited = Vec::new();
        for listed in self.contacts.clone() {
            if self.invite(id, &me, &listed.name, &cancel) {
                invited.push(listed.name);
            }
        }
        let leading = Leading {
            id,
            lobby,
            notices: notices_rx,
            log,
            invitations: Invitations::started(&me, &invited),
            cancel,
        };
        if invited.is_empty() {
            self.end_lobby(leading, "nobody could be invited");
            return Stage::Menu;
        }
        self.say(format!("You lead this lobby. {LOBBY_HELP}"));
        Stage::Leading(leading)
    }

    /// Gets a ticket for `name` and starts an inviter thread for it; says
    /// why and returns false if either fails.
    fn invite(&mut self, lobby: u64, me: &str, name: &str, cancel: &Arc<AtomicBool>) -> bool {
        match self.send_invitation(lobby, me, name, cancel) {
            Ok(()) => true,
            Err(why) => {
                self.say(format!("{name}: {why}"));
                false
            }
        }
    }

    /// Gets a ticket for `name` and starts an inviter thread for it, or
    /// says why not.
    pub(super) fn send_invitation(
        &mut self,
        lobby: u64,
        me: &str,
        name: &str,
        cancel: &Arc<AtomicBool>,
    ) -> Result<(), NotInvited> {
        let (contact, ticket) = self.ticket_for(name)?;
        let job = Inviter {
            lobby,
            me: me.to_string(),
            contact,
            ticket,
            timeout: self.config.invite_timeout,
            cancel: cancel.clone(),
            events: self.events.clone(),
            trace: self.config.trace,
        };
        match thread::Builder::new()
            .name("inviter".into())
            .spawn(move || job.run())
        {
            Ok(handle) => {
                self.inviters.push(handle);
                Ok(())
            }
            Err(err) => Err(NotInvited::Unreachable(format!(
                "cannot send a chat request: {err}"
            ))),
        }
    }

    /// Gets a ticket to invite `name`, and where `name` is now: the address
    /// on the conversation list may be old.
    pub(super) fn ticket_for(&self, name: &str) -> Result<(Contact, String), NotInvited> {
        let unreachable = |why: String| Err(NotInvited::Unreachable(why));
        let ticket = match self.link.invite(name) {
            Ok(ticket) => ticket,
            Err(Refused::Err(ErrorCode::Offline, _)) => return Err(NotInvited::Offline),
            Err(Refused::Err(_, text)) => return unreachable(text),
            Err(Refused::Link(err)) => return unreachable(err.to_string()),
            Err(other) => return unreachable(format!("the registry answered {other:?}")),
        };
        match self.link.search(name) {
            Ok(contact) => Ok((contact, ticket)),
            Err(Refused::Link(err)) => unreachable(err.to_string()),
            Err(_) => Err(NotInvited::Offline),
        }
    }
}

/// Why no chat request could be sent.
#[derive(Debug)]
pub(super) enum NotInvited {
    Offline,
    Unreachable(String),
}

impl NotInvited {
    /// What the lobby's members are told.
    pub(super) fn status(&self) -> InviteStatus {
        match self {
            NotInvited::Offline => InviteStatus::Offline,
            NotInvited::Unreachable(_) => InviteStatus::Unreachable,
        }
    }
}

impl std::fmt::Display for NotInvited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotInvited::Offline => f.write_str("offline"),
            NotInvited::Unreachable(why) => write!(f, "unreachable ({why})"),
        }
    }
}
