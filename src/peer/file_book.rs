//! What the core knows of files: the offers made to us and by us (the
//! rules of `crate::files::offers`), the seats the lobby named with its
//! `FILE` lines, the transfers running as the driver reported them, and
//! the file commands typed in a lobby. A plain type: the time comes with
//! each input, and the driver does every read, write and connection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::files::{FileConfig, IncomingOffers, OfferLimits, OutgoingOffers};
use crate::lobby::Seat;
use crate::wire::OfferId;

use super::msg::{TransferId, Way};

/// A transfer running, as `/files` shows it and `/cancel` stops it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Moving {
    pub(super) transfer: TransferId,
    pub(super) name: String,
    pub(super) size: u64,
    /// The last quarter reported, in per cent.
    pub(super) pct: u8,
    /// The `.part` a receipt writes: no other transfer may use it.
    pub(super) part: Option<PathBuf>,
}

impl Moving {
    /// The transfer in words: `Receiving <name> from <peer>`.
    pub(super) fn what(&self) -> String {
        let (name, peer) = (&self.name, &self.transfer.peer);
        match self.transfer.way {
            Way::Receiving => format!("Receiving {name} from {peer}"),
            Way::Sending => format!("Sending {name} to {peer}"),
        }
    }
}

/// Which limit of transfers at once is reached, and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Full {
    InAll(usize),
    WithPeer(usize),
}

/// The core's files.
#[derive(Debug)]
pub(super) struct FileBook {
    pub(super) config: FileConfig,
    pub(super) incoming: IncomingOffers,
    pub(super) outgoing: OutgoingOffers,
    /// The seats of the members whose `FILE` lines a hub we lead relayed:
    /// where their files are fetched, and the key they prove.
    pub(super) seats: HashMap<String, Seat>,
    pub(super) moving: Vec<Moving>,
}

impl FileBook {
    pub(super) fn new(config: FileConfig) -> FileBook {
        let limits = OfferLimits {
            ttl: config.offer_timeout,
            ..OfferLimits::default()
        };
        FileBook {
            incoming: IncomingOffers::new(limits),
            outgoing: OutgoingOffers::new(limits),
            seats: HashMap::new(),
            moving: Vec::new(),
            config,
        }
    }

    /// When the next offer, either way, expires: the driver wakes the core
    /// then (`Incoming::OffersDue`).
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        let theirs = self.incoming.iter().map(|offer| offer.expires);
        let ours = self.outgoing.iter().map(|offer| offer.expires);
        theirs.chain(ours).min()
    }

    /// Forgets the offers both ways and the seats a lobby named, as we
    /// leave it; how many offers there were. Transfers running go on.
    pub(super) fn forget_offers(&mut self) -> usize {
        self.seats.clear();
        self.incoming.clear() + self.outgoing.clear()
    }

    /// Why another transfer with `peer` may not start now, if it may not:
    /// as many run as may at once, in all or with `peer`, both ways.
    pub(super) fn full_for(&self, peer: &str) -> Option<Full> {
        let theirs = self.moving.iter().filter(|m| m.transfer.peer == peer);
        if self.moving.len() >= self.config.max_transfers {
            Some(Full::InAll(self.config.max_transfers))
        } else if theirs.count() >= self.config.max_transfers_per_peer {
            Some(Full::WithPeer(self.config.max_transfers_per_peer))
        } else {
            None
        }
    }

    pub(super) fn begin(&mut self, transfer: TransferId, name: &str, size: u64) {
        self.moving.push(Moving {
            transfer,
            name: name.to_string(),
            size,
            pct: 0,
            part: None,
        });
    }

    /// Whether a transfer running writes the `.part` at `part`.
    pub(super) fn part_in_use(&self, part: &Path) -> bool {
        self.moving.iter().any(|m| m.part.as_deref() == Some(part))
    }

    pub(super) fn find(&mut self, transfer: &TransferId) -> Option<&mut Moving> {
        self.moving.iter_mut().find(|m| m.transfer == *transfer)
    }

    pub(super) fn end(&mut self, transfer: &TransferId) -> Option<Moving> {
        let at = self.moving.iter().position(|m| m.transfer == *transfer)?;
        Some(self.moving.remove(at))
    }

    /// The transfers of offer `id` (with `peer`, if named).
    pub(super) fn moving_of(&self, id: Option<OfferId>, peer: Option<&str>) -> Vec<Moving> {
        let wanted = |m: &&Moving| {
            id.is_none_or(|id| id == m.transfer.id) && peer.is_none_or(|p| p == m.transfer.peer)
        };
        self.moving.iter().filter(wanted).cloned().collect()
    }
}

/// A file command typed in a lobby.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FileCommand<'a> {
    /// `/send <name> <path>`, or `/send all <path>` (`to` is none).
    Send {
        to: Option<&'a str>,
        path: &'a str,
    },
    Accept(Option<&'a str>),
    Decline(Option<&'a str>),
    Cancel(Option<&'a str>),
    List,
    Usage(&'static str),
}

impl<'a> FileCommand<'a> {
    /// The file command `line` is, if it is one.
    pub(super) fn parse(line: &'a str) -> Option<FileCommand<'a>> {
        let command = line.trim().strip_prefix('/')?;
        let (word, rest) = command.split_once(' ').unwrap_or((command, ""));
        let rest = rest.trim();
        let id = (!rest.is_empty()).then_some(rest);
        Some(match word.to_ascii_lowercase().as_str() {
            "send" => match rest.split_once(' ') {
                Some((to, path)) if !path.trim().is_empty() => FileCommand::Send {
                    to: (!to.eq_ignore_ascii_case("all")).then_some(to),
                    path: path.trim(),
                },
                _ => FileCommand::Usage("/send <name> <path> or /send all <path>"),
            },
            "accept" => FileCommand::Accept(id),
            "decline" => FileCommand::Decline(id),
            "cancel" => FileCommand::Cancel(id),
            "files" => FileCommand::List,
            _ => return None,
        })
    }
}

/// A byte count for people.
pub(super) fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {} ({bytes} bytes)", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::{FileCommand, size};

    #[track_caller]
    fn check(line: &str, expected: Option<FileCommand<'_>>) {
        assert_eq!(FileCommand::parse(line), expected, "{line:?}");
    }

    #[test]
    fn file_commands() {
        check(
            "/send bob ./report 1.pdf",
            Some(FileCommand::Send {
                to: Some("bob"),
                path: "./report 1.pdf",
            }),
        );
        check(
            "/send ALL x",
            Some(FileCommand::Send {
                to: None,
                path: "x",
            }),
        );
        check(
            "/send bob",
            Some(FileCommand::Usage(
                "/send <name> <path> or /send all <path>",
            )),
        );
        check("/accept", Some(FileCommand::Accept(None)));
        check(
            "/accept 0123456789abcdef",
            Some(FileCommand::Accept(Some("0123456789abcdef"))),
        );
        check("/decline", Some(FileCommand::Decline(None)));
        check("/cancel", Some(FileCommand::Cancel(None)));
        check("/files", Some(FileCommand::List));
        check("/msg bob hi", None);
        check("hello", None);
        check("//send bob x", None);
    }

    #[test]
    fn sizes_for_people() {
        assert_eq!(size(0), "0 bytes");
        assert_eq!(size(1023), "1023 bytes");
        assert_eq!(size(1536), "1.5 KiB (1536 bytes)");
        assert_eq!(size(10 << 20), "10.0 MiB (10485760 bytes)");
    }
}
