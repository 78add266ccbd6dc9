//! The registry's announcement on the LAN: `_p2pchat._tcp.local.` with
//! its TXT record, answered by `mdns-sd`'s own thread until `stop`, which
//! sends the goodbye (a record with no time to live) and waits for that
//! thread to end. It must never announce an address the registry does not
//! listen on: a registry bound to one address is announced on that
//! address's interface only.

use std::net::{IpAddr, SocketAddr};

use mdns_sd::{IfKind, ServiceDaemon, ServiceInfo, UnregisterStatus};

use super::choice::SERVICE_TYPE;
use super::txt::Announcement;
use super::{DiscoveryError, STOP_TIMEOUT, wait_for_shutdown};

/// What to announce.
#[derive(Debug, Clone)]
pub struct AnnounceConfig {
    /// The instance name people see when several registries answer.
    pub name: String,
    /// Where the registry listens (its `local_addr`).
    pub registry: SocketAddr,
    pub announcement: Announcement,
}

/// One address of one network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    pub name: String,
    pub ip: IpAddr,
}

/// A registry being announced; `stop` withdraws it.
pub struct Announcer {
    daemon: ServiceDaemon,
    fullname: String,
    interfaces: Vec<Nic>,
}

impl Announcer {
    /// Announces the registry on the interfaces its bind address covers.
    pub fn start(config: &AnnounceConfig) -> Result<Announcer, DiscoveryError> {
        let all = if_addrs::get_if_addrs()
            .map_err(DiscoveryError::Interfaces)?
            .into_iter()
            .filter(|nic| nic.is_oper_up() && !nic.is_p2p())
            .map(|nic| Nic {
                ip: nic.ip(),
                name: nic.name,
            })
            .collect::<Vec<_>>();
        let interfaces = interfaces_for(config.registry.ip(), &all);
        if interfaces.is_empty() {
            return Err(DiscoveryError::NoInterface(config.registry.ip()));
        }
        let ips: Vec<IpAddr> = interfaces.iter().map(|nic| nic.ip).collect();
        let pairs = config.announcement.to_pairs();
        let mut info = ServiceInfo::new(
            SERVICE_TYPE,
            &config.name,
            &format!("{}.local.", host_label()),
            &ips[..],
            config.registry.port(),
            &pairs[..],
        )
        .map_err(DiscoveryError::Mdns)?;
        info.set_interfaces(ips.iter().map(|ip| IfKind::Addr(*ip)).collect());
        let fullname = info.get_fullname().to_string();
        let daemon = ServiceDaemon::new().map_err(DiscoveryError::Mdns)?;
        if let Err(err) = daemon.register(info) {
            let _ = wait_for_shutdown(&daemon);
            return Err(DiscoveryError::Mdns(err));
        }
        Ok(Announcer {
            daemon,
            fullname,
            interfaces,
        })
    }

    /// The interfaces and addresses it announces on, for the log.
    pub fn interfaces(&self) -> &[Nic] {
        &self.interfaces
    }

