//! The keys a peer has seen before: each registry's fingerprint by address
//! and each user's keys by name, the decision when a key is presented
//! (`Pin::Known`, `New`, `Changed`), and the text of the file that keeps
//! them (`known_keys` in the data directory; `files.rs` reads and writes it).
//!
//! It protects against a key that changes after first contact: the caller
//! refuses a `Changed` key, in every mode. It does not protect the first
//! contact (trust on first use), and it does not decide: asking the user
//! and refusing are the caller's. It must never do I/O or read the clock.

use std::collections::BTreeMap;
use std::fmt;

use super::keys::{Fingerprint, KeyError, PeerKey};

/// What to make of a presented key, given what was pinned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin<K> {
    /// The key pinned for this name.
    Known,
    /// Nothing was pinned for this name: trust on first use, or ask.
    New(K),
    /// Another key than the one pinned: refuse, and say both.
    Changed { pinned: K, presented: K },
}

/// The known registries (address, as the user wrote it → fingerprint) and
/// the known peers (user name → keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins {
    registries: BTreeMap<String, Fingerprint>,
    peers: BTreeMap<String, PeerKey>,
}

/// A line of a pins file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinsError {
    /// 1-based.
    pub line: usize,
    pub problem: PinsProblem,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinsProblem {
    /// Not `registry <address> <fingerprint>` or `peer <name> <key>`.
    UnknownLine,
    /// A key or fingerprint that does not read.
    BadKey(KeyError),
    /// A second line for a name already read.
    Duplicate,
}

impl fmt::Display for PinsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.problem {
            PinsProblem::UnknownLine => {
                f.write_str("expected 'registry ADDRESS FINGERPRINT' or 'peer NAME KEY'")
            }
            PinsProblem::BadKey(err) => write!(f, "{err}"),
            PinsProblem::Duplicate => f.write_str("a second key for the same name"),
        }
    }
}

impl std::error::Error for PinsError {}

impl Pins {
    pub fn check_registry(&self, address: &str, presented: Fingerprint) -> Pin<Fingerprint> {
        check(self.registries.get(address), presented)
    }

    /// Remembers (or replaces, once the user has said so) a registry's key.
    pub fn trust_registry(&mut self, address: &str, fingerprint: Fingerprint) {
        self.registries.insert(address.to_string(), fingerprint);
    }

    pub fn registry(&self, address: &str) -> Option<Fingerprint> {
        self.registries.get(address).copied()
    }

    pub fn check_peer(&self, name: &str, presented: PeerKey) -> Pin<PeerKey> {
        check(self.peers.get(name), presented)
    }

    pub fn trust_peer(&mut self, name: &str, key: PeerKey) {
        self.peers.insert(name.to_string(), key);
    }

    pub fn peer(&self, name: &str) -> Option<PeerKey> {
        self.peers.get(name).copied()
    }

    /// Reads a pins file's text. Blank lines and lines starting with `#`
    /// are skipped; anything else that does not read is an error naming
    /// its line, never skipped in silence (a lost pin would be trusted anew).
    pub fn parse(text: &str) -> Result<Pins, PinsError> {
        let mut pins = Pins::default();
        for (at, line) in text.lines().enumerate() {
            let fail = |problem| PinsError {
                line: at + 1,
                problem,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let fresh = match words[..] {
                ["registry", address, fingerprint] => {
                    let fingerprint = fingerprint
                        .parse()
                        .map_err(|err| fail(PinsProblem::BadKey(err)))?;
                    pins.registries
                        .insert(address.to_string(), fingerprint)
                        .is_none()
                }
                ["peer", name, key] => {
                    let key = key.parse().map_err(|err| fail(PinsProblem::BadKey(err)))?;
                    pins.peers.insert(name.to_string(), key).is_none()
                }
                _ => return Err(fail(PinsProblem::UnknownLine)),
            };
            if !fresh {
                return Err(fail(PinsProblem::Duplicate));
            }
        }
        Ok(pins)
    }
}

/// The file's text, which `Pins::parse` reads back.
impl fmt::Display for Pins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# Keys this peer has seen; a changed key is refused.")?;
        for (address, fingerprint) in &self.registries {
            writeln!(f, "registry {address} {fingerprint}")?;
        }
        for (name, key) in &self.peers {
            writeln!(f, "peer {name} {key}")?;
        }
        Ok(())
    }
}

