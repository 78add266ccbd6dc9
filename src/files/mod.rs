//! Files sent between peers: the rules as plain types (the offers a peer
//! holds, safe names, what a kept `.part` is worth, progress by quarters),
//! the transfer of one file's bytes between two streams with a fixed
//! buffer, what stops a transfer, and the free space of a disk. It opens no socket and knows no
//! lobby: the peer connects, authenticates and decides.

pub mod disk;
pub mod names;
pub mod offers;
pub mod partial;
pub mod stop;
pub mod transfer;

use std::path::PathBuf;
use std::time::Duration;

pub use offers::{
    Answer, Incoming, IncomingOffers, OfferLimits, OfferRefused, Outgoing, OutgoingOffers,
};
pub use transfer::{PartFile, TransferError};

/// The largest file a peer accepts unless told otherwise (`--max-file-size`).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 << 30;

/// How many transfers, both ways, run at once by default.
pub const DEFAULT_MAX_TRANSFERS: usize = 4;

/// How many of those may be with one peer, both ways: one peer cannot
/// take every slot and keep the others waiting.
pub const DEFAULT_MAX_TRANSFERS_PER_PEER: usize = 2;

/// Where files go and what is accepted: `--download-dir`,
/// `--max-file-size`, `--offer-timeout`, and how many transfers run at
/// once, in all and with one peer.
#[derive(Debug, Clone)]
pub struct FileConfig {
    pub download_dir: PathBuf,
    pub max_file_size: u64,
    pub offer_timeout: Duration,
    pub max_transfers: usize,
    pub max_transfers_per_peer: usize,
}

impl Default for FileConfig {
    fn default() -> FileConfig {
        FileConfig {
            download_dir: default_download_dir(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            offer_timeout: offers::DEFAULT_OFFER_TIMEOUT,
            max_transfers: DEFAULT_MAX_TRANSFERS,
            max_transfers_per_peer: DEFAULT_MAX_TRANSFERS_PER_PEER,
        }
    }
}

/// The platform's download folder for p2pchat (`~/Downloads/p2pchat`), or
/// `p2pchat-downloads` in the working folder where there is none.
pub fn default_download_dir() -> PathBuf {
    dirs::download_dir().map_or_else(|| PathBuf::from("p2pchat-downloads"), |d| d.join("p2pchat"))
}
