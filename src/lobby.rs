//! The lobby hub: the thread a lobby leader runs to own the membership and
//! relay every message to every member.
//!
//! STUB: interface only; the bodies are being written.

use std::net::TcpStream;

use crossbeam_channel::Sender;

use crate::line::ConnReader;
use crate::trace::Trace;

/// How a hub is set up.
#[derive(Debug, Clone)]
pub struct LobbyConfig {
    /// The leader's user name: first in `MEMBERS`, the `from` of its messages.
    pub leader: String,
    /// The most bytes that may wait unsent for one member before that member
    /// is dropped as too slow.
    pub max_queued_bytes: usize,
    pub trace: Trace,
}

impl LobbyConfig {
    pub fn new(leader: impl Into<String>) -> LobbyConfig {
        LobbyConfig {
            leader: leader.into(),
            max_queued_bytes: 1 << 20,
            trace: Trace::off(),
        }
    }
}

/// What the hub tells the leader's own user interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A member was admitted.
    Joined(String),
    /// A member said something.
    Msg { from: String, text: String },
    /// A member left: sent `LEAVE`, disconnected, or broke the protocol.
    Left(String),
    /// A member was dropped because it stopped reading.
    Dropped(String),
}

/// A running hub. Dropping it without `close` closes it with reason `LEADER_LEFT`.
pub struct Lobby {}

impl Lobby {
    /// Starts the hub thread. Notices go to `notices`.
    pub fn start(config: LobbyConfig, notices: Sender<Notice>) -> Lobby {
        let _ = (config, notices);
        todo!()
    }

    /// Admits a member whose `OK` was just read from `reader`; `writer` is a
    /// clone of the same socket, which only the hub will write to from now on.
    pub fn admit(&self, name: String, reader: ConnReader, writer: TcpStream) {
        let _ = (name, reader, writer);
        todo!()
    }

    /// The leader says something.
    pub fn say(&self, text: String) {
        let _ = text;
        todo!()
    }

    /// Everyone in the lobby, the leader first.
    pub fn members(&self) -> Vec<String> {
        todo!()
    }

    /// Ends the lobby: every member gets `CLOSED <reason>`, then all
    /// connections close and every thread is joined.
    pub fn close(self, reason: &str) {
        let _ = reason;
        todo!()
    }
}
