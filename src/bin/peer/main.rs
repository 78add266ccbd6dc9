//! `peer`: the interactive p2pchat client. Parses the command line, wires
//! standard input and output to the peer (`console`: plain lines when piped,
//! a line editor at a terminal), and turns Ctrl-C into a clean exit.

mod bars;
mod console;
mod desk;
mod find;
mod plain;
mod rewrap;
mod tty;
mod typed;

use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use chrono::Local;
use clap::{Parser, ValueEnum};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, unbounded};
use p2pchat::client::{FirstUse, RegistrySecurity, RegistryTrust};
use p2pchat::crypto::Fingerprint;
use p2pchat::discovery;
use p2pchat::lobby::{self, InvitePolicy};
use p2pchat::peer::{
    Console, DEFAULT_INVITE_TIMEOUT, DEFAULT_REGISTRY_HELLO_INTERVAL, Input, LobbyNames, Peer,
    PeerConfig, PromptText, Want,
};
use p2pchat::screen::{ColorChoice, ScreenLine, Style};
use p2pchat::trace::Trace;

use crate::console::{EditorEnd, LineEditor, TerminalConsole};
use crate::tty::TerminalRestorer;

/// The file in the data directory that keeps the keys seen before.
const KNOWN_KEYS: &str = "known_keys";

/// How many lines may wait for standard output.
const SCREEN_CAPACITY: usize = 256;

/// How long the peer, once it has said goodbye, waits for the screen
/// thread to write out the last lines: a standard output that takes
/// nothing for this long is not being read, and the process exits without
/// them rather than wait on it for ever.
const SCREEN_EXIT_WAIT: Duration = Duration::from_secs(2);

