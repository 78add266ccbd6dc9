//! Plays the marked transcripts of a document (`transcript` reads them)
//! against the real `server` binary: the runner is `nc` or
//! `openssl s_client` itself, or the person at a piped `peer`'s terminal,
//! types the typed lines and checks that every other line arrives, in
//! order, as the doc shows it; `output` reads what the programs print
//! (traces, logs, first lines); `wire` runs tshark on a capture of a
//! story. A failure names the
//! doc's file and line, the line expected and the line that came.

mod output;
mod pipeline;
mod wire;

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::Instant;

use p2pchat::crypto::{self, Fingerprint, ServerKey, TlsStream};
use tempfile::TempDir;

use super::transcript::{
    Bindings, Block, Marker, Program, RunSpec, Step, blocks, registry_steps, screen_steps,
};
use super::{PASSWORD, PEER_WAIT, PeerProcess, READ_TIMEOUT, ServerProcess, temp_dir};

#[path = "transcript_hand_play.rs"]
mod hand;

/// The registry port the docs show; it stands for the test registry's.
const DOC_REGISTRY_PORT: &str = "7777";

/// Runs every block of `text` (the document `file`) marked `run:`, session
/// by session, and returns one message per session that failed.
pub fn run_document(file: &str, text: &str) -> Vec<String> {
    let blocks = match blocks(text) {
        Ok(blocks) => blocks,
        Err(why) => return vec![format!("{file}: {why}")],
    };
    let mut sessions: BTreeMap<String, Vec<(Block, RunSpec)>> = BTreeMap::new();
    let mut before: Option<Block> = None;
    for block in blocks {
        if let Marker::Run(spec) = &block.marker {
            let mut spec = spec.clone();
            if spec.capture.is_some() {
                spec.command = before.as_ref().and_then(wire::last_command);
            }
            sessions
                .entry(spec.session.clone())
                .or_default()
                .push((block.clone(), spec));
        }
        before = Some(block);
    }
    sessions
        .values()
        .filter_map(|session| play_session(file, session).err())
        .collect()
}

/// One session: a registry of its own, the terminals its blocks open, and
/// the values its placeholders stand for.
struct Session {
    server: ServerProcess,
    fingerprint: Option<Fingerprint>,
    terminals: BTreeMap<String, Terminal>,
    held: Vec<Terminal>,
    /// The real peers, by the chat port the doc shows for each.
    peers: Vec<(String, PeerProcess)>,
    /// The passwords of the accounts the session has, by name.
    passwords: BTreeMap<String, String>,
    /// More options for a peer, by name, from the `peer-args=` of any
    /// block of the session.
    peer_args: BTreeMap<String, Vec<String>>,
    bindings: Bindings,
    /// The terminals played by hand, and the ports listened on for them.
    hand: hand::Hand,
    _dir: TempDir,
}

