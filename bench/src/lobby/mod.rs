//! The lobby benchmark: one member floods a lobby, every other member counts
//! what arrives, in order, and how long each line took.
//!
//! The lobby is either a real `Lobby` hub, hosted by this process or by one
//! of its own (`bench serve-lobby`), its members admitted over loopback as
//! a leader admits them (TLS with each member's key, or plain text), or a
//! channel on an IRC server (plain or TLS), so all are measured by the same
//! load code. Each message carries its sequence number
//! and the nanoseconds since a shared `Instant` at which it was sent.
//!
//! # Layout
//!
//! - this file: `run`, which checks the options, sets up, measures and
//!   tears down.
//! - `options`: `LobbyOptions` and what the load talks to (`Target`).
//! - `report`: `LobbyReport`, and `Tally`, one reader thread's counts.
//! - `proto`: the hub's and IRC's lines, and the text of a message.
//! - `hub`: `HubHost`, a hub and the listener that admits its members;
//!   `serve_child`, the body of `bench serve-lobby`.
//! - `setup`: the connections to a hub or an IRC channel (`Setup`).
//! - `measure`: the readers started, the messages sent, the tallies added.
//! - `reader`: one reader thread and its receivers.

mod hub;
mod measure;
mod options;
mod proto;
mod reader;
mod report;
mod setup;

pub use hub::{HubHost, serve_child};
pub use options::{IrcTarget, LobbyOptions, RemoteHub, Target};
pub use report::LobbyReport;

use super::{BenchError, peak_memory, proc_status_field, reset_peak_memory};
use measure::measure;
use setup::Setup;

/// The IRC channel the load joins.
const CHANNEL: &str = "#bench";

/// Runs one lobby benchmark.
pub fn run(options: &LobbyOptions) -> Result<LobbyReport, BenchError> {
    if options.members < 2 {
        return Err(BenchError::Setup(
            "a lobby benchmark needs at least 2 members".into(),
        ));
    }
    if options.size > p2pchat::wire::MAX_TEXT.min(400) {
        return Err(BenchError::Setup(format!(
            "messages are at most {} bytes",
            p2pchat::wire::MAX_TEXT.min(400)
        )));
    }
    // The process that relays: its resident memory before any member
    // connects, and its peak during the run.
    let relay = relay_pid(&options.target);
    reset_peak_memory();
    let baseline = relay.and_then(|pid| proc_status_field(pid, "VmRSS"));
    let mut setup = match &options.target {
        Target::Hub { tls } => {
            let host = HubHost::start(options.members, *tls)?;
            let (addr, security) = (host.addr(), host.security());
            Setup::hub(addr, security, options.members, Some(host))?
        }
        Target::RemoteHub(hub) => Setup::hub(hub.addr, hub.security, options.members, None)?,
        Target::Irc(irc) => Setup::irc(irc, options.members)?,
    };
    let result = measure(options, &mut setup);
    let memory = relay.and_then(peak_memory);
    setup.finish();
    let mut report = result?;
    report.peak_memory = memory;
    report.baseline_memory = baseline;
    Ok(report)
}

/// The process whose memory is the relay's: `Some(None)` for this one,
/// `None` if unknown.
fn relay_pid(target: &Target) -> Option<Option<u32>> {
    match target {
        Target::Hub { .. } => Some(None),
        Target::RemoteHub(hub) => Some(Some(hub.pid)),
        Target::Irc(irc) => irc.pid.map(Some),
    }
}