/// A p2pchat peer: register or join at the registry, find users, and chat
/// in a lobby that you lead or that someone invites you to.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The registry server, as HOST:PORT. Without it the peer looks for
    /// registries on the LAN for 2 s, and tries 127.0.0.1:7777 if none
    /// answers.
    #[arg(long)]
    server: Option<String>,
    /// The port to listen on for chat requests (0 lets the system pick).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The port others are told to reach you at, when a port forward
    /// stands in front of --port (by default --port's own).
    #[arg(long)]
    advertise_port: Option<u16>,
    /// Where chat logs are written, one folder per user.
    #[arg(long, default_value = "logs")]
    log_dir: PathBuf,
    /// Seconds between HELLO heartbeats to the registry.
    #[arg(long, default_value_t = DEFAULT_REGISTRY_HELLO_INTERVAL.as_secs_f64(), value_parser = p2pchat::parse_seconds, allow_negative_numbers = true)]
    hello_interval: f64,
    /// Seconds to wait for an invitee's answer (and, when invited, for the
    /// leader's chat request line).
    #[arg(long, default_value_t = DEFAULT_INVITE_TIMEOUT.as_secs_f64(), value_parser = p2pchat::parse_seconds, allow_negative_numbers = true)]
    invite_timeout: f64,
    /// In a lobby, seconds with nothing sent before a HELLO goes out.
    #[arg(long, default_value_t = lobby::DEFAULT_LOBBY_HELLO_INTERVAL.as_secs_f64(), value_parser = p2pchat::parse_seconds, allow_negative_numbers = true)]
    lobby_hello: f64,
    /// In a lobby, seconds with nothing heard before the other side counts as gone.
    #[arg(long, default_value_t = lobby::DEFAULT_SILENCE_TIMEOUT.as_secs_f64(), value_parser = p2pchat::parse_seconds, allow_negative_numbers = true)]
    lobby_timeout: f64,
    /// When leading, how many of the last messages a member admitted later
    /// gets (0 turns it off).
    #[arg(long, default_value_t = lobby::DEFAULT_HISTORY, value_parser = parse_history)]
    history: usize,
    /// When leading, who may have someone invited while the lobby runs:
    /// `anyone` (a member's /invite asks you, and your peer invites) or
    /// `leader` (only your own /invite).
    #[arg(long, default_value_t = InvitePolicy::Anyone)]
    invites: InvitePolicy,
    /// Print every protocol line sent (>>) and received (<<) on standard
    /// error, but the heartbeats (HELLO, OK HELLO).
    #[arg(long)]
    trace: bool,
    /// As --trace, with the heartbeats too.
    #[arg(long)]
    trace_all: bool,
    /// Colour names and dim notices: auto (at a terminal, unless NO_COLOR is
    /// set), always or never.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    color: Color,
    /// Put the time (HH:MM) before each line someone said: chat lines,
    /// private messages and your own.
    #[arg(long)]
    timestamps: bool,
    /// At a terminal, do not ring the bell for a message that names you
    /// (it is still highlighted).
    #[arg(long)]
    no_bell: bool,
    /// Speak plain text to the registry and to other peers instead of TLS,
    /// for labs with nc: anyone on the network can read and change what is
    /// sent, passwords included.
    #[arg(long, conflicts_with = "trust_registry")]
    plaintext: bool,
    /// Where the peer keeps each user's keys (users/<name>/), the registry
    /// keys it has seen (known_keys) and the peers' (known_peers); by
    /// default the platform's data directory for p2pchat.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The registry's fingerprint (SHA256:...), as the registry prints it
    /// at start: only that key is accepted, even on first contact.
    #[arg(long, value_name = "SHA256:...")]
    trust_registry: Option<Fingerprint>,
    /// Where files received in a lobby are saved (each first as
    /// <name>.<tag>.part); by default the platform's download folder, p2pchat/.
    #[arg(long)]
    download_dir: Option<PathBuf>,
    /// The largest file this peer accepts, in bytes (default 4 GiB).
    #[arg(long, default_value_t = p2pchat::files::DEFAULT_MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Seconds a file offer waits for its answer (and its fetch).
    #[arg(long, default_value_t = p2pchat::files::offers::DEFAULT_OFFER_TIMEOUT.as_secs_f64(), value_parser = p2pchat::parse_seconds, allow_negative_numbers = true)]
    offer_timeout: f64,
    /// Seconds to look for registries on the LAN without --server. Hidden:
    /// the tests shorten it, users have no reason to.
    #[arg(long, hide = true, default_value_t = discovery::DEFAULT_SEARCH_WINDOW.as_secs_f64(), value_parser = p2pchat::parse_seconds)]
    discovery_wait: f64,
    /// Seconds to wait, once the peer has said goodbye, for standard output
    /// to take the last lines. Hidden: the tests shorten it.
    #[arg(long, hide = true, default_value_t = SCREEN_EXIT_WAIT.as_secs_f64(), value_parser = p2pchat::parse_seconds)]
    screen_exit_wait: f64,
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

/// A history length from 0 to `lobby::MAX_HISTORY`.
fn parse_history(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n <= lobby::MAX_HISTORY => Ok(n),
        _ => Err(format!(
            "{text} is not a number of messages from 0 to {}",
            lobby::MAX_HISTORY
        )),
    }
}

/// Plain text, said at start, or TLS with the registry's key pinned in the
/// data directory: asked about at a terminal, remembered and said when piped.
/// `announced` is the key named by the announcement the registry was found
/// by: the one it must present.
fn registry_security(
    args: &Args,
    at_terminal: bool,
    announced: Option<Fingerprint>,
) -> Result<RegistrySecurity, Box<dyn std::error::Error>> {
    if args.plaintext {
        p2pchat::trace::out(
            "Plain text (--plaintext): anyone on the network can read and change what is \
             sent to the registry and between peers, passwords included.",
        );
        return Ok(RegistrySecurity::Plaintext);
    }
    let data_dir = data_dir(args)?;
    let first_use = if at_terminal {
        FirstUse::Ask(Box::new(ask_yes_no))
    } else {
        FirstUse::Remember(Box::new(|line| p2pchat::trace::out(line)))
    };
    let trust = RegistryTrust::new(data_dir.join(KNOWN_KEYS), args.trust_registry, first_use)?
        .expecting_announced(announced);
    Ok(RegistrySecurity::Tls(Arc::new(trust)))
}

