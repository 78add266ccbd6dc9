//! The interactive peer: the menus, chat requests in both directions, and
//! the user's side of a lobby, as a leader or as a member. The app thread (the
//! caller of `Peer::run`) runs a driver around the core (`App`), which takes
//! one input and `now` and returns effects as values; the core owns all
//! user-facing state and is the only code that makes screen lines, and it
//! never waits on a socket. Background threads report to the app thread over
//! channels and never touch its state. This module must never print from a
//! background thread (except `--trace` lines, which go to standard error),
//! and never write a socket that another thread writes: each chat connection
//! is written by the thread that accepted or opened it until it is handed to
//! the hub, and by the hub after that.

mod app;
mod away;
mod away_notes;
mod checks;
mod commands;
mod driver;
mod effect;
mod file_book;
mod file_desk;
mod file_news;
mod files;
mod first_line;
mod invitations;
mod invitee;
mod inviter;
mod keys;
mod leading;
mod leaving;
mod links;
mod lobbies;
mod lobby_commands;
mod lobby_stage;
mod member_link;
mod menu;
mod migration;
mod missed;
mod msg;
mod names;
mod notices;
mod place;
mod registry_worker;
mod render;
mod repeats;
mod screen;
mod sealed;
mod seat;
mod stage;
mod standing;
mod succession;
mod tls;
mod verify;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::client::{ClientError, LinkConfig, LinkNotice, RegistryLink, RegistrySecurity};
use crate::crypto::{Identity, IdentityError};
use crate::lobby::{self, InvitePolicy};
use crate::screen::ScreenLine;
use crate::trace::Trace;

use app::App;
use driver::{Driver, drive};
use invitee::ChatListener;
use keys::Keyring;
use msg::Event;
use registry_worker::RegistryWorker;
use tls::PeerTls;

pub use crate::files::{FileConfig, default_download_dir};
pub use names::{COMMANDS, LobbyNames, complete};
pub use place::{PLAIN_PROMPT, PromptText};

/// The prompts, word for word as the design has them.
pub const WELCOME_PROMPT: &str = "Please, press '1' for registration, '2' for join:";
pub const MENU_PROMPT: &str =
    "Press '1' for 'Online User List', '2' for search, '3' for starting to chat:";
pub const ADD_PROMPT: &str = "Do you want to add the user to your conversation list? ['Yes', 'No']";

/// What a lobby's entry, a handover or a migration says about commands:
/// one line, where the full help (`/help`) would bury the news above it.
const LOBBY_HINT: &str = "Type /help for commands.";
const LOBBY_HELP: &str = "In the lobby every line you type is a message (start it with // to begin it with /). Commands: /who or /members lists who is here, /msg <name> <text> sends a private message (sealed to <name>'s key: the leader relays it but cannot read it; one to a member with no key is not sealed), /me <action> shows an action (* name action), /invite <name> invites someone (a member's /invite asks the leader), /kick <name> [reason] removes a member (leader only), /handover [name] hands the lobby to a member and keeps it going (leader only; the leader's /leave and /quit hand it on too), /end ends it for everyone (leader only; a terminal asks first), /list and /search <name> ask the registry, /away [text] marks you away for everyone in the lobby and at the registry (/away alone while away, or /back, returns), an away user still gets chat requests, /verify <name> shows a safety code to compare with <name> by voice, /send <name> <path> (or /send all <path>) offers a file, /accept, /decline and /cancel [id] answer or stop one, /files lists them, /leave returns to the menu, /quit leaves and exits, /help shows this; Tab completes commands and names.";

