//! The peer's search: asks the LAN for `_p2pchat._tcp.local.` and collects
//! what answers for a fixed window, on `mdns-sd`'s own thread, then ends
//! that thread before returning. It decides nothing: `choice` does.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use mdns_sd::{ServiceDaemon, ServiceEvent};

use super::choice::{Found, SERVICE_TYPE, Skipped, found};
use super::{DiscoveryError, wait_for_shutdown};

/// What answered a search.
#[derive(Debug, Default)]
pub struct Answers {
    pub found: Vec<Found>,
    pub skipped: Vec<Skipped>,
}

/// Looks for registries for `window`, and returns what answered.
pub fn search(window: Duration) -> Result<Answers, DiscoveryError> {
    let deadline = Instant::now() + window;
    let daemon = ServiceDaemon::new().map_err(DiscoveryError::Mdns)?;
    let events = match daemon.browse(SERVICE_TYPE) {
        Ok(events) => events,
        Err(err) => {
            let _ = wait_for_shutdown(&daemon);
            return Err(DiscoveryError::Mdns(err));
        }
    };
    let mut answers = Answers::default();
    // Every answer within the window counts: several registries may answer,
    // and the peer lists them all.
    while let Ok(event) = events.recv_deadline(deadline) {
        let ServiceEvent::ServiceResolved(service) = event else {
            continue;
        };
        let addresses: Vec<IpAddr> = service
            .get_addresses()
            .iter()
            .map(|ip| ip.to_ip_addr())
            .collect();
        let txt: Vec<(&str, &str)> = service
            .get_properties()
            .iter()
            .map(|property| (property.key(), property.val_str()))
            .collect();
        match found(service.get_fullname(), &addresses, service.get_port(), &txt) {
            Ok(registry) => answers.found.push(registry),
            Err(skipped) => answers.skipped.push(skipped),
        }
    }
    wait_for_shutdown(&daemon)?;
    Ok(answers)
}
