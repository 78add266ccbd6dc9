//! Plays the blocks where the reader is a peer by hand (`transcript_hand`
//! reads them): the runner listens where the doc's `nc -l` does, sets up
//! the piped peers around the hand, and is the person at `nc`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use super::super::transcript_hand::{HandSpec, HandStep, hand_steps, listened_ports};
use super::{Block, PASSWORD, READ_TIMEOUT, RunSpec, Session};

/// The hand's side of a session: the ports it listens on in place of the
/// doc's, its terminals, and the registry connections it holds.
#[derive(Default)]
pub(super) struct Hand {
    listeners: BTreeMap<String, TcpListener>,
    terminals: BTreeMap<String, HandTerminal>,
    held: Vec<HandTerminal>,
    /// The piped peers in the lobby `leads=` started, the leader first.
    lobby: Vec<String>,
    /// The files of `file=`: the doc's name and the real path.
    files: Vec<(String, String)>,
}

impl Hand {
    /// Listens for each `$ nc -l PORT` of the session's blocks, and binds
    /// the doc's PORT to the real one.
    pub(super) fn listen_for<'a>(
        &mut self,
        blocks: impl Iterator<Item = &'a Block>,
        bind: &mut dyn FnMut(&str, &str),
    ) -> Result<(), String> {
        for block in blocks {
            for port in listened_ports(block) {
                if self.listeners.contains_key(&port) {
                    continue;
                }
                let listener = TcpListener::bind("127.0.0.1:0")
                    .map_err(|err| format!("{}: cannot listen: {err}", block.fence_line))?;
                let real = listener.local_addr().expect("a bound listener").port();
                bind(&port, &real.to_string());
                self.listeners.insert(port, listener);
            }
        }
        Ok(())
    }

    /// Whether `block` is played by hand: it listens, goes on with a
    /// terminal opened by hand, or its marker sets up a hand.
    pub(super) fn plays(&self, block: &Block, spec: &RunSpec) -> bool {
        !listened_ports(block).is_empty()
            || self.terminals.contains_key(&spec.conn)
            || *spec.hand != HandSpec::default()
    }
}

impl Session {
    /// The hand keys to take after the block's peers started: accounts
    /// played by hand, a lobby, what its members said.
    pub(super) fn prepare_hand(&mut self, block: &Block, spec: &RunSpec) -> Result<(), String> {
        let at = block.fence_line;
        for (name, text) in &spec.hand.files {
            let path = self._dir.path().join("files").join(name);
            std::fs::create_dir_all(path.parent().expect("a file in a folder"))
                .and_then(|()| std::fs::write(&path, format!("{text}\n")))
                .map_err(|err| format!("{at}: making {name}: {err}"))?;
            let path = path
                .to_str()
                .expect("a temporary path is UTF-8")
                .to_string();
            self.hand.files.push((name.clone(), path));
        }
        for (name, doc_port) in &spec.hand.hand {
            let port = self.bindings.real(doc_port);
            let mut terminal = HandTerminal::connect(self.server.addr())
                .map_err(|why| format!("{at}: {name} at the registry: {why}"))?;
            for (request, reply) in [
                (
                    format!("REGISTER {name} {PASSWORD}"),
                    format!("OK REGISTERED {name}"),
                ),
                (
                    format!("JOIN {name} {PASSWORD} {port}"),
                    format!("OK JOINED {name} 127.0.0.1 {port}"),
                ),
            ] {
                terminal.send(&request)?;
                let got = terminal.recv()?;
                if got.as_deref() != Some(reply.as_str()) {
                    return Err(format!("{at}: `{request}` got {got:?}"));
                }
            }
            self.hand.held.push(terminal);
        }
        if let Some((leader, names)) = &spec.hand.leads {
            self.lead(leader, names)
                .map_err(|why| format!("{at}: {leader} leads: {why}"))?;
        }
        for (name, text) in &spec.hand.says {
            self.peer_types(name, text)?;
            let shown = format!("[{name}] {text}");
            for member in self.hand.lobby.clone() {
                sees(self.peer(&member)?, &shown)?;
            }
        }
        Ok(())
    }

    /// The piped peer `leader` adds each of `names` and starts a chat; the
    /// piped ones accept and are in the lobby when it returns.
    fn lead(&mut self, leader: &str, names: &[String]) -> Result<(), String> {
        for name in names {
            let peer = self.peer(leader)?;
            peer.types("2");
            peer.types(name);
            sees(peer, "Do you want to add the user")?;
            peer.types("Yes");
            sees(peer, &format!("Added {name}"))?;
        }
        self.peer(leader)?.types("3");
        let piped: Vec<&String> = names
            .iter()
            .filter(|name| self.peers.iter().any(|(_, peer)| peer.name == **name))
            .collect();
        for name in &piped {
            let peer = self.peer(name)?;
            sees(peer, &format!("Chat request from '{leader}'"))?;
            peer.types("OK");
            sees(peer, "You are in")?;
        }
        self.hand.lobby = vec![leader.to_string()];
        for name in piped {
            sees(self.peer(leader)?, &format!("Client ('{name}') connected"))?;
            self.hand.lobby.push(name.clone());
        }
        Ok(())
    }