/// How often a joined peer says HELLO to the registry.
pub const DEFAULT_REGISTRY_HELLO_INTERVAL: Duration = Duration::from_secs(10);
/// How long an invitee has to answer a chat request.
pub const DEFAULT_INVITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an inviter waits to connect to an invitee.
const INVITE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many lines of a lobby (its hub's notices, or the leader's lines to
/// a member) may wait for the app thread.
const FEED_CAPACITY: usize = 256;
/// How many lines to a leader may wait for the member's writer. Some are
/// answers to the leader's own lines (a file offer declined at once), so a
/// leader that stops reading while it floods must not grow them without
/// bound; the writer's write timeout ends such a link soon after.
const OUTBOX_CAPACITY: usize = 1024;
/// How often the app tries again to show lines a full screen did not take.
const SCREEN_RETRY: Duration = Duration::from_millis(50);
/// How often a waiting inviter looks whether it has been cancelled.
const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// How a peer is set up.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The registry server's addresses, tried in order until one answers
    /// (a name like `localhost` may resolve to `::1` and `127.0.0.1`).
    pub servers: Vec<SocketAddr>,
    /// Where to listen for chat requests; port 0 lets the OS pick. An
    /// unspecified address (`0.0.0.0` or `::`) is taken in the family the
    /// registry is reached in, since the registry tells others to reach us
    /// at the address it sees us come from.
    pub listen: SocketAddr,
    /// The chat port others are told to reach us at, if not the one we
    /// listen on: a port forward (or a test's proxy) stands in front of it.
    pub advertise_port: Option<u16>,
    /// Chat logs go under `<log_dir>/<own name>/`.
    pub log_dir: PathBuf,
    /// The keys: each local user's identity under `<data_dir>/users/<name>/`
    /// and the known peers' keys in `<data_dir>/known_peers`. None: this
    /// peer keeps no keys, announces none, and speaks plain text only.
    pub data_dir: Option<PathBuf>,
    /// Chat connections in plain text (the lab mode), even with keys.
    pub plaintext: bool,
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
    /// How many of a lobby's last messages its leader replays to a member
    /// it admits (0: none).
    pub history: usize,
    /// Whether a member's `/invite` is carried out when we lead.
    pub invites: InvitePolicy,
    pub trace: Trace,
    /// Plain text or TLS to the registry, and which keys it may present.
    /// The binary chooses TLS unless told `--plaintext`; a library caller
    /// chooses here.
    pub registry_security: RegistrySecurity,
    /// This peer's keys: the one its lobby seat names (which it proves to
    /// lead or to come back) and the one sealed messages to it open with.
    /// `None` makes a fresh pair at start, kept for this run only.
    pub identity: Option<Arc<Identity>>,
    /// Where received files go and what is accepted.
    pub files: FileConfig,
}

impl PeerConfig {
    /// What the registry link needs of it.
    fn link_config(&self) -> LinkConfig {
        LinkConfig {
            addrs: self.servers.clone(),
            hello_interval: self.hello_interval,
            retry_min: self.retry_min,
            retry_max: self.retry_max,
            trace: self.trace,
            security: self.registry_security.clone(),
        }
    }

    pub fn new(server: SocketAddr) -> PeerConfig {
        PeerConfig {
            servers: vec![server],
            listen: SocketAddr::from(([0, 0, 0, 0], 0)),
            advertise_port: None,
            log_dir: PathBuf::from("logs"),
            data_dir: None,
            plaintext: false,
            hello_interval: DEFAULT_REGISTRY_HELLO_INTERVAL,
            invite_timeout: DEFAULT_INVITE_TIMEOUT,
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(10),
            lobby_hello: lobby::DEFAULT_LOBBY_HELLO_INTERVAL,
            lobby_timeout: lobby::DEFAULT_SILENCE_TIMEOUT,
            history: lobby::DEFAULT_HISTORY,
            invites: InvitePolicy::Anyone,
            trace: Trace::off(),
            registry_security: RegistrySecurity::Plaintext,
            identity: None,
            files: FileConfig::default(),
        }
    }
}

