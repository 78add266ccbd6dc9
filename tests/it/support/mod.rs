//! Helpers shared by the integration tests, one file per kind:
//!
//! - `server`: a registry server on `127.0.0.1:0` with its database in a
//!   temporary directory (`TestServer`), and databases made outside a server.
//! - `client`: a line-based client that never waits longer than a read
//!   timeout (`Client`).
//! - `process`: the `server` and `peer` binaries as child processes.
//! - `netns`: a network namespace of a test's own, for multicast (`Netns`).
//! - `accounts`: accounts made, joined and invited over the registry protocol.
//! - `scripted`: scripted peers driven as their users would drive them.
//! - `terminal`: the `peer` binary in a pseudo-terminal, read through a
//!   terminal emulator (`TerminalPeer`); `AtTerminal`, what a test does
//!   with a peer at any terminal.
//! - `transcript`: the docs' fenced blocks, their `run:` markers and
//!   placeholders, as data; `transcript_play` plays them against the
//!   `server` binary; `transcript_hand` reads the blocks where the
//!   reader plays a peer by hand, which `transcript_play` plays too.
//! - `capture`: `dumpcap` and `tshark` on loopback, with the repository's
//!   Wireshark dissector (`Capture`, `Tshark`), or a one-line skip.
//! - `streams`: a child's output read line by line under a timeout
//!   (`LineStream`), for the traces a test follows as they come.
//! - `tmux`: the `peer` binary in tmux, a terminal that re-wraps its lines
//!   on a resize (`TmuxPeer`).
//!
//! This file holds what they share: the timeouts, the test password, and
//! the loopback address and temporary directories every kind uses. The
//! test modules name every helper as `support::NAME`, whichever file it
//! sits in.
//!
//! Nothing here sleeps: a test waits for something by reading until the line
//! it expects arrives, and a read that takes longer than `READ_TIMEOUT` fails
//! the test with a message instead of hanging it.

#![allow(dead_code)] // Each test module uses its own subset of these helpers.

mod accounts;
mod capture;
mod client;
#[cfg(target_os = "linux")]
mod netns;
mod process;
mod scripted;
mod server;
mod streams;
#[cfg(unix)]
mod terminal;
#[cfg(unix)]
mod tmux;
mod transcript;
mod transcript_hand;
mod transcript_play;

pub use accounts::*;
pub use capture::*;
pub use client::*;
#[cfg(target_os = "linux")]
pub use netns::*;
pub use process::*;
pub use scripted::*;
pub use server::*;
pub use streams::*;
#[cfg(unix)]
pub use terminal::*;
#[cfg(unix)]
pub use tmux::*;
pub use transcript::*;
pub use transcript_hand::*;
pub use transcript_play::*;

use std::net::SocketAddr;
use std::time::Duration;

use tempfile::TempDir;

/// How long a `Client` waits for a line before the test fails. It is a
/// safety net for a hang, never what a test measures: generous, so that a
/// machine busy with other work does not fail a test that would pass.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// `127.0.0.1:0`: any free port on the loopback interface.
pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A temporary directory for a database the test manages itself.
pub fn temp_dir() -> TempDir {
    tempfile::tempdir().expect("a temporary directory can be created")
}

/// How long a test waits for a peer, scripted or a process, to show a line:
/// longer than `READ_TIMEOUT`, as one step of a peer may take password
/// hashes and several round trips.
pub const PEER_WAIT: Duration = Duration::from_secs(60);

/// The password of the test accounts, unless a test is about passwords.
pub const PASSWORD: &str = "s3cret-pw";
