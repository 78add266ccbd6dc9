//! Which announced registry a peer uses, as plain values: a resolved
//! service becomes a `Found` (or the reason it is skipped), the list of
//! them becomes a `Decision`, an answer at the prompt picks one, and the
//! key the registry presents is checked against the one it announced. No
//! I/O: the browser feeds these, the peer binary asks and shows.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::txt::{Announcement, PROTOCOL_VERSION, TxtError};
use crate::crypto::Fingerprint;

/// The service type the registry announces, with its domain.
pub const SERVICE_TYPE: &str = "_p2pchat._tcp.local.";

/// A registry that answered the search and speaks our protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its instance name (the part before `._p2pchat._tcp.local.`).
    pub name: String,
    /// Where to reach it.
    pub addr: SocketAddr,
    pub announcement: Announcement,
}

impl fmt::Display for Found {
    /// `Room 101 at 10.0.3.17:7777, key SHA256:..., 12 online`: text for
    /// people, never matched by code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.name, self.addr)?;
        match self.announcement.fingerprint {
            Some(fingerprint) => write!(f, ", key {fingerprint}")?,
            None => write!(f, ", plain text (no key)")?,
        }
        if let Some(online) = self.announcement.online {
            write!(f, ", {online} online")?;
        }
        Ok(())
    }
}

/// Why an answer to the search is not offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub name: String,
    pub why: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    Txt(TxtError),
    OtherVersion(u32),
    NoAddress,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skipped the registry {:?}: ", self.name)?;
        match &self.why {
            SkipReason::Txt(err) => write!(f, "{err}"),
            SkipReason::OtherVersion(version) => write!(
                f,
                "it speaks protocol version {version}, this peer {PROTOCOL_VERSION}"
            ),
            SkipReason::NoAddress => write!(f, "it announced no address this peer can reach"),
        }
    }
}

/// A resolved service as a `Found`, or why it is skipped. Of its
/// addresses, IPv4 comes first, then global IPv6 (a link-local IPv6
/// address would need its interface named), and among those an address
/// that is not loopback first, so a registry announced on several
/// interfaces is reached the way another machine would reach it.
pub(super) fn found(
    fullname: &str,
    addresses: &[IpAddr],
    port: u16,
    txt: &[(&str, &str)],
) -> Result<Found, Skipped> {
    let name = instance_name(fullname);
    let skip = |why| Skipped {
        name: name.clone(),
        why,
    };
    let announcement =
        Announcement::from_pairs(txt.iter().copied()).map_err(|err| skip(SkipReason::Txt(err)))?;
    if announcement.version != PROTOCOL_VERSION {
        return Err(skip(SkipReason::OtherVersion(announcement.version)));
    }
    let ip = addresses
        .iter()
        .filter_map(|ip| rank(ip).map(|rank| (rank, *ip)))
        .min()
        .map(|(_, ip)| ip)
        .ok_or_else(|| skip(SkipReason::NoAddress))?;
    Ok(Found {
        name,
        addr: SocketAddr::new(ip, port),
        announcement,
    })
}

/// Lower is better; `None` for an address a peer cannot use as it is.
fn rank(ip: &IpAddr) -> Option<u8> {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() || v4.is_multicast() => None,
        IpAddr::V4(v4) if v4.is_loopback() => Some(1),
        IpAddr::V4(_) => Some(0),
        IpAddr::V6(v6) if v6.is_unspecified() || v6.is_multicast() => None,
        IpAddr::V6(v6) if v6.is_unicast_link_local() => None,
        IpAddr::V6(v6) if v6.is_loopback() => Some(3),
        IpAddr::V6(_) => Some(2),
    }
}

/// The instance name of a service's full name.
pub(super) fn instance_name(fullname: &str) -> String {
    let name = fullname
        .strip_suffix(SERVICE_TYPE)
        .and_then(|name| name.strip_suffix('.'))
        .unwrap_or(fullname);
    name.to_string()
}

/// What the search leaves the peer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing answered: the default address is tried.
    None,
    One(Found),
    /// Sorted by name, then address; the user picks one.
    Several(Vec<Found>),
}

/// The decision for what the search found. The same registry seen twice
/// (same name and address) counts once.
pub fn decide(mut found: Vec<Found>) -> Decision {
    found.sort_by(|a, b| (&a.name, a.addr).cmp(&(&b.name, b.addr)));
    found.dedup_by(|a, b| a.name == b.name && a.addr == b.addr);
    match found.len() {
        0 => Decision::None,
        1 => Decision::One(found.remove(0)),
        _ => Decision::Several(found),
    }
}

/// The registry an answer at the prompt picks, 1-based as listed:
/// `None` for anything but a number in range.
pub fn pick(answer: &str, count: usize) -> Option<usize> {
    match answer.trim().parse::<usize>() {
        Ok(n) if (1..=count).contains(&n) => Some(n - 1),
        _ => None,
    }
}

/// A registry presented another key than the one its announcement named:
/// someone may be announcing a registry that is not theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnnouncedKeyMismatch {
    pub addr: SocketAddr,
    pub announced: Fingerprint,
    pub presented: Fingerprint,
}

impl fmt::Display for AnnouncedKeyMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the registry at {} presents key {}, but its announcement on the LAN named {}: \
             someone on this network may be announcing a registry that is not theirs, so \
             nothing was sent. Ask for the registry's address and fingerprint, and start \
             the peer with --server HOST:PORT --trust-registry SHA256:...",
            self.addr, self.presented, self.announced
        )
    }
}