/// Why the peer could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("cannot listen for chats on {0}: {1}{advice}", advice = listen_advice(.0, .1))]
    Listen(SocketAddr, #[source] io::Error),
    #[error("cannot reach the registry at {addrs}: {1}", addrs = either(.0))]
    Registry(Vec<SocketAddr>, #[source] ClientError),
    /// The keys in the data directory could not be read.
    #[error("{0}")]
    DataDir(#[source] keys::KeysError),
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(#[source] io::Error),
    /// No key pair could be made.
    #[error("cannot make this peer's keys: {0}")]
    Keys(#[source] IdentityError),
}

/// What to do when the chat port cannot be had: another `--port` when
/// something holds it.
fn listen_advice(addr: &SocketAddr, err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::AddrInUse => format!(
            " (port {} is in use, by another peer perhaps): choose another --port, or --port 0 \
             to let the system pick one",
            addr.port()
        ),
        io::ErrorKind::PermissionDenied => {
            " (ports below 1024 need privileges): choose a --port above 1023".to_string()
        }
        _ => String::new(),
    }
}

/// `a or b or c`.
fn either(addrs: &[SocketAddr]) -> String {
    let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
    addrs.join(" or ")
}

/// What the user typed, or why there is nothing more to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A line taken as it comes: from a pipe or a script, which reads
    /// ahead by design (a script pipes every answer at once).
    Line(String),
    /// A line typed at a terminal, with how many questions
    /// (`ScreenLine::Prompt`) the terminal had shown when Enter was
    /// pressed. Fewer than the peer has asked means the line was meant for
    /// an older question (the stage changed in the moment before the new
    /// one was drawn): it is taken as `Stale`, never as the answer.
    Typed { line: String, seen: u64 },
    /// A line the user began typing before the question now on screen
    /// (a `ScreenLine::Prompt`) was shown: it was meant for something
    /// else, so it is shown back and never taken as an answer.
    Stale(String),
    /// End of input: leave and exit.
    Eof,
    /// Ctrl-C: leave and exit.
    Interrupt,
}

/// What kind of line the peer waits for next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Line,
    /// A line in a lobby: a message typed there is shown back by the peer
    /// with the user's name, as the others see it, so a terminal may
    /// erase its echo.
    Chat,
    /// A password: a terminal should not echo it.
    Secret,
    /// A line, after dropping unread whatever was typed before it was
    /// asked: that may be a password typed ahead of its question (a name
    /// to register turned out taken), which must be neither shown nor
    /// taken as this answer.
    Afresh,
}

/// The peer's user interface: lines typed in, lines shown out.
pub struct Console {
    pub input: Receiver<Input>,
    /// Lines to show. If the channel is bounded and full, the peer never
    /// waits: chat lines (all in the chat log) are dropped and summed up in
    /// one line, and its own lines wait their turn.
    pub screen: Sender<ScreenLine>,
    /// If set, the peer says before each read what it wants next, so that a
    /// terminal reader can turn echo off for passwords.
    pub wants: Option<Sender<Want>>,
    /// Passwords are typed without echo, so a new one is asked twice.
    pub secrets_unseen: bool,
    /// If set, kept up to date with who is in the lobby, for a line
    /// editor's Tab.
    pub names: Option<LobbyNames>,
    /// If set, kept up to date with what the prompt says (where the user
    /// is), for a line editor to draw.
    pub prompt: Option<PromptText>,
}

/// A peer with its chat listener running.
pub struct Peer {
    config: PeerConfig,
    listener: ChatListener,
    link: RegistryLink,
    link_rx: Receiver<LinkNotice>,
    events: Sender<Event>,
    events_rx: Receiver<Event>,
    keys: Option<Arc<Keyring>>,
    tls: PeerTls,
}

impl Peer {
    /// Starts the registry link, then listens for chat requests in the
    /// address family the registry was reached in (or, if it cannot be
    /// reached yet, the family of its first address). A registry that is
    /// down is retried in the background.
    pub fn start(mut config: PeerConfig) -> Result<Peer, PeerError> {
        if config.identity.is_none() {
            let identity = Identity::generate().map_err(PeerError::Keys)?;
            config.identity = Some(Arc::new(identity));
        }
        let keys = match &config.data_dir {
            Some(dir) => Some(Keyring::open(dir).map_err(PeerError::DataDir)?),
            None => None,
        };
        let (link_tx, link_rx) = unbounded();
        let link = RegistryLink::connect(config.link_config(), link_tx)
            .map_err(|err| PeerError::Registry(config.servers.clone(), err))?;
        // A registry that is not up yet is reached at its first address, as
        // far as the family of our listener goes.
        let registry = link.server_addr().unwrap_or(config.servers[0]);
        let listen = listen_addr(config.listen, registry);
        let (events, events_rx) = unbounded();
        let tls = match &keys {
            Some(keys) if !config.plaintext => PeerTls::Tls(keys.clone()),
            _ => PeerTls::Plain,
        };
        let security = (tls.clone(), keys.clone());
        let listener = ChatListener::start(&config, listen, security, events.clone())
            .map_err(|err| PeerError::Listen(listen, err))?;
        Ok(Peer {
            config,
            listener,
            link,
            link_rx,
            events,
            events_rx,
            keys,
            tls,
        })
    }

    /// The port chat requests arrive on.
    pub fn chat_port(&self) -> u16 {
        self.listener.addr.port()
    }

    /// Runs the menus until the user quits or the input ends. Leaves any
    /// lobby and logs out before returning.
    pub fn run(self, console: Console) -> Result<(), PeerError> {
        let Peer {
            config,
            listener,
            link,
            link_rx,
            events,
            events_rx,
            keys,
            tls,
        } = self;
        let chat_port = config.advertise_port.unwrap_or(listener.addr.port());
        let registry =
            RegistryWorker::start(link, keys.clone(), events.clone()).map_err(PeerError::Thread)?;
        let files = file_desk::FileDesk::new(tls.clone(), config.trace, events.clone());
        let mut driver = Driver {
            screen: screen::Screen::new(console.screen.clone()),
            registry,
            events,
            invite_timeout: config.invite_timeout,
            trace: config.trace,
            workers: Vec::new(),
            keys: keys.clone(),
            tls,
            log_dir: config.log_dir.clone(),
            logs: std::collections::HashMap::new(),
            lobbies: lobbies::Lobbies::default(),
            links: links::Links::default(),
            walks: std::collections::HashMap::new(),
            files,
        };
        let mut app = App::new(config, chat_port, console.secrets_unseen, driver::now());
        app.keys = keys;
        // A person at a terminal (who types passwords unseen) is asked
        // before `/end` ends a lobby for everyone; a script is not.
        app.confirm_end = console.secrets_unseen;
        // A terminal (the console that keeps a prompt) draws transfers as
        // bars; a script reads a line per quarter.
        app.bars = console.prompt.is_some();
        drive(&mut app, &mut driver, &console, &events_rx, &link_rx);
        driver.quit(&mut app);
        driver.finish();
        // Chat requests still waiting for an answer are answered BUSY by
        // their own threads as the listener stops.
        listener.stop();
        drop(events_rx);
        Ok(())
    }
}

/// Every address `server` (`HOST:PORT`) resolves to, in the resolver's
/// order: the link tries them in turn, so `localhost:7777` works where
/// `localhost` is `::1` first (macOS) and the registry listens on IPv4 only.
pub fn resolve_servers(server: &str) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = server
        .to_socket_addrs()
        .map_err(|err| format!("bad --server {server}: {err}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("bad --server {server}: no address"));
    }
    Ok(addrs)
}

/// Where to listen for chat requests, given the configured address and the
/// registry's address we are connected to. An unspecified address follows
/// the registry's family: the registry tells others to reach us at the
/// address it sees, so a peer that reaches it over IPv6 must take chat
/// connections over IPv6 (and over IPv4 for IPv4). A specific address is
/// the user's choice and stays.
///
/// Portability: `::` alone would take IPv4 too on Linux and macOS, but not
/// on Windows, where `IPV6_V6ONLY` is on by default; following the
/// registry's family works everywhere without touching socket options.
fn listen_addr(listen: SocketAddr, registry: SocketAddr) -> SocketAddr {
    if !listen.ip().is_unspecified() {
        return listen;
    }
    let ip = match registry.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, listen.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(listen: &str, registry: &str, expected: &str) {
        let listen: SocketAddr = listen.parse().unwrap();
        let registry: SocketAddr = registry.parse().unwrap();
        assert_eq!(listen_addr(listen, registry).to_string(), expected);
    }

    #[test]
    fn server_addresses() {
        let one = |text: &str| resolve_servers(text).unwrap();
        assert_eq!(
            one("127.0.0.1:7777"),
            vec!["127.0.0.1:7777".parse().unwrap()]
        );
        assert_eq!(one("[::1]:7777"), vec!["[::1]:7777".parse().unwrap()]);
        // Whatever `localhost` resolves to here, it is all loopback, and all
        // of it is kept.
        let local = one("localhost:7777");
        assert!(!local.is_empty());
        assert!(
            local
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 7777)
        );
        for bad in ["", "127.0.0.1", "127.0.0.1:port", "[::1:7777"] {
            let err = resolve_servers(bad).unwrap_err();
            assert!(err.starts_with(&format!("bad --server {bad}: ")), "{err}");
        }
    }

    #[test]
    fn the_listener_follows_the_registry_family() {
        check("0.0.0.0:0", "127.0.0.1:7777", "0.0.0.0:0");
        check("0.0.0.0:5000", "[::1]:7777", "[::]:5000");
        check("[::]:0", "10.0.0.1:7777", "0.0.0.0:0");
        check("[::]:5000", "[fe80::1]:7777", "[::]:5000");
        // A specific address is kept, even in the other family.
        check("127.0.0.1:0", "[::1]:7777", "127.0.0.1:0");
        check("[::1]:6000", "127.0.0.1:7777", "[::1]:6000");
    }
}
