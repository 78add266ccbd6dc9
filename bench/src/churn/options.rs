//! `ChurnOptions`: how a churn run is set up, and the accounts it needs.
//! Plain data; nothing here opens a socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How a churn run is set up.
#[derive(Debug, Clone)]
pub struct ChurnOptions {
    /// Simulated peers, accounts `peer_name(0..peers)`; one more account,
    /// `peer_name(peers)`, is the watcher that checks the end state.
    pub peers: usize,
    /// How long sessions and lobbies keep starting.
    pub duration: Duration,
    pub seed: u64,
    /// The hello timeout the server runs with: active peers speak well
    /// within it, silent ones wait it out.
    pub hello_timeout: Duration,
    /// The mean length of a session, from `OK JOINED` to its end.
    pub session: Duration,
    /// The longest pause between one session's end and the next connect.
    pub pause: Duration,
    /// Lobbies open at once.
    pub lobbies: usize,
    /// JOINs in flight at once (each costs the server a password hash).
    pub join_window: usize,
    /// Print a progress line to stderr every few seconds.
    pub progress: bool,
    /// The server, already running with `hello_timeout`.
    pub addr: SocketAddr,
    pub pid: u32,
    /// Its database, read (only) to check who it says is online.
    pub db: PathBuf,
}

impl ChurnOptions {
    pub fn new(peers: usize, addr: SocketAddr, pid: u32, db: PathBuf) -> ChurnOptions {
        ChurnOptions {
            peers,
            duration: Duration::from_secs(60),
            seed: 1,
            hello_timeout: Duration::from_secs(1),
            session: Duration::from_secs(4),
            pause: Duration::from_secs(1),
            lobbies: (peers / 20).clamp(1, 50),
            join_window: 4,
            progress: false,
            addr,
            pid,
            db,
        }
    }
}

/// The accounts a churn run of `peers` needs: the peers and the watcher.
pub fn accounts(peers: usize) -> usize {
    peers + 1
}
