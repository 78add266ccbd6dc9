//! Test drivers: `ScriptedPeer` runs a peer on its own thread and drives it
//! through channels instead of a terminal, for tests, scripts and the demo.
//!
//! Nothing in the library uses this module; it uses only the public API.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};

use crate::peer::{Console, Input, Peer, PeerConfig, PeerError};
use crate::screen::ScreenLine;

/// A peer on its own thread, driven through channels instead of a terminal:
/// for scripts, the demo and tests.
pub struct ScriptedPeer {
    input: Sender<Input>,
    screen: Receiver<ScreenLine>,
    chat_port: u16,
    handle: Option<JoinHandle<Result<(), PeerError>>>,
    /// The questions (`ScreenLine::Prompt`) among the lines read so far, as
    /// a terminal counts those it has shown.
    questions: AtomicU64,
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
    /// Starts a peer: its registry link and chat listener, then its app thread.
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
                    secrets_unseen: false,
                    names: None,
                    prompt: None,
                })
            })
            .map_err(PeerError::Thread)?;
        Ok(ScriptedPeer {
            input,
            screen: screen_rx,
            chat_port,
            handle: Some(handle),
            questions: AtomicU64::new(0),
        })
    }

    pub fn chat_port(&self) -> u16 {
        self.chat_port
    }

    /// Types `line` as the user would.
    pub fn type_line(&self, line: &str) {
        let _ = self.input.send(Input::Line(line.to_string()));
    }

    /// Types `line` as a person at a terminal would, who had seen `seen`
    /// questions (`questions_seen`) when pressing Enter: a line the peer
    /// takes as stale if it has asked more since.
    pub fn type_seen(&self, line: &str, seen: u64) {
        let _ = self.input.send(Input::Typed {
            line: line.to_string(),
            seen,
        });
    }

    /// How many questions are among the lines read so far (`wait_for`,
    /// `shown`).
    pub fn questions_seen(&self) -> u64 {
        self.questions.load(Ordering::SeqCst)
    }

    /// The line read, as text; a question is counted.
    fn read(&self, line: &ScreenLine) -> String {
        if matches!(line, ScreenLine::Prompt(_)) {
            self.questions.fetch_add(1, Ordering::SeqCst);
        }
        line.to_string()
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
                    let line = self.read(&line);
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

    /// What the peer has shown since the last look, without waiting.
    pub fn shown(&self) -> Vec<String> {
        self.screen
            .try_iter()
            .map(|line| self.read(&line))
            .collect()
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
        result.map(|()| self.screen.try_iter().map(|l| l.to_string()).collect())
    }
}

impl Drop for ScriptedPeer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