    /// `eth0 10.0.3.17, lo 127.0.0.1`: the interfaces as a log shows them.
    pub fn interfaces_text(&self) -> String {
        self.interfaces
            .iter()
            .map(|nic| format!("{} {}", nic.name, nic.ip))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Withdraws the announcement and ends the daemon's thread, waiting
    /// for both (a few seconds at most, should the daemon be stuck).
    pub fn stop(self) -> Result<(), DiscoveryError> {
        let withdrawn = match self.daemon.unregister(&self.fullname) {
            Ok(status) => match status.recv_timeout(STOP_TIMEOUT) {
                Ok(UnregisterStatus::OK) => Ok(()),
                Ok(UnregisterStatus::NotFound) => Err(DiscoveryError::NotAnnounced),
                Err(_) => Err(DiscoveryError::StopTimedOut),
            },
            Err(err) => Err(DiscoveryError::Mdns(err)),
        };
        let ended = wait_for_shutdown(&self.daemon);
        withdrawn.and(ended)
    }
}

/// The interfaces a registry bound to `bind` is announced on: for an
/// unspecified address, every address of that family (loopback included,
/// so a peer on the same machine finds it too); otherwise the interface
/// that has exactly that address.
pub(super) fn interfaces_for(bind: IpAddr, all: &[Nic]) -> Vec<Nic> {
    all.iter()
        .filter(|nic| {
            if bind.is_unspecified() {
                nic.ip.is_ipv4() == bind.is_ipv4()
            } else {
                nic.ip == bind
            }
        })
        .cloned()
        .collect()
}

/// This machine's name as one DNS label, for the SRV record's target.
fn host_label() -> String {
    label(&system_host_name().unwrap_or_default())
}

/// The first label of a host name, with anything but letters, digits and
/// `-` replaced by `-`; `p2pchat-registry` when nothing is left.
pub(super) fn label(host: &str) -> String {
    let first = host.split('.').next().unwrap_or_default();
    let label: String = first
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63)
        .collect();
    let label = label.trim_matches('-');
    if label.is_empty() {
        "p2pchat-registry".to_string()
    } else {
        label.to_string()
    }
}

/// The default instance name: the machine's name, with the port when it is
/// not the usual one, so two registries on one machine differ.
pub fn default_name(port: u16) -> String {
    let host = system_host_name()
        .map(|host| host.split('.').next().unwrap_or_default().to_string())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "p2pchat registry".to_string());
    name_for(&host, port)
}

/// `labpc`, or `labpc port 7000` off the default port.
pub(super) fn name_for(host: &str, port: u16) -> String {
    if port == crate::registry::DEFAULT_REGISTRY_PORT {
        host.to_string()
    } else {
        format!("{host} port {port}")
    }
}

#[cfg(unix)]
fn system_host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for writes of its whole length, which is
    // the length passed; gethostname writes no more than that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // No NUL means the name was cut short: better none than a wrong one.
    let end = buf.iter().position(|&b| b == 0)?;
    String::from_utf8(buf[..end].to_vec()).ok()
}

#[cfg(not(unix))]
fn system_host_name() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nics(list: &[(&str, &str)]) -> Vec<Nic> {
        list.iter()
            .map(|(name, ip)| Nic {
                name: name.to_string(),
                ip: ip.parse().unwrap(),
            })
            .collect()
    }

    #[track_caller]
    fn check(bind: &str, expected: &[(&str, &str)]) {
        let all = nics(&[
            ("lo", "127.0.0.1"),
            ("lo", "::1"),
            ("eth0", "10.0.3.17"),
            ("eth0", "fe80::1"),
            ("wlan0", "192.168.1.5"),
        ]);
        assert_eq!(
            interfaces_for(bind.parse().unwrap(), &all),
            nics(expected),
            "{bind}"
        );
    }

    #[test]
    fn the_interfaces_a_bind_address_covers() {
        check(
            "0.0.0.0",
            &[
                ("lo", "127.0.0.1"),
                ("eth0", "10.0.3.17"),
                ("wlan0", "192.168.1.5"),
            ],
        );
        check("::", &[("lo", "::1"), ("eth0", "fe80::1")]);
        check("10.0.3.17", &[("eth0", "10.0.3.17")]);
        check("127.0.0.1", &[("lo", "127.0.0.1")]);
        check("10.9.9.9", &[]);
    }

    #[test]
    fn host_labels_and_names() {
        for (host, expected) in [
            ("labpc", "labpc"),
            ("labpc.example.org", "labpc"),
            ("Lab PC_2", "Lab-PC-2"),
            ("", "p2pchat-registry"),
            ("..", "p2pchat-registry"),
            ("été", "t"),
        ] {
            assert_eq!(label(host), expected, "{host:?}");
        }
        assert_eq!(name_for("labpc", 7777), "labpc");
        assert_eq!(name_for("labpc", 7000), "labpc port 7000");
    }
}
