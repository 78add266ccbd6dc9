//! The interactive peer: the menus, chat requests in both directions, and
//! the user's side of a lobby, as a leader or as a member.
//!
//! Threads: the app thread (the caller of `Peer::run`) owns all user-facing
//! state and is the only one that prints; the chat listener and one thread
//! per incoming chat connection; one inviter thread per outgoing chat
//! request; the registry link (`client.rs`); and, while leading, the lobby
//! hub (`lobby.rs`). Background threads report to the app thread over
//! channels and never touch its state.
//!
//! This module must never print from a background thread (except `--trace`
//! lines, which go to standard error), and never write a socket that another
//! thread writes: each chat connection is written by the thread that accepted
//! or opened it until it is handed to the hub, and by the hub after that.

use std::fmt;
use std::io::{self, BufReader};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, select, unbounded};

use crate::chatlog::ChatLog;
use crate::client::{ClientError, LinkConfig, LinkNotice, RegistryLink};
use crate::line::{ConnReader, Frame, LineReader, is_timeout, write_line};
use crate::lobby::{self, Lobby, LobbyConfig, Notice};
use crate::trace::Trace;
use crate::wire::{self, CloseReason, Contact, ErrorCode, Reply, Request, ToLeader, ToMember};

/// The prompts, word for word as the design has them.
pub const WELCOME_PROMPT: &str = "Please, press '1' for registration, '2' for join:";
pub const MENU_PROMPT: &str =
    "Press '1' for 'Online User List', '2' for search, '3' for starting to chat:";
pub const ADD_PROMPT: &str = "Do you want to add the user to your conversation list? ['Yes', 'No']";

const LOBBY_HELP: &str = "In the lobby every line you type is a message. Commands: /members lists who is here, /leave returns to the menu, /quit leaves and exits, /help shows this.";

/// How often a joined peer says HELLO to the registry.
pub const DEFAULT_HELLO_INTERVAL: Duration = Duration::from_secs(10);
/// How long an invitee has to answer a chat request.
pub const DEFAULT_INVITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an inviter waits to connect to an invitee.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a waiting inviter looks whether it has been cancelled.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// How a peer is set up.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The registry server.
    pub server: SocketAddr,
    /// Where to listen for chat requests; port 0 lets the OS pick.
    pub listen: SocketAddr,
    /// Chat logs go under `<log_dir>/<own name>/`.
    pub log_dir: PathBuf,
    pub hello_interval: Duration,
    /// How long an invitee has to answer a chat request.
    pub invite_timeout: Duration,
    /// The first and the longest wait between attempts to reach a registry
    /// that went away.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// In a lobby, `HELLO` goes out after this long with nothing sent...
    pub lobby_hello: Duration,
    /// ...and the other side is dropped after this long with nothing heard.
    pub lobby_timeout: Duration,
    pub trace: Trace,
}

impl PeerConfig {
    pub fn new(server: SocketAddr) -> PeerConfig {
        PeerConfig {
            server,
            listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            log_dir: PathBuf::from("logs"),
            hello_interval: DEFAULT_HELLO_INTERVAL,
            invite_timeout: DEFAULT_INVITE_TIMEOUT,
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(10),
            lobby_hello: lobby::DEFAULT_HELLO_INTERVAL,
            lobby_timeout: lobby::DEFAULT_SILENCE_TIMEOUT,
            trace: Trace::off(),
        }
    }
}

/// Why the peer could not start or go on.
#[derive(Debug)]
pub enum PeerError {
    Listen(SocketAddr, io::Error),
    Registry(SocketAddr, ClientError),
    /// A thread could not be started.
    Thread(io::Error),
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerError::Listen(addr, err) => write!(f, "cannot listen for chats on {addr}: {err}"),
            PeerError::Registry(addr, err) => {
                write!(f, "cannot reach the registry at {addr}: {err}")
            }
            PeerError::Thread(err) => write!(f, "cannot start a thread: {err}"),
        }
    }
}

impl std::error::Error for PeerError {}

/// What the user typed, or why there is nothing more to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Line(String),
    /// End of input: leave and exit.
    Eof,
    /// Ctrl-C: leave and exit.
    Interrupt,
}

/// What kind of line the peer waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Line,
    /// A password: a terminal should not echo it.
    Secret,
}

/// The peer's user interface: lines typed in, lines shown out.
pub struct Console {
    pub input: Receiver<Input>,
    pub screen: Sender<String>,
    /// If set, the peer says before each read what it wants next, so that a
    /// terminal reader can turn echo off for passwords.
    pub wants: Option<Sender<Want>>,
}

/// A peer with its chat listener running.
pub struct Peer {
    config: PeerConfig,
    listener: ChatListener,
    events: Sender<Event>,
    events_rx: Receiver<Event>,
}

impl Peer {
    /// Starts listening for chat requests.
    pub fn start(config: PeerConfig) -> Result<Peer, PeerError> {
        let (events, events_rx) = unbounded();
        let listener = ChatListener::start(&config, events.clone())
            .map_err(|err| PeerError::Listen(config.listen, err))?;
        Ok(Peer {
            config,
            listener,
            events,
            events_rx,
        })
    }

    /// The port chat requests arrive on.
    pub fn chat_port(&self) -> u16 {
        self.listener.addr.port()
    }