fn play_session(file: &str, blocks: &[(Block, RunSpec)]) -> Result<(), String> {
    let (_, first) = &blocks[0];
    if first.capture.is_some() {
        return wire::play(file, blocks);
    }
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let args: Vec<&str> = first.args.iter().map(String::as_str).collect();
    let (server, fingerprint) = if first.tls {
        let mut server = ServerProcess::start_tls(&db, &args);
        let line = server.next_line();
        let fingerprint = line
            .strip_prefix("fingerprint ")
            .and_then(|fp| fp.parse().ok())
            .ok_or_else(|| format!("the TLS registry's second line is {line:?}"))?;
        (server, Some(fingerprint))
    } else {
        (ServerProcess::start(&db, &args), None)
    };
    let mut bindings = Bindings::default();
    bindings.bind(DOC_REGISTRY_PORT, &server.addr().port().to_string());
    let mut session = Session {
        server,
        fingerprint,
        terminals: BTreeMap::new(),
        held: Vec::new(),
        peers: Vec::new(),
        passwords: BTreeMap::new(),
        peer_args: blocks
            .iter()
            .flat_map(|(_, spec)| spec.peer_args.clone())
            .collect(),
        bindings,
        hand: hand::Hand::default(),
        _dir: dir,
    };
    let Session { hand, bindings, .. } = &mut session;
    hand.listen_for(blocks.iter().map(|(block, _)| block), &mut |doc, real| {
        bindings.bind(doc, real)
    })
    .map_err(|why| format!("{file}:{why}"))?;
    let mut at = 0;
    while at < blocks.len() {
        let (block, spec) = &blocks[at];
        let fail = |why| format!("{file}:{why} (session {:?})", spec.session);
        // A story's screens, played side by side; a peer's next screen
        // comes after.
        let mut shown = Vec::new();
        let screens = blocks[at..]
            .iter()
            .map_while(|(_, spec)| spec.screen.as_ref())
            .take_while(|(name, _)| {
                let again = shown.contains(name);
                shown.push(name.clone());
                !again
            })
            .count();
        if let Some(options) = &spec.started {
            output::play_start(block, options).map_err(fail)?;
            at += 1;
        } else if spec.output.is_some() || spec.log.is_some() {
            session.play_output(block, spec).map_err(fail)?;
            at += 1;
        } else if spec.fingerprint {
            session.play_fingerprint(block).map_err(fail)?;
            at += 1;
        } else if screens == 0 && session.hand.plays(block, spec) {
            session.play_hand_block(block, spec).map_err(fail)?;
            at += 1;
        } else if screens > 0 {
            session
                .play_screens(&blocks[at..at + screens])
                .map_err(fail)?;
            at += screens;
        } else {
            session.play_block(block, spec).map_err(fail)?;
            at += 1;
        }
    }
    Ok(())
}

impl Session {
    fn play_block(&mut self, block: &Block, spec: &RunSpec) -> Result<(), String> {
        self.prepare(block, spec)?;
        let steps = registry_steps(block, spec)?;
        for (number, step) in steps {
            self.play_step(&spec.conn, number, step)?;
        }
        Ok(())
    }

    /// What a block's marker asks for before its lines: accounts, peers,
    /// held connections, Ctrl-C.
    fn prepare(&mut self, block: &Block, spec: &RunSpec) -> Result<(), String> {
        let at = block.fence_line;
        for (name, password) in &spec.registered {
            self.passwords.insert(name.clone(), password.clone());
            let mut terminal = self.open(self.fingerprint.is_some())?;
            terminal
                .send(&format!("REGISTER {name} {password}"))
                .map_err(|err| format!("{at}: registering {name}: {err}"))?;
            let reply = terminal
                .recv()
                .map_err(|why| format!("{at}: registering {name}: {why}"))?;
            if reply.as_deref() != Some(&format!("OK REGISTERED {name}")) {
                return Err(format!("{at}: registering {name} got {reply:?}"));
            }
        }
        for (name, doc_port) in &spec.peers {
            let mut peer = self.start_peer(name);
            let port = peer.chat_port();
            peer.join(PASSWORD);
            self.passwords.insert(name.clone(), PASSWORD.into());
            self.bindings.bind(doc_port, &port.to_string());
            self.peers.push((port.to_string(), peer));
        }
        for _ in 0..spec.occupy {
            let terminal = self.open(false)?;
            self.held.push(terminal);
        }
        if spec.interrupt {
            self.server.interrupt();
        }
        self.prepare_hand(block, spec)
    }

    /// A piped `peer` at the session's registry, its chat port chosen by
    /// the system.
    fn start_peer(&self, name: &str) -> PeerProcess {
        let registry = self.server.addr().to_string();
        let logs = self._dir.path().join("logs");
        let logs = logs.to_str().expect("a temporary path is UTF-8");
        let mut args = vec!["--server", &registry, "--log-dir", logs, "--port", "0"];
        // At a TLS registry the peer speaks TLS: it keeps its keys in
        // a data directory and trusts the key the registry printed.
        let data = self._dir.path().join("data").join(name);
        let data = data.to_str().expect("a temporary path is UTF-8");
        let fingerprint = self.fingerprint.map(|fp| fp.to_string());
        if let Some(fingerprint) = &fingerprint {
            args.extend(["--data-dir", data, "--trust-registry", fingerprint]);
        }
        if let Some(more) = self.peer_args.get(name) {
            args.extend(more.iter().map(String::as_str));
        }
        PeerProcess::start(name, &args)
    }