impl std::error::Error for AnnouncedKeyMismatch {}

/// The check of the key the registry at `addr` presents against the one
/// announced.
pub fn check_announced(
    addr: SocketAddr,
    announced: Fingerprint,
    presented: Fingerprint,
) -> Result<(), AnnouncedKeyMismatch> {
    if announced == presented {
        Ok(())
    } else {
        Err(AnnouncedKeyMismatch {
            addr,
            announced,
            presented,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    const OTHER: &str = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const TXT: &[(&str, &str)] = &[("v", "1"), ("tls", "1"), ("fp", FP)];

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|ip| ip.parse().unwrap()).collect()
    }

    fn registry(name: &str, addr: &str) -> Found {
        Found {
            name: name.into(),
            addr: addr.parse().unwrap(),
            announcement: Announcement {
                version: 1,
                tls: true,
                fingerprint: Some(FP.parse().unwrap()),
                online: None,
            },
        }
    }

    #[track_caller]
    fn check_address(addresses: &[&str], expected: Option<&str>) {
        let got = found("r._p2pchat._tcp.local.", &ips(addresses), 7777, TXT);
        match expected {
            Some(addr) => assert_eq!(got.unwrap().addr, addr.parse().unwrap()),
            None => assert_eq!(got.unwrap_err().why, SkipReason::NoAddress),
        }
    }

    #[test]
    fn the_address_a_peer_uses() {
        check_address(&["10.0.3.17"], Some("10.0.3.17:7777"));
        check_address(&["127.0.0.1", "10.0.3.17"], Some("10.0.3.17:7777"));
        check_address(&["::1", "127.0.0.1"], Some("127.0.0.1:7777"));
        check_address(&["fe80::1", "2001:db8::5"], Some("[2001:db8::5]:7777"));
        check_address(&["2001:db8::5", "192.168.1.2"], Some("192.168.1.2:7777"));
        check_address(&["::1"], Some("[::1]:7777"));
        check_address(&["fe80::1"], None);
        check_address(&["0.0.0.0", "224.0.0.251"], None);
        check_address(&[], None);
    }

    #[test]
    fn names_versions_and_records() {
        let got = found("Room 101._p2pchat._tcp.local.", &ips(&["10.0.0.1"]), 7, TXT);
        assert_eq!(got, Ok(registry("Room 101", "10.0.0.1:7")));
        assert_eq!(instance_name("odd"), "odd");
        let v2 = found(
            "new._p2pchat._tcp.local.",
            &ips(&["10.0.0.1"]),
            7,
            &[("v", "2"), ("tls", "0")],
        );
        assert_eq!(
            v2,
            Err(Skipped {
                name: "new".into(),
                why: SkipReason::OtherVersion(2)
            })
        );
        assert_eq!(
            v2.unwrap_err().to_string(),
            "skipped the registry \"new\": it speaks protocol version 2, this peer 1"
        );
        let broken = found(
            "x._p2pchat._tcp.local.",
            &ips(&["10.0.0.1"]),
            7,
            &[("v", "1")],
        );
        assert_eq!(
            broken.unwrap_err().why,
            SkipReason::Txt(TxtError::Missing("tls"))
        );
    }

    #[test]
    fn one_several_or_none() {
        assert_eq!(decide(vec![]), Decision::None);
        let a = registry("a", "10.0.0.1:7777");
        let b = registry("b", "10.0.0.2:7777");
        assert_eq!(decide(vec![a.clone()]), Decision::One(a.clone()));
        assert_eq!(decide(vec![a.clone(), a.clone()]), Decision::One(a.clone()));
        assert_eq!(
            decide(vec![b.clone(), a.clone(), b.clone()]),
            Decision::Several(vec![a, b])
        );
    }

    #[test]
    fn picking_at_the_prompt() {
        for (answer, expected) in [
            ("1", Some(0)),
            (" 2\n", Some(1)),
            ("3", None),
            ("0", None),
            ("-1", None),
            ("", None),
            ("b", None),
        ] {
            assert_eq!(pick(answer, 2), expected, "{answer:?}");
        }
    }

    #[test]
    fn how_a_registry_is_listed() {
        let mut r = registry("Room 101", "10.0.3.17:7777");
        assert_eq!(
            r.to_string(),
            format!("Room 101 at 10.0.3.17:7777, key {FP}")
        );
        r.announcement.online = Some(12);
        assert_eq!(
            r.to_string(),
            format!("Room 101 at 10.0.3.17:7777, key {FP}, 12 online")
        );
        r.announcement.tls = false;
        r.announcement.fingerprint = None;
        assert_eq!(
            r.to_string(),
            "Room 101 at 10.0.3.17:7777, plain text (no key), 12 online"
        );
    }

    #[test]
    fn the_key_presented_must_be_the_one_announced() {
        let fp: Fingerprint = FP.parse().unwrap();
        let other: Fingerprint = OTHER.parse().unwrap();
        let addr: SocketAddr = "10.0.3.17:7777".parse().unwrap();
        assert_eq!(check_announced(addr, fp, fp), Ok(()));
        let err = check_announced(addr, fp, other).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the registry at 10.0.3.17:7777 presents key {OTHER}, but its announcement \
                 on the LAN named {FP}: someone on this network may be announcing a registry \
                 that is not theirs, so nothing was sent. Ask for the registry's address and \
                 fingerprint, and start the peer with --server HOST:PORT --trust-registry \
                 SHA256:..."
            )
        );
    }
}
