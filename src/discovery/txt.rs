//! What a registry's announcement says, as a plain value: the TXT record
//! of `_p2pchat._tcp.local.` parsed from its key/value pairs and written
//! back. No I/O: the announcer and the browser hand pairs in and out.
//!
//! The record is a hint, not a proof: anyone on the LAN can send one. The
//! fingerprint in it only lets the peer refuse a registry that presents
//! another key than the one announced; the first contact still shows the
//! key to compare, as with `--server`.

use std::fmt;

use crate::crypto::Fingerprint;

/// The version of the line protocol a registry speaks, as announced. A
/// peer ignores registries that announce another one.
pub const PROTOCOL_VERSION: u32 = 1;

/// The keys of the TXT record, short as DNS-SD asks (RFC 6763 section 6.4).
const VERSION: &str = "v";
const TLS: &str = "tls";
const FINGERPRINT: &str = "fp";
const ONLINE: &str = "online";

/// What a registry announces about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    /// The protocol version (`v`).
    pub version: u32,
    /// Whether it speaks TLS (`tls=1`) or plain text (`tls=0`).
    pub tls: bool,
    /// Its key's fingerprint (`fp`); required with TLS, absent without.
    pub fingerprint: Option<Fingerprint>,
    /// How many users are online (`online`), where the registry says.
    pub online: Option<u32>,
}

/// Why a TXT record is not a registry's announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtError {
    /// A key the record must have is missing.
    Missing(&'static str),
    /// A key's value is not what that key holds.
    Bad {
        key: &'static str,
        value: String,
    },
    /// `tls=1` without a fingerprint, or a fingerprint with `tls=0`.
    FingerprintWithoutTls,
    TlsWithoutFingerprint,
}

impl fmt::Display for TxtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TxtError::Missing(key) => write!(f, "the announcement has no {key}="),
            TxtError::Bad { key, value } => {
                write!(f, "the announcement's {key}={value:?} is not valid")
            }
            TxtError::FingerprintWithoutTls => {
                write!(f, "the announcement has a fingerprint but no TLS")
            }
            TxtError::TlsWithoutFingerprint => {
                write!(f, "the announcement has TLS but no fingerprint")
            }
        }
    }
}

impl std::error::Error for TxtError {}

impl Announcement {
    /// The record's pairs, in a fixed order.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            (VERSION, self.version.to_string()),
            (TLS, if self.tls { "1" } else { "0" }.to_string()),
        ];
        if let Some(fingerprint) = self.fingerprint {
            pairs.push((FINGERPRINT, fingerprint.to_string()));
        }
        if let Some(online) = self.online {
            pairs.push((ONLINE, online.to_string()));
        }
        pairs
    }

    /// Parses a record's pairs. Keys are matched without regard to case
    /// (RFC 6763 section 6.4); unknown keys are skipped, so a later
    /// version may add some; the first of a repeated key counts.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Announcement, TxtError> {
        let pairs: Vec<(String, &str)> = pairs
            .into_iter()
            .map(|(key, value)| (key.to_ascii_lowercase(), value))
            .collect();
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, value)| *value)
        };
        let version = number(VERSION, get(VERSION).ok_or(TxtError::Missing(VERSION))?)?;
        let tls = match get(TLS).ok_or(TxtError::Missing(TLS))? {
            "1" => true,
            "0" => false,
            other => return Err(bad(TLS, other)),
        };
        let fingerprint = match get(FINGERPRINT) {
            Some(text) => Some(text.parse().map_err(|_| bad(FINGERPRINT, text))?),
            None => None,
        };
        let online = get(ONLINE).map(|text| number(ONLINE, text)).transpose()?;
        match (tls, fingerprint) {
            (true, None) => Err(TxtError::TlsWithoutFingerprint),
            (false, Some(_)) => Err(TxtError::FingerprintWithoutTls),
            _ => Ok(Announcement {
                version,
                tls,
                fingerprint,
                online,
            }),
        }
    }
}

