//! The menus before and between lobbies: registering, joining, the online
//! list, search, the conversation list, and starting a chat.

use crate::client::Refused;
use crate::wire::{self, AttemptLimit, Contact, ErrorCode};

use super::LOBBY_HINT;
use super::app::App;
use super::away_notes::{AwayChange, AwayList, away_note};
use super::effect::{Effect, LobbyCommand, Worker};
use super::invitations::Invitations;
use super::msg::{Asker, NotInvited, RegistryAsk, RegistryReply};
use super::stage::{Leading, Opening, Purpose, Stage, Start, Starting, Wait};

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
        match (wire::check_name(name), purpose) {
            // A taken name is told before a password is chosen for it.
            (Ok(()), Purpose::Register) => {
                self.out
                    .push(Effect::ToRegistry(RegistryAsk::NameFree(name.to_string())));
                Stage::Waiting(Wait::NameFree(name.to_string()))
            }
            (Ok(()), Purpose::Join) => Stage::Password(purpose, name.to_string()),
            (Err(err), _) => {
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

    /// Asks the registry to register or join; the menu waits for the reply.
    pub(super) fn log_in(&mut self, purpose: Purpose, name: String, password: String) -> Stage {
        let ask = match purpose {
            Purpose::Register => RegistryAsk::Register {
                name: name.clone(),
                password,
            },
            Purpose::Join => RegistryAsk::Join {
                name: name.clone(),
                password,
                port: self.chat_port,
            },
        };
        self.out.push(Effect::ToRegistry(ask));
        Stage::Waiting(Wait::LogIn(purpose, name))
    }

    /// The registry's reply to a `REGISTER` or `JOIN`.
    fn logged_in(
        &mut self,
        purpose: Purpose,
        name: &str,
        result: Result<Option<Contact>, Refused>,
    ) {
        self.stage = match result {
            Ok(None) => {
                self.say("The registration process is successful. You can 'join'");
                Stage::Welcome
            }
            Ok(Some(contact)) => {
                self.say("The 'join' process is successful. You can 'search'");
                self.say(format!(
                    "Joined as {}; others reach you at {} port {}. Type /quit at any time to leave.",
                    contact.name, contact.ip, contact.port
                ));
                self.me = Some(contact);
                // A new session starts here, at the registry as here.
                self.away = None;
                self.place.set_away(false);
                Stage::Menu
            }
            Err(refused) => {
                self.say(not_logged_in(purpose, name, refused));
                Stage::Welcome
            }
        };
    }

    pub(super) fn menu(&mut self, choice: &str) -> Stage {
        if self.me.is_none() {
            // Logged out by the registry while in a lobby.
            self.say("You are not joined any more.");
            return Stage::Welcome;
        }
        match choice {
            "1" => {
                self.out
                    .push(Effect::ToRegistry(RegistryAsk::List(Asker::Menu)));
                Stage::Waiting(Wait::List)
            }
            "2" => Stage::Search,
            "3" => self.start_chat(),
            "/back" => {
                let _ = self.change_away(AwayChange::Back);
                Stage::Menu
            }
            "/away" => {
                let _ = self.change_away(AwayChange::away(""));
                Stage::Menu
            }
            "/contacts" => {
                self.show_contacts();
                Stage::Menu
            }
            _ if choice.starts_with("/away ") => {
                let text = &choice["/away ".len()..];
                let _ = self.change_away(AwayChange::away(text));
                Stage::Menu
            }
            _ => match choice.strip_prefix("/remove") {
                Some(name) => self.remove_contact(name.trim()),
                None => {
                    self.say(
                        "Please type 1, 2 or 3 (or /contacts, /remove <name>, /away [text], /back, /quit).",
                    );
                    Stage::Menu
                }
            },
        }
    }

    /// The conversation list: who `3` invites.
    fn show_contacts(&self) {
        if self.contacts.is_empty() {
            return self
                .say("Your conversation list is empty: search a user with '2' and add them.");
        }
        let names: Vec<&str> = self.contacts.iter().map(|c| c.name.as_str()).collect();
        self.say(format!(
            "Your conversation list ('3' invites them): {}. /remove <name> takes one off.",
            names.join(", ")
        ));
    }

    /// Takes `name` off the conversation list.
    fn remove_contact(&mut self, name: &str) -> Stage {
        let before = self.contacts.len();
        self.contacts.retain(|c| !c.name.eq_ignore_ascii_case(name));
        if self.contacts.len() == before {
            self.say(format!(
                "{name} is not on your conversation list; /contacts shows it."
            ));
        } else {
            self.say(format!("Removed {name} from your conversation list."));
        }
        Stage::Menu
    }

    /// The registry's reply to the menu or a lobby: the stage it waited in
    /// moves on, and the lines it held are handled.
    pub(super) fn on_registry(&mut self, reply: RegistryReply) {
        match reply {
            RegistryReply::NameFree { name, result } => self.on_name_checked(&name, result),
            RegistryReply::Registered(result) => self.on_logged_in(result.map(|_| None)),
            RegistryReply::Joined(result) => self.on_logged_in(result.map(Some)),
            RegistryReply::List { asker, result } => self.on_list(asker, result),
            RegistryReply::Search {
                name,
                asker,
                result,
            } => self.on_search(&name, asker, result),
            RegistryReply::Ticket {
                lobby,
                name,
                by,
                result,
            } => self.on_ticket(lobby, name, by, result),
            RegistryReply::Checked {
                request,
                from,
                verdict,
            } => self.on_checked(request, from, verdict),
            RegistryReply::Away(result) => self.on_away(result),
        }
        self.replay_held();
    }

    /// The registry's answer to whether a name to register is free. Only
    /// a taken name stops here: anything else (an older registry that
    /// knows no `NAME`, a link that is down, too many checks) goes on to
    /// the password, and `REGISTER` has the final word.
    ///
    /// At a terminal the keyboard was not read meanwhile, so the name is
    /// asked again, afresh: a password typed ahead meanwhile (unseen, as
    /// a terminal does not echo what is typed between reads) is dropped
    /// unread, never taken for the name (`Want::Afresh`). A script has
    /// written its password already: it goes back to the first menu, as after a refused `REGISTER`, which shows
    /// none of the lines it gets, so the password is never taken for a
    /// name, sent as one or shown.
    fn on_name_checked(&mut self, name: &str, result: Result<(), Refused>) {
        let Stage::Waiting(Wait::NameFree(asked)) = &self.stage else {
            return;
        };
        if asked != name {
            return;
        }
        self.stage = match result {
            Err(Refused::Err(ErrorCode::NameTaken, _)) => {
                self.say(format!("The name {name} is taken; please pick another."));
                if self.confirm_password {
                    self.afresh = true;
                    Stage::Name(Purpose::Register)
                } else {
                    Stage::Welcome
                }
            }
            _ => Stage::Password(Purpose::Register, name.to_string()),
        };
        self.prompt();
    }

    fn on_logged_in(&mut self, result: Result<Option<Contact>, Refused>) {
        if let Stage::Waiting(Wait::LogIn(purpose, name)) = &self.stage {
            let (purpose, name) = (*purpose, name.clone());
            self.logged_in(purpose, &name, result);
            self.prompt();
        }
    }

    fn on_list(&mut self, asker: Asker, result: Result<Vec<Contact>, Refused>) {
        let waited = matches!(self.stage, Stage::Waiting(Wait::List));
        if asker == Asker::Menu && !waited {
            return;
        }
        self.show_list(result);
        if waited {
            self.stage = Stage::Menu;
            self.prompt();
        }
    }

    fn show_list(&self, result: Result<Vec<Contact>, Refused>) {
        let rows = match result {
            Ok(rows) => rows,
            Err(err) => return self.say(format!("Could not get the online list: {err}.")),
        };
        self.say("<<< ONLINE USER LIST >>>");
        self.say(format!(
            "{:<32}  {:<39}  {}",
            "User name", "IP address", "Port"
        ));
        for c in &rows {
            self.say(format!(
                "{:<32}  {:<39}  {}{}",
                c.name,
                c.ip.to_string(),
                c.port,
                away_note(c.away.as_deref())
            ));
        }
        match rows.len() {
            1 => self.say("1 user online."),
            n => self.say(format!("{n} users online.")),
        }
    }

    /// Asks the registry where `name` is, for the menu or a lobby.
    pub(super) fn search(&mut self, name: &str, asker: Asker) -> Stage {
        if let Err(err) = wire::check_name(name) {
            self.say(format!("That is not a user name: {}.", err.text));
            return Stage::Menu;
        }
        let ask = RegistryAsk::Search {
            name: name.to_string(),
            asker,
        };
        self.out.push(Effect::ToRegistry(ask));
        Stage::Waiting(Wait::Search)
    }

    fn on_search(&mut self, name: &str, asker: Asker, result: Result<Contact, Refused>) {
        let waited = matches!(self.stage, Stage::Waiting(Wait::Search));
        if asker == Asker::Menu && !waited {
            return;
        }
        let found = self.found(name, result);
        if asker == Asker::Menu {
            // The question it asks next (add to the list?) has no place in
            // a lobby, which shows the same lines.
            self.stage = found.map_or(Stage::Menu, Stage::ConfirmAdd);
            self.prompt();
        }
    }

    /// Shows what a search found; the contact, if it is one to add.
    fn found(&self, name: &str, result: Result<Contact, Refused>) -> Option<Contact> {
        match result {
            Ok(contact) => {
                self.say(format!("UserIp: {} Port: {}", contact.ip, contact.port));
                if contact.away.is_some() {
                    let note = away_note(contact.away.as_deref());
                    self.say(format!("{}{note}", contact.name));
                }
                if contact.name.eq_ignore_ascii_case(&self.my_name()) {
                    self.say("That is you.");
                } else if self.contacts.iter().any(|c| c.name == contact.name) {
                    self.say(format!(
                        "{} is on your conversation list already.",
                        contact.name
                    ));
                } else {
                    return Some(contact);
                }
            }
            Err(Refused::Err(ErrorCode::Offline, _)) => self.say(format!("{name} is offline.")),
            Err(Refused::Err(ErrorCode::NotFound, _)) => {
                self.say(format!("There is no user called {name}."));
            }
            Err(err) => self.say(format!("Could not search for {name}: {err}.")),
        }
        None
    }

    /// Starts a lobby: its hub first (`LobbyCommand::Start`); once it
    /// runs, the first tickets (`opening`).
    pub(super) fn start_chat(&mut self) -> Stage {
        if self.contacts.is_empty() {
            self.say("Your conversation list is empty: search a user with '2' and add them first.");
            return Stage::Menu;
        }
        self.next_lobby += 1;
        let id = self.next_lobby;
        let config = Box::new(self.lobby_config(&self.my_name()));
        let start = LobbyCommand::Start {
            config,
            inheritance: None,
        };
        self.to_lobby(id, start);
        Stage::Starting(Starting {
            id,
            then: Start::Fresh,
        })
    }

    /// The hub of a new lobby runs: the registry is asked for a ticket for
    /// everyone on the conversation list; the chat requests go out when
    /// all are back.
    pub(super) fn opening(&mut self, id: u64, lobby_id: Option<String>) -> Stage {
        let me = self.my_name();
        let log = self.open_log(&me);
        self.out.log(log, format!("* lobby started by {me}"));
        let names: Vec<String> = self.contacts.iter().map(|c| c.name.clone()).collect();
        self.ask_tickets(id, &names);
        if let Some(text) = self.away.clone() {
            self.to_lobby(id, LobbyCommand::Away(Some(text)));
        }
        Stage::Leading(Leading {
            id,
            lobby_id,
            log,
            invitations: Invitations::started(&me, &names, self.now.at),
            opening: Some(Opening {
                asked: names.len(),
                ready: Vec::new(),
            }),
            members: Vec::new(),
            someone_joined: false,
            asked_to_end: false,
            away: AwayList::default(),
        })
    }

    /// Asks the registry for a ticket for each of the first invitees.
    fn ask_tickets(&mut self, lobby: u64, names: &[String]) {
        self.notice(format!("Sending chat requests to {}...", names.join(", ")));
        for name in names {
            let ask = RegistryAsk::Ticket {
                lobby,
                name: name.clone(),
                by: None,
            };
            self.out.push(Effect::ToRegistry(ask));
        }
    }

    /// A ticket for a chat request into lobby `lobby`, or why there is none.
    fn on_ticket(
        &mut self,
        lobby: u64,
        name: String,
        by: Option<String>,
        result: Result<(Contact, String), NotInvited>,
    ) {
        let Stage::Leading(leading) = &mut self.stage else {
            return;
        };
        if leading.id != lobby {
            return;
        }
        let Some(opening) = &mut leading.opening else {
            return self.invite_ticket(name, by, result);
        };
        opening.asked -= 1;
        match result {
            Ok(ready) => opening.ready.push(ready),
            Err(why) => {
                leading.invitations.answered(&name);
                let log = leading.log;
                self.out
                    .log(log, format!("* could not invite {name}: {why}"));
                // Each `3` asks everyone on the list again: say how to stop.
                let hint = match why {
                    NotInvited::Unreachable(_) => String::new(),
                    _ => format!("; /remove {name} at the menu takes them off your list"),
                };
                self.say(format!("{name}: {why}{hint}"));
            }
        }
        self.opened();
    }

    /// Once every first ticket is back: the chat requests go out, or the
    /// lobby ends if nobody could be invited.
    fn opened(&mut self) {
        let Stage::Leading(leading) = &mut self.stage else {
            return;
        };
        match &leading.opening {
            Some(opening) if opening.asked == 0 => {}
            _ => return,
        }
        let Some(opening) = leading.opening.take() else {
            return;
        };
        if opening.ready.is_empty() {
            if let Stage::Leading(leading) = std::mem::replace(&mut self.stage, Stage::Menu) {
                self.end_lobby(leading, "nobody could be invited");
            }
            self.prompt();
            return;
        }
        let (lobby, me) = (leading.id, self.my_name());
        for (contact, ticket) in opening.ready {
            self.send_invitation(lobby, &me, contact, ticket);
        }
        self.say(format!("You lead this lobby. {LOBBY_HINT}"));
        if let Stage::Leading(leading) = &self.stage {
            self.show_still_asked(leading);
        }
    }

    /// Starts an inviter thread that sends `contact` a chat request.
    pub(super) fn send_invitation(
        &mut self,
        lobby: u64,
        me: &str,
        contact: Contact,
        ticket: String,
    ) {
        self.say_if_away(&contact);
        self.out.push(Effect::Start(Worker::Inviter {
            lobby,
            me: me.to_string(),
            contact,
            ticket,
        }));
    }
}

/// What the user is told when the registry would not register or join.
fn not_logged_in(purpose: Purpose, name: &str, refused: Refused) -> String {
    match refused {
        Refused::TooManyAttempts { wait, limit } => {
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
            format!("{what}; try again in {wait} seconds.")
        }
        Refused::Err(code, text) => {
            let text = text.trim_end_matches('.');
            match (purpose, code) {
                (Purpose::Join, ErrorCode::BadCredentials) => {
                    format!("Could not join {name}: {text}. {LOCKOUT}")
                }
                (Purpose::Join, _) => format!("Could not join {name}: {text}."),
                (Purpose::Register, _) => format!("Could not register {name}: {text}."),
            }
        }
        err @ (Refused::Link(_) | Refused::Unexpected(_)) => match purpose {
            Purpose::Join => format!("Could not join {name}: {err}."),
            Purpose::Register => format!("Could not register {name}: {err}."),
        },
    }
}

/// What failed joins lead to, said with each one: the registry's throttle
/// as it is by default (`--max-failures`, `--lockout`).
const LOCKOUT: &str = "Five failed joins within a minute lock this name, and this address, \
                       for a minute.";