/// `--data-dir`, or the platform's data directory for p2pchat.
fn data_dir(args: &Args) -> Result<PathBuf, Box<dyn std::error::Error>> {
    match &args.data_dir {
        Some(dir) => Ok(dir.clone()),
        None => Ok(dirs::data_dir()
            .map(|dir| dir.join("p2pchat"))
            .ok_or("no data directory on this system: give one with --data-dir")?),
    }
}

/// Shows `question` and reads the answer from the terminal, before the line
/// editor starts; only a `y` or `yes` is a yes.
fn ask_yes_no(question: &str) -> bool {
    print!("{question} ");
    let _ = io::stdout().flush();
    let mut answer = String::new();
    if io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            p2pchat::trace::err(format_args!("peer: {err}"));
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let at_terminal = console::at_terminal();
    let style = style(&args);
    let screen_exit_wait = Duration::from_secs_f64(args.screen_exit_wait);
    let peer = Peer::start(config(args, at_terminal)?)?;
    p2pchat::trace::out(format_args!(
        "Chat server started on port {}",
        peer.chat_port()
    ));

    // Put back at the end whatever a cut-short password prompt changed.
    let _restorer = TerminalRestorer::save();
    // Unbounded, and fed only from this machine: the keyboard thread sends
    // what the user types (one line per `Want`) and Ctrl-C; the app thread
    // asks for one line at a time. Nothing from the network reaches them.
    let (input, input_rx) = unbounded();
    let (wants, wants_rx) = unbounded();
    let interrupt = input.clone();
    // With ctrlc's `termination` feature this also takes SIGTERM (and
    // SIGHUP), so `kill` and a closing terminal leave and log out too.
    ctrlc::set_handler(move || {
        let _ = interrupt.send(Input::Interrupt);
    })?;
    // Bounded, so a standard output that nobody reads makes the peer drop
    // chat lines from the screen (they are in the chat log) rather than
    // hold them all in memory.
    let (screen, screen_rx) = bounded::<ScreenLine>(SCREEN_CAPACITY);
    // Dropped when the screen thread ends, however it ends.
    let (printing, printer_gone) = bounded::<()>(0);
    let names = LobbyNames::default();
    let prompt = PromptText::default();
    let keys = Keys {
        wants: wants_rx,
        input,
        names: names.clone(),
        prompt: prompt.clone(),
    };
    let (printer, editor_end) = start_console(at_terminal, style, keys, screen_rx, printing)?;
    let result = peer.run(Console {
        input: input_rx,
        screen,
        wants: Some(wants),
        secrets_unseen: io::stdin().is_terminal(),
        names: at_terminal.then_some(names),
        prompt: at_terminal.then_some(prompt),
    });
    // `run` has dropped the screen's sender, so the screen thread ends once
    // it has written what is left, unless a write to standard output blocks
    // because nobody reads it: then it is left to end with the process.
    if let Err(RecvTimeoutError::Disconnected) = printer_gone.recv_timeout(screen_exit_wait) {
        let _ = printer.join();
        // Then the line editor leaves the line it edits clean, so that no
        // `> ` is left where the shell's prompt comes.
        if let Some(end) = editor_end {
            end.finish(screen_exit_wait);
        }
    }
    Ok(result?)
}