fn check<K: Copy + PartialEq>(pinned: Option<&K>, presented: K) -> Pin<K> {
    match pinned {
        None => Pin::New(presented),
        Some(&pinned) if pinned == presented => Pin::Known,
        Some(&pinned) => Pin::Changed { pinned, presented },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::{IdentityKey, SealKey};

    fn fingerprint(byte: u8) -> Fingerprint {
        IdentityKey::from_bytes([byte; 32]).fingerprint()
    }

    fn peer_key(identity: u8, seal: u8) -> PeerKey {
        PeerKey {
            identity: IdentityKey::from_bytes([identity; 32]),
            seal: SealKey::from_bytes([seal; 32]),
        }
    }

    #[test]
    fn a_presented_key_is_known_new_or_changed() {
        let mut pins = Pins::default();
        pins.trust_registry("lab:5000", fingerprint(1));
        pins.trust_peer("bob", peer_key(1, 2));
        #[track_caller]
        fn check<K: fmt::Debug + PartialEq>(got: Pin<K>, expected: Pin<K>) {
            assert_eq!(got, expected);
        }
        check(pins.check_registry("lab:5000", fingerprint(1)), Pin::Known);
        check(
            pins.check_registry("lab:5001", fingerprint(1)),
            Pin::New(fingerprint(1)),
        );
        check(
            pins.check_registry("lab:5000", fingerprint(2)),
            Pin::Changed {
                pinned: fingerprint(1),
                presented: fingerprint(2),
            },
        );
        check(pins.check_peer("bob", peer_key(1, 2)), Pin::Known);
        check(
            pins.check_peer("carol", peer_key(1, 2)),
            Pin::New(peer_key(1, 2)),
        );
        // Either key changed is a change.
        for presented in [peer_key(9, 2), peer_key(1, 9)] {
            check(
                pins.check_peer("bob", presented),
                Pin::Changed {
                    pinned: peer_key(1, 2),
                    presented,
                },
            );
        }
        // Trusting the new key (once the user said so) makes it known.
        pins.trust_peer("bob", peer_key(1, 9));
        check(pins.check_peer("bob", peer_key(1, 9)), Pin::Known);
    }

    #[test]
    fn the_file_round_trips() {
        let mut pins = Pins::default();
        pins.trust_registry("lab:5000", fingerprint(1));
        pins.trust_registry("[::1]:5000", fingerprint(2));
        pins.trust_peer("bob", peer_key(1, 2));
        let text = pins.to_string();
        assert_eq!(Pins::parse(&text), Ok(pins));
        assert_eq!(Pins::parse(""), Ok(Pins::default()));
    }

    #[track_caller]
    fn refused(text: &str, line: usize, problem: PinsProblem) {
        assert_eq!(
            Pins::parse(text),
            Err(PinsError { line, problem }),
            "{text:?}"
        );
    }

    #[test]
    fn a_malformed_file_is_refused_with_its_line() {
        let fp = fingerprint(1);
        let key = peer_key(1, 2);
        refused("hello", 1, PinsProblem::UnknownLine);
        refused(
            &format!("# c\n\nregistry lab {fp} extra"),
            3,
            PinsProblem::UnknownLine,
        );
        refused("registry lab", 1, PinsProblem::UnknownLine);
        refused(
            &format!("peer bob {fp}"),
            1,
            PinsProblem::BadKey(KeyError::NotPeerKey),
        );
        refused(
            &format!("registry lab {key}"),
            1,
            PinsProblem::BadKey(KeyError::NotSha256),
        );
        refused(
            &format!("registry lab {fp}\nregistry lab {fp}"),
            2,
            PinsProblem::Duplicate,
        );
        refused(
            &format!("peer bob {key}\npeer bob {key}"),
            2,
            PinsProblem::Duplicate,
        );
        // Whatever the bytes, a clear error or a value, never a panic.
        for cut in 0..key.to_string().len() {
            let text = format!("peer bob {}", &key.to_string()[..cut]);
            assert!(Pins::parse(&text).is_err(), "{text:?}");
        }
    }
}