    /// Connects to the registry and runs the menus until the user quits or
    /// the input ends. Leaves any lobby and logs out before returning.
    pub fn run(self, console: Console) -> Result<(), PeerError> {
        let Peer {
            config,
            listener,
            events,
            events_rx,
        } = self;
        let (link_tx, link_rx) = unbounded();
        let link_config = LinkConfig {
            addr: config.server,
            hello_interval: config.hello_interval,
            retry_min: config.retry_min,
            retry_max: config.retry_max,
            trace: config.trace,
        };
        let link = match RegistryLink::connect(link_config, link_tx) {
            Ok(link) => link,
            Err(err) => {
                listener.stop();
                return Err(PeerError::Registry(config.server, err));
            }
        };
        let (notices, notices_rx) = unbounded();
        let mut app = App {
            chat_port: listener.addr.port(),
            config,
            screen: console.screen.clone(),
            link,
            events,
            notices,
            me: None,
            contacts: Vec::new(),
            stage: Stage::Welcome,
            pending: None,
            next_lobby: 0,
            inviters: Vec::new(),
        };
        app.prompt();
        let mut asked = false;
        loop {
            if let (Some(wants), false) = (&console.wants, asked) {
                let _ = wants.send(app.want());
                asked = true;
            }
            select! {
                recv(console.input) -> input => {
                    asked = false;
                    match input {
                        Ok(Input::Line(line)) => {
                            if let Flow::Quit = app.on_line(&line) {
                                break;
                            }
                        }
                        Ok(Input::Eof) | Ok(Input::Interrupt) | Err(_) => break,
                    }
                }
                recv(events_rx) -> event => {
                    if let Ok(event) = event {
                        app.on_event(event);
                    }
                }
                recv(notices_rx) -> notice => {
                    if let Ok(notice) = notice {
                        app.on_notice(notice);
                    }
                }
                recv(link_rx) -> notice => {
                    if let Ok(notice) = notice {
                        app.on_link(notice);
                    }
                }
            }
        }
        app.quit();
        // Chat requests still waiting for an answer are answered BUSY by
        // their own threads as the listener stops.
        listener.stop();
        drop(events_rx);
        Ok(())
    }
}