    /// Blocks that are the screens of one story's peers: each is played
    /// in a thread of its own, typing its lines once the lines before them
    /// have come, as the people at those terminals would.
    fn play_screens(&mut self, screens: &[(Block, RunSpec)]) -> Result<(), String> {
        let mut first_lines = BTreeMap::new();
        for (block, spec) in screens {
            self.prepare(block, spec)?;
            let Some((name, Some(doc_port))) = &spec.screen else {
                continue;
            };
            // Its first line names its chat port; the block shows it too.
            let mut peer = self.start_peer(name);
            let first = peer
                .line_within(PEER_WAIT)
                .ok_or_else(|| format!("{}: {name}'s peer printed nothing", block.fence_line))?;
            let port = first.rsplit(' ').next().unwrap_or_default().to_string();
            self.bindings.bind(doc_port, &port);
            first_lines.insert(name.clone(), first);
            self.peers.push((port, peer));
        }
        let bindings = Mutex::new(&mut self.bindings);
        let passwords = &self.passwords;
        let mut running: BTreeMap<String, &mut PeerProcess> = self
            .peers
            .iter_mut()
            .map(|(_, peer)| (peer.name.clone(), peer))
            .collect();
        let mut played = Vec::new();
        for (block, spec) in screens {
            let (name, _) = spec.screen.as_ref().expect("a screen block");
            let peer = running.remove(name).ok_or_else(|| {
                format!(
                    "{}: no peer {name} runs, or two blocks show it",
                    block.fence_line
                )
            })?;
            let password = passwords.get(name).map_or(PASSWORD, String::as_str);
            played.push((block, peer, password, first_lines.remove(name)));
        }
        std::thread::scope(|scope| {
            let threads: Vec<_> = played
                .into_iter()
                .map(|(block, peer, password, first)| {
                    let bindings = &bindings;
                    scope.spawn(move || play_screen(block, peer, password, first, bindings))
                })
                .collect();
            // Every screen's failure: the first to fail may only wait for
            // what another's failure kept from coming.
            let failures: Vec<String> = threads
                .into_iter()
                .filter_map(|thread| {
                    thread
                        .join()
                        .expect("a screen's thread does not panic")
                        .err()
                })
                .collect();
            if failures.is_empty() {
                Ok(())
            } else {
                Err(failures.join("; "))
            }
        })
    }

