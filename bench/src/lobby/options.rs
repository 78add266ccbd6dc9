//! `LobbyOptions`: how a lobby run is set up, and what the load talks to
//! (`Target`). Plain data; nothing here opens a socket.

use std::net::SocketAddr;
use std::time::Duration;

use crate::Security;

/// What the load talks to.
#[derive(Debug, Clone)]
pub enum Target {
    /// A `Lobby` hub started by the benchmark in this process, its members
    /// over TLS if `tls`.
    Hub { tls: bool },
    /// A hub in a process of its own (`bench serve-lobby`), whose memory is
    /// then the hub's alone.
    RemoteHub(RemoteHub),
    /// A channel on the IRC server at `addr`.
    Irc(IrcTarget),
}

#[derive(Debug, Clone)]
pub struct RemoteHub {
    pub addr: SocketAddr,
    pub security: Security,
    pub pid: u32,
}

#[derive(Debug, Clone)]
pub struct IrcTarget {
    pub addr: SocketAddr,
    /// Plain text, or TLS to the server's pinned key.
    pub security: Security,
    /// An `[Operator]` name and password: the sender becomes an operator and
    /// sets user mode `+F` (ngIRCd's relaxed flood protection).
    pub oper: Option<(String, String)>,
    /// The server's process, to read its peak memory.
    pub pid: Option<u32>,
}

/// How a lobby run is set up.
#[derive(Debug, Clone)]
pub struct LobbyOptions {
    /// Everyone in the lobby, the sender included (the hub's leader is not
    /// counted: it is not a connection).
    pub members: usize,
    pub messages: u64,
    /// Messages per second; 0 sends as fast as the connection takes them.
    pub rate: f64,
    /// The length of each message's text, in bytes.
    pub size: usize,
    /// Threads that read the receivers' sockets.
    pub readers: usize,
    /// How long, after the last send, the receivers may take to get it all.
    pub timeout: Duration,
    /// Print a progress line to stderr every second.
    pub progress: bool,
    pub target: Target,
}

impl LobbyOptions {
    pub fn new(members: usize, messages: u64) -> LobbyOptions {
        LobbyOptions {
            members,
            messages,
            rate: 0.0,
            size: 64,
            readers: 2,
            timeout: Duration::from_secs(30),
            progress: false,
            target: Target::Hub { tls: false },
        }
    }
}
