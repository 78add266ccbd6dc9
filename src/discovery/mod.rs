//! Finding the registry on the LAN by itself: DNS-SD over multicast DNS
//! (`_p2pchat._tcp.local.`). The registry announces itself (`announcer`),
//! a peer started without `--server` looks for a short while (`browser`),
//! and plain types say what an announcement holds (`txt`) and which
//! registry a peer uses (`choice`). `mdns-sd` runs the multicast on a thread
//! of its own; every function here that starts one ends it before it
//! returns or when stopped.
//!
//! An announcement is a hint, never a proof: anyone on the LAN can send
//! one. It must never take the place of pinning: the key it names is
//! checked against the key the registry presents, and the first contact
//! shows that key to compare, as with `--server`.

mod announcer;
mod browser;
mod choice;
mod txt;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use mdns_sd::{DaemonStatus, ServiceDaemon};

pub use announcer::{AnnounceConfig, Announcer, Nic, default_name};
pub use browser::{Answers, search};
pub use choice::{
    AnnouncedKeyMismatch, Decision, Found, SERVICE_TYPE, SkipReason, Skipped, check_announced,
    decide, pick,
};
pub use txt::{Announcement, PROTOCOL_VERSION, TxtError};

/// How long a peer started without `--server` looks for registries.
pub const DEFAULT_SEARCH_WINDOW: Duration = Duration::from_secs(2);

/// How long a stop waits for `mdns-sd`'s thread: a safety net, not a pause.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the LAN could not be searched or announced on.
#[derive(Debug)]
pub enum DiscoveryError {
    Mdns(mdns_sd::Error),
    Interfaces(std::io::Error),
    /// No interface that is up has the address the registry is bound to.
    NoInterface(IpAddr),
    /// The announcement to withdraw was not registered.
    NotAnnounced,
    /// `mdns-sd`'s thread did not answer in time.
    StopTimedOut,
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::Mdns(err) => write!(f, "multicast DNS: {err}"),
            DiscoveryError::Interfaces(err) => {
                write!(f, "cannot list the network interfaces: {err}")
            }
            DiscoveryError::NoInterface(ip) => {
                write!(f, "no network interface that is up has the address {ip}")
            }
            DiscoveryError::NotAnnounced => write!(f, "the announcement was not registered"),
            DiscoveryError::StopTimedOut => {
                write!(f, "the multicast DNS thread did not stop in time")
            }
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// Ends `mdns-sd`'s thread and waits until it says it has ended: the
/// crate keeps the thread's handle, so its last word stands in for a join.
fn wait_for_shutdown(daemon: &ServiceDaemon) -> Result<(), DiscoveryError> {
    let status = daemon.shutdown().map_err(DiscoveryError::Mdns)?;
    match status.recv_timeout(STOP_TIMEOUT) {
        Ok(DaemonStatus::Shutdown) => Ok(()),
        _ => Err(DiscoveryError::StopTimedOut),
    }
}