/// What background threads tell the app thread.
enum Event {
    /// A chat request arrived; `answer` waits for the user's decision.
    Invitation {
        from: String,
        ticket: Option<String>,
        answer: Sender<Answer>,
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
enum Answer {
    Accept {
        lobby: u64,
        outbox: Receiver<ToLeader>,
    },
    Reject,
    Busy,
}

/// How a chat request we sent ended.
enum Outcome {
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

enum Flow {
    Go,
    Quit,
}

#[derive(Clone, Copy)]
enum Purpose {
    Register,
    Join,
}

enum Stage {
    Welcome,
    Name(Purpose),
    Password(Purpose, String),
    Menu,
    Search,
    ConfirmAdd(Contact),
    Leading(Leading),
    Member(Membership),
}

struct Leading {
    id: u64,
    lobby: Lobby,
    log: Option<ChatLog>,
    /// Chat requests not answered yet.
    waiting: usize,
    cancel: Arc<AtomicBool>,
}

struct Membership {
    id: u64,
    leader: String,
    outbox: Sender<ToLeader>,
    members: Vec<String>,
    log: Option<ChatLog>,
    /// Set once the leader sent `MEMBERS`.
    admitted: bool,
}

/// What a line typed in a lobby asks for.
enum LobbyInput<'a> {
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

struct Pending {
    from: String,
    answer: Sender<Answer>,
}

struct App {
    config: PeerConfig,
    chat_port: u16,
    screen: Sender<String>,
    link: RegistryLink,
    events: Sender<Event>,
    notices: Sender<Notice>,
    me: Option<Contact>,
    contacts: Vec<Contact>,
    stage: Stage,
    pending: Option<Pending>,
    next_lobby: u64,
    inviters: Vec<JoinHandle<()>>,
}

fn write_log(log: &mut Option<ChatLog>, screen: &Sender<String>, event: &str) {
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
    fn say(&self, text: impl Into<String>) {
        let _ = self.screen.send(text.into());
    }

    fn my_name(&self) -> String {
        self.me
            .as_ref()
            .map_or_else(String::new, |me| me.name.clone())
    }

    fn want(&self) -> Want {
        match self.stage {
            Stage::Password(..) if self.pending.is_none() => Want::Secret,
            _ => Want::Line,
        }
    }

    /// Shows the question the current stage waits on.
    fn prompt(&self) {
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

    fn on_line(&mut self, line: &str) -> Flow {
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
            Stage::Welcome => match line.trim() {
                "1" => Stage::Name(Purpose::Register),
                "2" => Stage::Name(Purpose::Join),
                _ => {
                    self.say("Please type 1 to register or 2 to join.");
                    Stage::Welcome
                }
            },
            Stage::Name(purpose) => match wire::check_name(line.trim()) {
                Ok(()) => Stage::Password(purpose, line.trim().to_string()),
                Err(err) => {
                    self.say(format!("That name will not do: {}.", err.text));
                    Stage::Name(purpose)
                }
            },
            Stage::Password(purpose, name) => match wire::check_password(line) {
                Ok(()) => self.log_in(purpose, name, line.to_string()),
                Err(err) => {
                    self.say(format!("That password will not do: {}.", err.text));
                    Stage::Password(purpose, name)
                }
            },
            Stage::Menu => self.menu(line.trim()),
            Stage::Search => self.search(line.trim()),
            Stage::ConfirmAdd(contact) => match line.trim().to_ascii_lowercase().as_str() {
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
            },
            Stage::Leading(leading) => self.lead(leading, line),
            Stage::Member(membership) => self.member(membership, line),
        };
        self.prompt();
        Flow::Go
    }

    fn log_in(&mut self, purpose: Purpose, name: String, password: String) -> Stage {
        let request = match purpose {
            Purpose::Register => Request::Register {
                name: name.clone(),
                password,
            },
            Purpose::Join => Request::Join {
                name: name.clone(),
                password,
                port: self.chat_port,
            },
        };
        match self
            .link
            .request(request)
            .map(|replies| replies.into_iter().next())
        {
            Ok(Some(Reply::Registered(name))) => {
                self.say(format!("Registered {name}. Now join with '2'."));
                Stage::Welcome
            }
            Ok(Some(Reply::Joined(contact))) => {
                self.say(format!(
                    "Joined as {}; others reach you at {} port {}. Type /quit at any time to leave.",
                    contact.name, contact.ip, contact.port
                ));
                self.me = Some(contact);
                Stage::Menu
            }
            Ok(Some(reply @ Reply::Err(ErrorCode::TooManyAttempts, _))) => {
                let wait = reply
                    .retry_after()
                    .map_or_else(|| "some".to_string(), |secs| secs.to_string());
                self.say(format!(
                    "Too many failed attempts for {name}; try again in {wait} seconds."
                ));
                Stage::Welcome
            }
            Ok(Some(Reply::Err(_, text))) => {
                let what = match purpose {
                    Purpose::Register => "register",
                    Purpose::Join => "join",
                };
                self.say(format!("Could not {what} {name}: {text}."));
                Stage::Welcome
            }
            Ok(other) => {
                self.say(format!("The registry answered strangely: {other:?}"));
                Stage::Welcome
            }
            Err(err) => {
                self.say(format!("{err}."));
                Stage::Welcome
            }
        }
    }

    fn menu(&mut self, choice: &str) -> Stage {
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

    fn show_list(&self) {
        match self.link.request(Request::List) {
            Ok(replies) => {
                let rows: Vec<&Contact> = replies
                    .iter()
                    .filter_map(|r| match r {
                        Reply::Row(contact) => Some(contact),
                        _ => None,
                    })
                    .collect();
                self.say(format!("{} user(s) online:", rows.len()));
                self.say(format!(
                    "{:<32}  {:<39}  {}",
                    "User name", "IP address", "Port"
                ));
                for c in rows {
                    self.say(format!(
                        "{:<32}  {:<39}  {}",
                        c.name,
                        c.ip.to_string(),
                        c.port
                    ));
                }
            }
            Err(err) => self.say(format!("{err}.")),
        }
    }

    fn search(&mut self, name: &str) -> Stage {
        if let Err(err) = wire::check_name(name) {
            self.say(format!("That is not a user name: {}.", err.text));
            return Stage::Menu;
        }
        match self.link.request(Request::Search {
            name: name.to_string(),
        }) {
            Ok(replies) => match replies.into_iter().next() {
                Some(Reply::Found(contact)) => {
                    self.say(format!(
                        "{} is online at IP {} port {}.",
                        contact.name, contact.ip, contact.port
                    ));
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
                Some(Reply::Err(ErrorCode::Offline, _)) => {
                    self.say(format!("{name} is offline."));
                    Stage::Menu
                }
                Some(Reply::Err(ErrorCode::NotFound, _)) => {
                    self.say(format!("There is no user called {name}."));
                    Stage::Menu
                }
                other => {
                    self.say(format!("The registry answered strangely: {other:?}"));
                    Stage::Menu
                }
            },
            Err(err) => {
                self.say(format!("{err}."));
                Stage::Menu
            }
        }
    }

    /// Menu choice 3: becomes a lobby leader and invites everyone on the
    /// conversation list.
    fn start_chat(&mut self) -> Stage {
        if self.contacts.is_empty() {
            self.say("Your conversation list is empty: search a user with '2' and add them first.");
            return Stage::Menu;
        }
        let me = self.my_name();
        self.next_lobby += 1;
        let id = self.next_lobby;
        let mut config = LobbyConfig::new(me.clone());
        config.trace = self.config.trace;
        config.hello_interval = self.config.lobby_hello;
        config.silence_timeout = self.config.lobby_timeout;
        let lobby = match Lobby::start(config, self.notices.clone()) {
            Ok(lobby) => lobby,
            Err(err) => {
                self.say(format!("Cannot start a chat: {err}"));
                return Stage::Menu;
            }
        };
        let mut log = self.open_log(&me);
        write_log(&mut log, &self.screen, &format!("* lobby started by {me}"));
        let cancel = Arc::new(AtomicBool::new(false));
        self.say(format!(
            "Sending chat requests to {}...",
            self.contacts
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        self.inviters.retain(|h| !h.is_finished());
        let mut waiting = 0;
        for listed in self.contacts.clone() {
            let (contact, ticket) = match self.ticket_for(&listed.name) {
                Ok(found) => found,
                Err(why) => {
                    self.say(format!("{}: {why}", listed.name));
                    continue;
                }
            };
            let job = Inviter {
                lobby: id,
                me: me.clone(),
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
                    waiting += 1;
                }
                Err(err) => self.say(format!("Cannot send a chat request: {err}")),
            }
        }
        let leading = Leading {
            id,
            lobby,
            log,
            waiting,
            cancel,
        };
        if waiting == 0 {
            self.end_lobby(leading, "nobody could be invited");
            return Stage::Menu;
        }
        self.say(format!("You lead this lobby. {LOBBY_HELP}"));
        Stage::Leading(leading)
    }

    /// Gets a ticket to invite `name`, and where `name` is now: the address
    /// on the conversation list may be old.
    fn ticket_for(&self, name: &str) -> Result<(Contact, String), String> {
        let first = |request| match self.link.request(request) {
            Ok(replies) => Ok(replies.into_iter().next()),
            Err(err) => Err(format!("unreachable ({err})")),
        };
        let ticket = match first(Request::Invite { name: name.into() })? {
            Some(Reply::Ticket(ticket)) => ticket,
            Some(Reply::Err(ErrorCode::Offline, _)) => return Err("offline".into()),
            Some(Reply::Err(_, text)) => return Err(format!("unreachable ({text})")),
            other => return Err(format!("unreachable (the registry answered {other:?})")),
        };
        match first(Request::Search { name: name.into() })? {
            Some(Reply::Found(contact)) => Ok((contact, ticket)),
            _ => Err("offline".into()),
        }
    }

    fn open_log(&self, leader: &str) -> Option<ChatLog> {
        match ChatLog::create(&self.config.log_dir, &self.my_name(), leader) {
            Ok(log) => Some(log),
            Err(err) => {
                self.say(format!(
                    "Cannot create a chat log in {}: {err}",
                    self.config.log_dir.display()
                ));
                None
            }
        }
    }

    fn lead(&mut self, mut leading: Leading, line: &str) -> Stage {
        match LobbyInput::from(line) {
            LobbyInput::Members => self.show_members(&leading.lobby.members()),
            LobbyInput::Leave => {
                self.end_lobby(leading, "you left");
                return Stage::Menu;
            }
            LobbyInput::Say(text) => {
                leading.lobby.say(text.to_string());
                let line = format!("[{}] {text}", self.my_name());
                write_log(&mut leading.log, &self.screen, &line);
            }
            other => self.answer_lobby_input(other),
        }
        Stage::Leading(leading)
    }

    fn member(&mut self, mut membership: Membership, line: &str) -> Stage {
        match LobbyInput::from(line) {
            LobbyInput::Members => self.show_members(&membership.members),
            LobbyInput::Leave => {
                self.leave_membership(membership);
                return Stage::Menu;
            }
            LobbyInput::Say(text) => {
                let line = format!("[{}] {text}", self.my_name());
                write_log(&mut membership.log, &self.screen, &line);
                let _ = membership.outbox.send(ToLeader::Msg(text.to_string()));
            }
            other => self.answer_lobby_input(other),
        }
        Stage::Member(membership)
    }

    fn show_members(&self, members: &[String]) {
        self.say(format!("Members: {}", members.join(", ")));
    }

    /// What a leader and a member answer alike.
    fn answer_lobby_input(&self, input: LobbyInput<'_>) {
        match input {
            LobbyInput::Help => self.say(LOBBY_HELP),
            LobbyInput::Unknown(command) => {
                self.say(format!("Unknown command {command}. {LOBBY_HELP}"));
            }
            LobbyInput::Refused(why) => self.say(format!("Not sent: {why}.")),
            LobbyInput::Nothing | LobbyInput::Members | LobbyInput::Leave | LobbyInput::Say(_) => {}
        }
    }

    fn end_lobby(&mut self, mut leading: Leading, why: &str) {
        leading.cancel.store(true, Ordering::SeqCst);
        write_log(
            &mut leading.log,
            &self.screen,
            &format!("* lobby ended: {why}"),
        );
        leading.lobby.close(CloseReason::LeaderLeft);
        self.say(format!("The lobby has ended ({why})."));
    }

    fn leave_membership(&mut self, mut membership: Membership) {
        let _ = membership.outbox.send(ToLeader::Leave);
        write_log(&mut membership.log, &self.screen, "* you left the lobby");
        self.say(format!("You left {}'s lobby.", membership.leader));
    }

    fn answer_request(&mut self, pending: Pending, answer: &str) {
        match answer.to_ascii_lowercase().as_str() {
            "ok" | "yes" | "y" => {
                self.next_lobby += 1;
                let id = self.next_lobby;
                let (outbox, outbox_rx) = unbounded();
                if pending
                    .answer
                    .send(Answer::Accept {
                        lobby: id,
                        outbox: outbox_rx,
                    })
                    .is_err()
                {
                    self.say(format!(
                        "The chat request from '{}' is no longer open.",
                        pending.from
                    ));
                    self.prompt();
                    return;
                }
                let mut log = self.open_log(&pending.from);
                write_log(
                    &mut log,
                    &self.screen,
                    &format!("* joined the lobby of {}", pending.from),
                );
                self.say(format!("Joining {}'s lobby...", pending.from));
                self.stage = Stage::Member(Membership {
                    id,
                    leader: pending.from,
                    outbox,
                    members: Vec::new(),
                    log,
                    admitted: false,
                });
            }
            "reject" | "no" | "n" => {
                let _ = pending.answer.send(Answer::Reject);
                self.say(format!(
                    "Rejected the chat request from '{}'.",
                    pending.from
                ));
                self.prompt();
            }
            _ => {
                self.say("Please answer OK or REJECT.");
                self.pending = Some(pending);
                self.prompt();
            }
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Invitation {
                from,
                ticket,
                answer,
            } => {
                let free = matches!(
                    self.stage,
                    Stage::Menu | Stage::Search | Stage::ConfirmAdd(_)
                );
                if !free || self.pending.is_some() {
                    let _ = answer.send(Answer::Busy);
                    return;
                }
                // Only a request the user would be asked about needs its
                // ticket checked; a busy answer tells a forger nothing.
                if let Err(why) = self.check_ticket(&from, ticket) {
                    let _ = answer.send(Answer::Reject);
                    self.say(format!(
                        "Warning: refused a chat request claiming to be from '{from}': {why}."
                    ));
                    self.prompt();
                    return;
                }
                self.pending = Some(Pending { from, answer });
                self.prompt();
            }
            Event::Invited {
                lobby,
                name,
                outcome,
            } => self.on_invited(lobby, name, outcome),
            Event::FromLeader { lobby, line } => self.on_leader_line(lobby, line),
            Event::LeaderGone { lobby, silent } => {
                let Stage::Member(membership) = &self.stage else {
                    return;
                };
                if membership.id != lobby {
                    return;
                }
                let Stage::Member(mut membership) = std::mem::replace(&mut self.stage, Stage::Menu)
                else {
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
        }
    }

    /// Asks the registry whether `ticket` really lets `from` invite us.
    fn check_ticket(&self, from: &str, ticket: Option<String>) -> Result<(), String> {
        let Some(ticket) = ticket else {
            return Err("it carried no ticket from the registry".into());
        };
        match self.link.request(Request::Check { ticket }) {
            Ok(replies) => match replies.into_iter().next() {
                Some(Reply::Valid { leader, invitee })
                    if leader.eq_ignore_ascii_case(from)
                        && invitee.eq_ignore_ascii_case(&self.my_name()) =>
                {
                    Ok(())
                }
                Some(Reply::Valid { leader, .. }) => {
                    Err(format!("its ticket was issued to '{leader}'"))
                }
                Some(Reply::Err(_, text)) => Err(format!("the registry says {text}")),
                other => Err(format!("the registry answered strangely: {other:?}")),
            },
            Err(err) => Err(format!("its ticket could not be checked ({err})")),
        }
    }

    fn on_invited(&mut self, lobby: u64, name: String, outcome: Outcome) {
        let Stage::Leading(leading) = &mut self.stage else {
            return;
        };
        if leading.id != lobby {
            // An answer for a lobby that has ended: tell an accepting
            // invitee so rather than leaving it waiting.
            if let Outcome::Accepted { mut writer, .. } = outcome {
                let closed = ToMember::Closed(CloseReason::LeaderLeft);
                self.config.trace.sent(&name, &closed);
                let _ = writer.set_write_timeout(Some(CANCEL_CHECK));
                let _ = write_line(&mut writer, &closed);
            }
            return;
        }
        leading.waiting = leading.waiting.saturating_sub(1);
        let report = match outcome {
            Outcome::Accepted {
                addr,
                reader,
                writer,
            } => {
                leading.lobby.admit(name.clone(), reader, writer);
                format!("{name}: OK -> ({}, {})", addr.ip(), addr.port())
            }
            Outcome::Rejected => format!("{name}: rejected your chat request"),
            Outcome::Busy => format!("{name}: busy in another chat"),
            Outcome::NoAnswer => format!("{name}: no answer"),
            Outcome::Unreachable(why) => format!("{name}: unreachable ({why})"),
        };
        let _ = self.screen.send(report);
        self.maybe_end_empty_lobby();
    }

    /// A leader left alone, with no chat request still open, has no lobby.
    fn maybe_end_empty_lobby(&mut self) {
        let Stage::Leading(leading) = &self.stage else {
            return;
        };
        if leading.waiting > 0 || leading.lobby.members().len() > 1 {
            return;
        }
        if let Stage::Leading(leading) = std::mem::replace(&mut self.stage, Stage::Menu) {
            self.end_lobby(leading, "nobody else is in it");
            self.prompt();
        }
    }

    fn on_link(&mut self, notice: LinkNotice) {
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

    fn on_notice(&mut self, notice: Notice) {
        let Stage::Leading(leading) = &mut self.stage else {
            return;
        };
        let (shown, logged) = match &notice {
            Notice::Joined(name) => (
                format!("Peer ('{name}') joined the lobby"),
                format!("* {name} joined"),
            ),
            Notice::Msg { from, text } => (format!("[{from}] {text}"), format!("[{from}] {text}")),
            Notice::Left(name) => (
                format!("Peer ('{name}') is offline"),
                format!("* {name} left"),
            ),
            Notice::Dropped(name) => (
                format!("Peer ('{name}') is offline (it stopped reading and was dropped)"),
                format!("* {name} dropped: it stopped reading"),
            ),
            Notice::Silent(name) => (
                format!("Peer ('{name}') is offline (nothing heard from it for too long)"),
                format!("* {name} dropped: nothing heard from it"),
            ),
        };
        write_log(&mut leading.log, &self.screen, &logged);
        self.say(shown);
        if !matches!(notice, Notice::Joined(_) | Notice::Msg { .. }) {
            self.maybe_end_empty_lobby();
        }
    }

    fn on_leader_line(&mut self, lobby: u64, line: ToMember) {
        let Stage::Member(membership) = &mut self.stage else {
            return;
        };
        if membership.id != lobby {
            return;
        }
        let screen = self.screen.clone();
        let show = |text: String| {
            let _ = screen.send(text);
        };
        match line {
            ToMember::Members(names) => {
                membership.admitted = true;
                show(format!(
                    "You are in {}'s lobby with: {}. {LOBBY_HELP}",
                    membership.leader,
                    names.join(", ")
                ));
                write_log(
                    &mut membership.log,
                    &screen,
                    &format!("* members: {}", names.join(" ")),
                );
                membership.members = names;
            }
            ToMember::Joined(name) => {
                show(format!("Peer ('{name}') joined the lobby"));
                write_log(&mut membership.log, &screen, &format!("* {name} joined"));
                membership.members.push(name);
            }
            ToMember::Msg { from, text } => {
                let line = format!("[{from}] {text}");
                write_log(&mut membership.log, &screen, &line);
                show(line);
            }
            ToMember::Left(name) => {
                show(format!("Peer ('{name}') is offline"));
                write_log(&mut membership.log, &screen, &format!("* {name} left"));
                membership.members.retain(|m| *m != name);
            }
            ToMember::Err(code, text) => show(format!("The leader says: {text} ({code})")),
            ToMember::ChatRequest { .. } | ToMember::Hello => {}
            ToMember::Closed(reason) => {
                let why = match reason {
                    CloseReason::LeaderLeft => "the leader left".to_string(),
                    other => other.to_string(),
                };
                write_log(
                    &mut membership.log,
                    &screen,
                    &format!("* lobby ended: {why}"),
                );
                show(format!("The lobby has ended ({why})."));
                self.stage = Stage::Menu;
                self.prompt();
            }
        }
    }

    /// Leaves any lobby, answers a waiting chat request, logs out.
    fn quit(mut self) {
        if let Some(pending) = self.pending.take() {
            let _ = pending.answer.send(Answer::Busy);
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

/// Sends one chat request and reports how it ended.
struct Inviter {
    lobby: u64,
    me: String,
    contact: Contact,
    /// From the registry: proves to the invitee that we are `me`.
    ticket: String,
    timeout: Duration,
    cancel: Arc<AtomicBool>,
    events: Sender<Event>,
    trace: Trace,
}

impl Inviter {
    fn run(self) {
        let outcome = self
            .ask()
            .unwrap_or_else(|err| Outcome::Unreachable(err.to_string()));
        let _ = self.events.send(Event::Invited {
            lobby: self.lobby,
            name: self.contact.name.clone(),
            outcome,
        });
    }

    fn ask(&self) -> io::Result<Outcome> {
        let addr = SocketAddr::new(self.contact.ip, self.contact.port);
        let who = &self.contact.name;
        let mut writer = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
        let request = ToMember::ChatRequest {
            leader: self.me.clone(),
            ticket: Some(self.ticket.clone()),
        };
        self.trace.sent(who, &request);
        write_line(&mut writer, &request)?;
        // Short read timeouts let the wait notice a cancelled lobby.
        writer.set_read_timeout(Some(CANCEL_CHECK))?;
        let mut reader = LineReader::new(BufReader::new(writer.try_clone()?));
        let deadline = Instant::now() + self.timeout;
        let line = loop {
            match reader.next_frame() {
                Ok(Frame::Line(line)) => break line,
                Ok(Frame::Eof) => {
                    return Ok(Outcome::Unreachable("it closed the connection".into()));
                }
                Ok(Frame::TooLong | Frame::BadEncoding) => {
                    return Ok(Outcome::Unreachable("it sent an unreadable line".into()));
                }
                Err(err) if is_timeout(&err) => {
                    if self.cancel.load(Ordering::SeqCst) || Instant::now() >= deadline {
                        let _ = writer.shutdown(Shutdown::Both);
                        return Ok(Outcome::NoAnswer);
                    }
                }
                Err(err) => return Err(err),
            }
        };
        self.trace.received(who, &line);
        Ok(match line.parse::<ToLeader>() {
            Ok(ToLeader::Accept) if !self.cancel.load(Ordering::SeqCst) => {
                writer.set_read_timeout(None)?;
                Outcome::Accepted {
                    addr,
                    reader,
                    writer,
                }
            }
            Ok(ToLeader::Accept) => Outcome::NoAnswer,
            Ok(ToLeader::Reject) => Outcome::Rejected,
            Ok(ToLeader::Busy) => Outcome::Busy,
            Ok(_) | Err(_) => Outcome::Unreachable(format!("it answered {line:?}")),
        })
    }
}

/// Accepts chat connections, each on its own thread.
struct ChatListener {
    addr: SocketAddr,
    flag: Arc<AtomicBool>,
    /// Dropped to tell every chat connection thread to finish.
    stop: Sender<()>,
    handle: JoinHandle<()>,
}

impl ChatListener {
    fn start(config: &PeerConfig, events: Sender<Event>) -> io::Result<ChatListener> {
        let listener = TcpListener::bind(config.listen)?;
        let addr = listener.local_addr()?;
        let flag = Arc::new(AtomicBool::new(false));
        let (stop, stop_rx) = bounded::<()>(0);
        let accept = Acceptor {
            listener,
            flag: flag.clone(),
            stop: stop_rx,
            events,
            trace: config.trace,
            timing: Timing {
                request: config.invite_timeout,
                hello: config.lobby_hello,
                silence: config.lobby_timeout,
            },
        };
        let handle = thread::Builder::new()
            .name("chat-listener".into())
            .spawn(move || accept.run())?;
        Ok(ChatListener {
            addr,
            flag,
            stop,
            handle,
        })
    }

    fn stop(self) {
        self.flag.store(true, Ordering::SeqCst);
        drop(self.stop);
        crate::wake_acceptor(self.addr);
        let _ = self.handle.join();
    }
}

struct Acceptor {
    listener: TcpListener,
    flag: Arc<AtomicBool>,
    stop: Receiver<()>,
    events: Sender<Event>,
    trace: Trace,
    timing: Timing,
}

impl Acceptor {
    fn run(self) {
        let mut connections: Vec<JoinHandle<()>> = Vec::new();
        for stream in self.listener.incoming() {
            if self.flag.load(Ordering::SeqCst) {
                break;
            }
            let Ok(stream) = stream else {
                // Out of descriptors, accept fails at once until a
                // connection closes: pause rather than spin.
                thread::sleep(Duration::from_millis(50));
                continue;
            };
            connections.retain(|h| !h.is_finished());
            let chat = ChatConnection {
                events: self.events.clone(),
                stop: self.stop.clone(),
                trace: self.trace,
                timing: self.timing,
            };
            if let Ok(handle) = thread::Builder::new()
                .name("chat-connection".into())
                .spawn(move || chat.serve(stream))
            {
                connections.push(handle);
            }
        }
        for handle in connections {
            let _ = handle.join();
        }
    }
}

/// One incoming chat connection: the request, the answer, and if the user
/// accepted, this member's side of the lobby.
struct ChatConnection {
    events: Sender<Event>,
    stop: Receiver<()>,
    trace: Trace,
    timing: Timing,
}

/// The timers of a chat connection, from `PeerConfig`.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// How long the leader may take to send `CHAT_REQUEST`.
    request: Duration,
    /// After this long with nothing sent to the leader, send `HELLO`.
    hello: Duration,
    /// After this long with nothing from the leader, it is gone.
    silence: Duration,
}

impl ChatConnection {
    fn serve(self, mut stream: TcpStream) {
        let Ok(addr) = stream.peer_addr() else { return };
        let Ok(read_half) = stream.try_clone() else {
            return;
        };
        // Short read timeouts let the wait for the first line notice that
        // the peer is stopping; a line never comes after `timing.request`.
        let _ = stream.set_read_timeout(Some(CANCEL_CHECK));
        let mut reader = LineReader::new(BufReader::new(read_half));
        let deadline = Instant::now() + self.timing.request;
        let first = loop {
            match reader.next_frame() {
                Err(err) if is_timeout(&err) => {
                    let stopping = !matches!(
                        self.stop.try_recv(),
                        Err(crossbeam_channel::TryRecvError::Empty)
                    );
                    if stopping || Instant::now() >= deadline {
                        return;
                    }
                }
                other => break other,
            }
        };
        let (from, ticket) = match first {
            Ok(Frame::Line(line)) => {
                self.trace.received(addr, &line);
                match line.parse::<ToMember>() {
                    Ok(ToMember::ChatRequest { leader, ticket }) => (leader, ticket),
                    Ok(_) => {
                        self.refuse(
                            &mut stream,
                            addr,
                            ErrorCode::BadArgs,
                            "expected CHAT_REQUEST <name>",
                        );
                        return;
                    }
                    Err(err) => {
                        self.refuse(&mut stream, addr, err.code, &err.text);
                        return;
                    }
                }
            }
            _ => return,
        };
        let (answer_tx, answer_rx) = bounded(1);
        if self
            .events
            .send(Event::Invitation {
                from: from.clone(),
                ticket,
                answer: answer_tx,
            })
            .is_err()
        {
            return;
        }
        let answer = select! {
            recv(answer_rx) -> answer => answer.ok(),
            // The peer is quitting: it is busy for good.
            recv(self.stop) -> _ => Some(Answer::Busy),
        };
        let (lobby, outbox) = match answer {
            Some(Answer::Accept { lobby, outbox }) => (lobby, outbox),
            Some(Answer::Reject) => {
                self.send_ok(&mut stream, &from, &ToLeader::Reject);
                return;
            }
            Some(Answer::Busy) => {
                self.send_ok(&mut stream, &from, &ToLeader::Busy);
                return;
            }
            None => return,
        };
        // A leader that sends nothing, not even HELLO, for this long is gone:
        // its machine may have died without closing the connection.
        // Nor may a leader that stopped reading hold this thread for ever.
        if stream.set_read_timeout(Some(self.timing.silence)).is_err()
            || stream.set_write_timeout(Some(self.timing.silence)).is_err()
            || !self.send_ok(&mut stream, &from, &ToLeader::Accept)
        {
            let _ = self.events.send(Event::LeaderGone {
                lobby,
                silent: false,
            });
            return;
        }
        let reading = {
            let events = self.events.clone();
            let trace = self.trace;
            let from = from.clone();
            thread::Builder::new()
                .name("member-reader".into())
                .spawn(move || read_from_leader(reader, &events, lobby, &from, trace))
        };
        let Ok(reading) = reading else {
            let _ = stream.shutdown(Shutdown::Both);
            let _ = self.events.send(Event::LeaderGone {
                lobby,
                silent: false,
            });
            return;
        };
        // This thread stays the only writer of the socket: it sends what the
        // user types until the user leaves or the peer stops.
        loop {
            select! {
                recv(outbox) -> line => match line {
                    Ok(line) => {
                        if !self.send_ok(&mut stream, &from, &line) {
                            break;
                        }
                        if line == ToLeader::Leave {
                            break;
                        }
                    }
                    Err(_) => break,
                },
                recv(self.stop) -> _ => break,
                default(self.timing.hello) => {
                    if !self.send_ok(&mut stream, &from, &ToLeader::Hello) {
                        break;
                    }
                }
            }
        }
        let _ = stream.shutdown(Shutdown::Both);
        let _ = reading.join();
    }

    fn refuse(&self, stream: &mut TcpStream, addr: SocketAddr, code: ErrorCode, text: &str) {
        let line = ToMember::Err(code, text.to_string());
        self.trace.sent(addr, &line);
        let _ = write_line(stream, &line);
    }

    fn send_ok(&self, stream: &mut TcpStream, to: &str, line: &ToLeader) -> bool {
        self.trace.sent(to, line);
        write_line(stream, line).is_ok()
    }
}

/// Forwards the leader's lines to the app thread until the connection ends.
fn read_from_leader(
    mut reader: ConnReader,
    events: &Sender<Event>,
    lobby: u64,
    leader: &str,
    trace: Trace,
) {
    loop {
        match reader.next_frame() {
            Ok(Frame::Line(line)) => {
                trace.received(leader, &line);
                match line.parse::<ToMember>() {
                    Ok(ToMember::Closed(reason)) => {
                        let _ = events.send(Event::FromLeader {
                            lobby,
                            line: ToMember::Closed(reason),
                        });
                        return;
                    }
                    Ok(parsed) => {
                        if events
                            .send(Event::FromLeader {
                                lobby,
                                line: parsed,
                            })
                            .is_err()
                        {
                            return;
                        }
                    }
                    // A line we do not understand is shown in the trace and
                    // otherwise skipped: the chat goes on.
                    Err(_) => {}
                }
            }
            Ok(Frame::BadEncoding) => {}
            Err(err) if is_timeout(&err) => {
                let _ = events.send(Event::LeaderGone {
                    lobby,
                    silent: true,
                });
                return;
            }
            Ok(Frame::Eof | Frame::TooLong) | Err(_) => {
                let _ = events.send(Event::LeaderGone {
                    lobby,
                    silent: false,
                });
                return;
            }
        }
    }
}

/// A peer on its own thread, driven through channels instead of a terminal:
/// for scripts, the demo and tests.
pub struct ScriptedPeer {
    input: Sender<Input>,
    screen: Receiver<String>,
    chat_port: u16,
    handle: Option<JoinHandle<Result<(), PeerError>>>,
}

/// A line that did not show up in time, with what did.
#[derive(Debug)]
pub struct NotSeen {
    pub wanted: String,
    pub seen: Vec<String>,
}

impl fmt::Display for NotSeen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no line containing {:?}; saw {:#?}",
            self.wanted, self.seen
        )
    }
}

impl std::error::Error for NotSeen {}

impl ScriptedPeer {
    /// Starts a peer: its chat listener, then its app thread.
    pub fn start(config: PeerConfig) -> Result<ScriptedPeer, PeerError> {
        let peer = Peer::start(config)?;
        let chat_port = peer.chat_port();
        let (input, input_rx) = unbounded();
        let (screen, screen_rx) = unbounded();
        let handle = thread::Builder::new()
            .name("scripted-peer".into())
            .spawn(move || {
                peer.run(Console {
                    input: input_rx,
                    screen,
                    wants: None,
                })
            })
            .map_err(PeerError::Thread)?;
        Ok(ScriptedPeer {
            input,
            screen: screen_rx,
            chat_port,
            handle: Some(handle),
        })
    }

    pub fn chat_port(&self) -> u16 {
        self.chat_port
    }

    /// Types `line` as the user would.
    pub fn type_line(&self, line: &str) {
        let _ = self.input.send(Input::Line(line.to_string()));
    }

    /// Reads what the peer shows until a line contains `wanted`; returns
    /// every line read, the matching one last.
    pub fn wait_for(&self, wanted: &str, timeout: Duration) -> Result<Vec<String>, NotSeen> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.screen.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(wanted);
                    seen.push(line);
                    if found {
                        return Ok(seen);
                    }
                }
                Err(_) => {
                    return Err(NotSeen {
                        wanted: wanted.to_string(),
                        seen,
                    });
                }
            }
        }
    }

    /// Ends the input, as Ctrl-D would, and waits for the peer to leave and
    /// log out. Returns what it showed on the way out.
    pub fn finish(mut self) -> Result<Vec<String>, PeerError> {
        self.stop()
    }

    fn stop(&mut self) -> Result<Vec<String>, PeerError> {
        let _ = self.input.send(Input::Eof);
        let result = match self.handle.take() {
            Some(handle) => handle.join().unwrap_or(Ok(())),
            None => Ok(()),
        };
        result.map(|()| self.screen.try_iter().collect())
    }
}

impl Drop for ScriptedPeer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
