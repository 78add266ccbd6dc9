//! The lobby benchmark: one member floods a lobby, every other member counts
//! what arrives, in order, and how long each line took.
//!
//! The lobby is either a real `Lobby` hub hosted by this process, its members
//! admitted over loopback TCP, or a channel on an IRC server, so both are
//! measured by the same load code. Each message carries its sequence number
//! and the nanoseconds since a shared `Instant` at which it was sent.
//!
//! # Layout
//!
//! - this file: `run`, which checks the options, sets up, measures and
//!   tears down.
//! - `options`: `LobbyOptions` and what the load talks to (`Target`).
//! - `report`: `LobbyReport`, and `Tally`, one reader thread's counts.
//! - `proto`: the hub's and IRC's lines, and the text of a message.
//! - `setup`: the connections to a hub or an IRC channel (`Setup`).
//! - `measure`: the readers started, the messages sent, the tallies added.
//! - `reader`: one reader thread and its receivers.

mod measure;
mod options;
mod proto;
mod reader;
mod report;
mod setup;

pub use options::{IrcTarget, LobbyOptions, Target};
pub use report::LobbyReport;

use super::{BenchError, peak_memory, reset_peak_memory};
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
    reset_peak_memory();
    let mut setup = match &options.target {
        Target::Hub => Setup::hub(options.members)?,
        Target::Irc(irc) => Setup::irc(irc, options.members)?,
    };
    let result = measure(options, &mut setup);
    let memory = match &options.target {
        Target::Hub => peak_memory(None),
        Target::Irc(irc) => irc.pid.and_then(|pid| peak_memory(Some(pid))),
    };
    setup.finish();
    let mut report = result?;
    report.peak_memory = memory;
    Ok(report)
}