fn bad(key: &'static str, value: &str) -> TxtError {
    TxtError::Bad {
        key,
        value: value.to_string(),
    }
}

/// A decimal number of at most 9 digits, no sign, no spaces.
fn number(key: &'static str, text: &str) -> Result<u32, TxtError> {
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(key, text));
    }
    text.parse().map_err(|_| bad(key, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";

    fn fp() -> Fingerprint {
        FP.parse().unwrap()
    }

    #[track_caller]
    fn check(pairs: &[(&str, &str)], expected: Result<Announcement, TxtError>) {
        let parsed = Announcement::from_pairs(pairs.iter().copied());
        assert_eq!(parsed, expected);
        if let Ok(announcement) = parsed {
            let written = announcement.to_pairs();
            let again = Announcement::from_pairs(written.iter().map(|(k, v)| (*k, v.as_str())));
            assert_eq!(again, Ok(announcement), "round trip of {written:?}");
        }
    }

    fn tls(online: Option<u32>) -> Result<Announcement, TxtError> {
        Ok(Announcement {
            version: 1,
            tls: true,
            fingerprint: Some(fp()),
            online,
        })
    }

    #[test]
    fn records_that_are_announcements() {
        check(&[("v", "1"), ("tls", "1"), ("fp", FP)], tls(None));
        check(
            &[("v", "1"), ("tls", "1"), ("fp", FP), ("online", "12")],
            tls(Some(12)),
        );
        check(
            &[("fp", FP), ("online", "0"), ("tls", "1"), ("v", "1")],
            tls(Some(0)),
        );
        check(&[("V", "1"), ("TLS", "1"), ("Fp", FP)], tls(None));
        check(
            &[("v", "1"), ("tls", "1"), ("fp", FP), ("colour", "blue")],
            tls(None),
        );
        check(
            &[("v", "1"), ("tls", "1"), ("fp", FP), ("v", "7")],
            tls(None),
        );
        check(
            &[("v", "2"), ("tls", "0")],
            Ok(Announcement {
                version: 2,
                tls: false,
                fingerprint: None,
                online: None,
            }),
        );
    }

    #[test]
    fn records_that_are_not() {
        check(&[], Err(TxtError::Missing("v")));
        check(&[("tls", "1"), ("fp", FP)], Err(TxtError::Missing("v")));
        check(&[("v", "1")], Err(TxtError::Missing("tls")));
        check(&[("v", ""), ("tls", "0")], Err(bad("v", "")));
        check(&[("v", "-1"), ("tls", "0")], Err(bad("v", "-1")));
        check(&[("v", " 1"), ("tls", "0")], Err(bad("v", " 1")));
        check(
            &[("v", "1234567890"), ("tls", "0")],
            Err(bad("v", "1234567890")),
        );
        check(&[("v", "1"), ("tls", "yes")], Err(bad("tls", "yes")));
        check(
            &[("v", "1"), ("tls", "1")],
            Err(TxtError::TlsWithoutFingerprint),
        );
        check(
            &[("v", "1"), ("tls", "0"), ("fp", FP)],
            Err(TxtError::FingerprintWithoutTls),
        );
        check(
            &[("v", "1"), ("tls", "1"), ("fp", "MD5:abc")],
            Err(bad("fp", "MD5:abc")),
        );
        check(
            &[("v", "1"), ("tls", "1"), ("fp", "SHA256:short")],
            Err(bad("fp", "SHA256:short")),
        );
        check(
            &[("v", "1"), ("tls", "1"), ("fp", FP), ("online", "many")],
            Err(bad("online", "many")),
        );
    }

    #[test]
    fn errors_read_well() {
        assert_eq!(
            TxtError::Missing("v").to_string(),
            "the announcement has no v="
        );
        assert_eq!(
            bad("tls", "yes").to_string(),
            "the announcement's tls=\"yes\" is not valid"
        );
    }
}