    fn play_step(&mut self, conn: &str, number: usize, step: Step) -> Result<(), String> {
        match step {
            Step::Open(program) => {
                let (port, tls) = match &program {
                    Program::Nc { port } => (port, false),
                    Program::Openssl { port } => (port, true),
                };
                let real = self.bindings.real(port);
                let terminal = if real == self.server.addr().port().to_string() {
                    self.open(tls)
                } else if !tls && self.peers.iter().any(|(at, _)| *at == real) {
                    let at = SocketAddr::from(([127, 0, 0, 1], real.parse().expect("a port")));
                    Terminal::connect(at, None).map_err(|err| format!("cannot connect: {err}"))
                } else {
                    return Err(format!(
                        "{number}: port {port} is neither the registry's nor a peer's"
                    ));
                };
                let terminal = terminal.map_err(|why| format!("{number}: {why}"))?;
                self.terminals.insert(conn.to_string(), terminal);
            }
            Step::Openssl => {}
            Step::Password => return Err(format!("{number}: a password at a registry")),
            Step::Type(line) => {
                let line = self.bindings.real(&line);
                self.terminal(conn)?
                    .send(&line)
                    .map_err(|err| format!("{number}: typing `{line}`: {err}"))?;
            }
            Step::Expect(expected) => {
                let got = self.terminal(conn)?.recv();
                let got = got.map_err(|why| format!("{number}: expected `{expected}`, {why}"))?;
                match got {
                    Some(actual) if self.bindings.matches(&expected, &actual) => {}
                    Some(actual) => {
                        return Err(format!("{number}: expected `{expected}`, got `{actual}`"));
                    }
                    None => {
                        return Err(format!(
                            "{number}: expected `{expected}`, the connection ended"
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The terminal `conn`, opened as plain TCP if the doc has not opened it.
    fn terminal(&mut self, conn: &str) -> Result<&mut Terminal, String> {
        if !self.terminals.contains_key(conn) {
            let terminal = self.open(false)?;
            self.terminals.insert(conn.to_string(), terminal);
        }
        Ok(self.terminals.get_mut(conn).expect("inserted above"))
    }

    /// A new connection to the registry, as `nc` (plain) or `openssl`.
    fn open(&self, tls: bool) -> Result<Terminal, String> {
        Terminal::connect(self.server.addr(), tls.then_some(()).and(self.fingerprint))
            .map_err(|err| format!("cannot connect: {err}"))
    }
}

/// Plays one peer's screen: types its typed lines, checks that each line
/// shown comes, in order. `first` is a line it printed already.
fn play_screen(
    block: &Block,
    peer: &mut PeerProcess,
    password: &str,
    mut first: Option<String>,
    bindings: &Mutex<&mut Bindings>,
) -> Result<(), String> {
    let lock = || bindings.lock().expect("no screen's thread panics");
    for (number, step) in screen_steps(block) {
        match step {
            Step::Type(line) => peer.types(&lock().real(&line)),
            Step::Password => peer.types(password),
            Step::Expect(expected) => match first.take().or_else(|| peer.line_within(PEER_WAIT)) {
                Some(actual) if lock().matches(&expected, &actual) => {}
                Some(actual) => {
                    return Err(format!(
                        "{number}: {} expected `{expected}`, got `{actual}`",
                        peer.name
                    ));
                }
                None => {
                    return Err(format!(
                        "{number}: {} expected `{expected}`, nothing came",
                        peer.name
                    ));
                }
            },
            Step::Open(_) | Step::Openssl => {
                return Err(format!("{number}: a screen opens no connection"));
            }
        }
    }
    Ok(())
}

/// One terminal's connection: what `nc` or `openssl s_client -quiet` would
/// hold.
enum Terminal {
    Nc(BufReader<TcpStream>),
    /// Boxed: a TLS connection's state is far larger than a socket.
    Openssl(Box<BufReader<TlsStream>>),
}

impl Terminal {
    /// Plain TCP, or TLS holding the registry to `fingerprint` (the runner
    /// checks the key that openssl, in the doc, leaves to the reader).
    fn connect(addr: SocketAddr, fingerprint: Option<Fingerprint>) -> io::Result<Terminal> {
        let tcp = TcpStream::connect(addr)?;
        tcp.set_read_timeout(Some(READ_TIMEOUT))?;
        let Some(fingerprint) = fingerprint else {
            return Ok(Terminal::Nc(BufReader::new(tcp)));
        };
        let config = crypto::client_config(ServerKey::pinned(fingerprint), None)
            .map_err(io::Error::other)?;
        let tls = crypto::connect(tcp, config, Instant::now() + READ_TIMEOUT)
            .map_err(|err| io::Error::other(format!("{err:?}")))?;
        Ok(Terminal::Openssl(Box::new(BufReader::new(tls))))
    }

    fn send(&mut self, line: &str) -> io::Result<()> {
        let bytes = format!("{line}\n");
        match self {
            Terminal::Nc(reader) => reader.get_mut().write_all(bytes.as_bytes()),
            Terminal::Openssl(reader) => {
                let tls = reader.get_mut();
                tls.write_all(bytes.as_bytes())?;
                tls.flush()
            }
        }
    }

    /// The next line, `None` at the end of the connection.
    fn recv(&mut self) -> Result<Option<String>, String> {
        let mut line = String::new();
        let read = match self {
            Terminal::Nc(reader) => reader.read_line(&mut line),
            Terminal::Openssl(reader) => reader.read_line(&mut line),
        };
        match read {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(line.trim_end_matches(['\r', '\n']).to_string())),
            Err(err) => Err(format!("no line came ({err})")),
        }
    }
}