/// The peer's settings, from the options: the registry (named, or found on
/// the LAN), how it is trusted, the data folder and the timings.
fn config(args: Args, at_terminal: bool) -> Result<PeerConfig, Box<dyn std::error::Error>> {
    // Every address the name resolves to, tried in order; or the one found
    // on the LAN.
    let window = Duration::from_secs_f64(args.discovery_wait);
    let chosen = find::registry(args.server.as_deref(), window, at_terminal)?;
    let servers = chosen.servers;
    let mut config = PeerConfig::new(servers[0]);
    config.registry_security = registry_security(&args, at_terminal, chosen.announced)?;
    // Each user's keys and the keys of the peers seen: always under TLS; in
    // plain text only where a folder is named, so the lab mode leaves no
    // files behind unasked.
    config.data_dir = match args.plaintext {
        true => args.data_dir.clone(),
        false => Some(data_dir(&args)?),
    };
    config.plaintext = args.plaintext;
    config.servers = servers;
    config.listen = SocketAddr::from(([0, 0, 0, 0], args.port));
    config.advertise_port = args.advertise_port;
    config.log_dir = args.log_dir;
    config.hello_interval = Duration::from_secs_f64(args.hello_interval);
    config.invite_timeout = Duration::from_secs_f64(args.invite_timeout);
    config.lobby_hello = Duration::from_secs_f64(args.lobby_hello);
    config.lobby_timeout = Duration::from_secs_f64(args.lobby_timeout);
    config.history = args.history;
    config.invites = args.invites;
    config.trace = Trace::from_flags(args.trace, args.trace_all);
    config.files.download_dir = args
        .download_dir
        .clone()
        .unwrap_or_else(p2pchat::peer::default_download_dir);
    config.files.max_file_size = args.max_file_size;
    config.files.offer_timeout = Duration::from_secs_f64(args.offer_timeout);
    Ok(config)
}

/// How screen lines look: colour as `--color` and `NO_COLOR` say, times
/// as `--timestamps` does.
fn style(args: &Args) -> Style {
    let choice = match args.color {
        Color::Auto => ColorChoice::Auto,
        Color::Always => ColorChoice::Always,
        Color::Never => ColorChoice::Never,
    };
    let no_color = std::env::var("NO_COLOR").ok();
    let terminal = io::stdout().is_terminal();
    Style {
        color: choice.wants_color(terminal, no_color.as_deref()),
        timestamps: args.timestamps,
        bell: terminal && !args.no_bell,
    }
}

/// The keyboard thread's ends: what the app wants next, and where typed
/// lines go.
struct Keys {
    wants: Receiver<Want>,
    input: Sender<Input>,
    /// Who is in the lobby, for Tab at a terminal.
    names: LobbyNames,
    /// Where the user is, for the prompt at a terminal.
    prompt: PromptText,
}

/// Starts the keyboard and screen threads: the line editor and its
/// printers at a terminal, plain lines otherwise. The keyboard thread is
/// not joined (a read from standard input cannot be interrupted, and the
/// process exits once the peer has said goodbye); the screen thread's
/// handle is returned, and `printing` is dropped when it ends. At a
/// terminal, so is the means to end the line editor.
fn start_console(
    at_terminal: bool,
    style: Style,
    keys: Keys,
    screen_rx: Receiver<ScreenLine>,
    printing: Sender<()>,
) -> io::Result<(thread::JoinHandle<()>, Option<EditorEnd>)> {
    let keyboard = thread::Builder::new().name("keyboard".into());
    let printer = thread::Builder::new().name("screen".into());
    let Keys {
        wants,
        input,
        names,
        prompt,
    } = keys;
    if at_terminal {
        let TerminalConsole {
            editor,
            screen: above,
            trace: mut trace_above,
            end,
        } = LineEditor::start(names, prompt)?;
        if io::stderr().is_terminal() {
            p2pchat::trace::print_with(move |text| {
                let line = ScreenLine::Trace(text.to_string());
                trace_above.print(&style.render(&line, Local::now().time()));
            });
        }
        keyboard.spawn(move || editor.read(&wants, &input))?;
        let screen = printer.spawn(move || {
            let _printing = printing;
            above.print_all(&screen_rx, style)
        })?;
        Ok((screen, Some(end)))
    } else {
        keyboard.spawn(move || plain::read_plain(&wants, &input))?;
        let screen = printer.spawn(move || {
            let _printing = printing;
            plain::print_plain(&screen_rx, style)
        })?;
        Ok((screen, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The waits the tests shorten with hidden options are, for a user,
    /// the ones `--help` and ARCHITECTURE.md state.
    #[test]
    fn the_production_waits_are_the_documented_ones() {
        let args = Args::parse_from(["peer"]);
        assert_eq!(args.discovery_wait, 2.0);
        assert_eq!(args.screen_exit_wait, 2.0);
        assert_eq!(SCREEN_EXIT_WAIT, Duration::from_secs(2));
    }
}