    fn peer(&mut self, name: &str) -> Result<&mut super::PeerProcess, String> {
        self.peers
            .iter_mut()
            .map(|(_, peer)| peer)
            .find(|peer| peer.name == name)
            .ok_or_else(|| format!("no piped peer {name} runs"))
    }

    /// The piped peer `name` types `text`; an answer to a chat request
    /// waits until the request is shown.
    fn peer_types(&mut self, name: &str, text: &str) -> Result<(), String> {
        let peer = self.peer(name)?;
        if text == "OK" || text == "REJECT" {
            sees(peer, "Chat request from")?;
        }
        peer.types(text);
        Ok(())
    }

    /// Plays a block at a terminal played by hand.
    pub(super) fn play_hand_block(&mut self, block: &Block, spec: &RunSpec) -> Result<(), String> {
        self.prepare(block, spec)?;
        for (number, step) in hand_steps(block, spec.typed.as_deref())? {
            self.play_hand_step(&spec.conn, step)
                .map_err(|why| format!("{number}: {why}"))?;
        }
        Ok(())
    }

    fn play_hand_step(&mut self, conn: &str, step: HandStep) -> Result<(), String> {
        match step {
            HandStep::Listen(port) => {
                let listener = self
                    .hand
                    .listeners
                    .get(&port)
                    .ok_or_else(|| format!("nothing listens for {port}"))?;
                let terminal = HandTerminal::accept(listener)?;
                self.hand.terminals.insert(conn.to_string(), terminal);
            }
            HandStep::Connect(port) => {
                let real: u16 = self
                    .bindings
                    .real(&port)
                    .parse()
                    .map_err(|_| format!("port {port} is not bound"))?;
                let terminal = HandTerminal::connect(SocketAddr::from(([127, 0, 0, 1], real)))?;
                self.hand.terminals.insert(conn.to_string(), terminal);
            }
            HandStep::PeerTypes { name, text } => {
                let mut text = self.bindings.real(&text);
                for (file, path) in &self.hand.files {
                    text = text.replace(file.as_str(), path);
                }
                self.peer_types(&name, &text)?;
            }
            HandStep::Type(line) => {
                let line = self.bindings.real(&line);
                self.hand_terminal(conn)?.send(&line)?;
            }
            HandStep::Expect(expected) => loop {
                let got = self.hand_terminal(conn)?.recv()?;
                match got {
                    // The leader's heartbeat comes when it has been quiet
                    // for a while, whenever that is.
                    Some(actual) if actual == "HELLO" && expected != "HELLO" => continue,
                    Some(actual) if self.bindings.matches(&expected, &actual) => break,
                    Some(actual) => return Err(format!("expected `{expected}`, got `{actual}`")),
                    None => return Err(format!("expected `{expected}`, the connection ended")),
                }
            },
        }
        Ok(())
    }

    fn hand_terminal(&mut self, conn: &str) -> Result<&mut HandTerminal, String> {
        self.hand
            .terminals
            .get_mut(conn)
            .ok_or_else(|| format!("terminal {conn} was never opened"))
    }
}

/// Reads the piped peer's lines until one contains `text`.
fn sees(peer: &mut super::PeerProcess, text: &str) -> Result<(), String> {
    loop {
        match peer.line_within(super::PEER_WAIT) {
            Some(line) if line.contains(text) => return Ok(()),
            Some(_) => {}
            None => return Err(format!("{} never showed `{text}`", peer.name)),
        }
    }
}

/// A plain connection as `nc` holds it, made or accepted.
struct HandTerminal(BufReader<TcpStream>);

impl HandTerminal {
    fn connect(addr: SocketAddr) -> Result<HandTerminal, String> {
        let tcp = TcpStream::connect(addr).map_err(|err| format!("cannot connect: {err}"))?;
        HandTerminal::over(tcp)
    }

    /// The next connection to `listener`, within `READ_TIMEOUT`: a thread
    /// waits in `accept`, so a connection that never comes fails the test.
    fn accept(listener: &TcpListener) -> Result<HandTerminal, String> {
        let listener = listener
            .try_clone()
            .map_err(|err| format!("cannot listen: {err}"))?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let _ = tx.send(listener.accept().map(|(tcp, _)| tcp));
        });
        match rx.recv_timeout(READ_TIMEOUT) {
            Ok(Ok(tcp)) => HandTerminal::over(tcp),
            Ok(Err(err)) => Err(format!("accept failed: {err}")),
            Err(_) => Err("nobody connected to the port nc listens on".into()),
        }
    }

    fn over(tcp: TcpStream) -> Result<HandTerminal, String> {
        tcp.set_read_timeout(Some(READ_TIMEOUT))
            .map_err(|err| err.to_string())?;
        Ok(HandTerminal(BufReader::new(tcp)))
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        self.0
            .get_mut()
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|err| format!("typing `{line}`: {err}"))
    }

    /// The next line, `None` at the end of the connection.
    fn recv(&mut self) -> Result<Option<String>, String> {
        let mut line = String::new();
        match self.0.read_line(&mut line) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(line.trim_end_matches(['\r', '\n']).to_string())),
            Err(err) => Err(format!("no line came ({err})")),
        }
    }
}
