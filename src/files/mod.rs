//! Files sent between peers: the rules as plain types (the offers a peer
//! holds, safe names, what a kept `.part` is worth, progress by quarters),
//! the transfer of one file's bytes between two streams with a fixed
//! buffer, and the free space of a disk. It opens no socket and knows no
//! lobby: the peer connects, authenticates and decides.

pub mod disk;
pub mod names;
pub mod offers;
pub mod partial;
pub mod transfer;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use offers::{
    Answer, Incoming, IncomingOffers, OfferLimits, OfferRefused, Outgoing, OutgoingOffers,
};
pub use transfer::{PartFile, TransferError};

/// The largest file a peer accepts unless told otherwise (`--max-file-size`).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 4 << 30;

/// How many transfers, both ways, run at once by default.
pub const DEFAULT_MAX_TRANSFERS: usize = 4;

/// The transfers running at once, bounded: a slot is held while a
/// transfer runs and given back when its guard is dropped.
#[derive(Debug, Clone)]
pub struct Slots {
    max: usize,
    taken: Arc<AtomicUsize>,
}

/// One transfer's slot, given back on drop.
#[derive(Debug)]
pub struct Slot(Arc<AtomicUsize>);

impl Slots {
    pub fn new(max: usize) -> Slots {
        Slots {
            max,
            taken: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A slot, if fewer than the most transfers run.
    pub fn take(&self) -> Option<Slot> {
        let max = self.max;
        self.taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(&self.taken)))
    }

    pub fn running(&self) -> usize {
        self.taken.load(Ordering::Acquire)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    #[test]
    fn slots_are_bounded_and_given_back() {
        let slots = Slots::new(2);
        let a = slots.take().unwrap();
        let _b = slots.take().unwrap();
        assert!(slots.take().is_none());
        drop(a);
        assert_eq!(slots.running(), 1);
        assert!(slots.take().is_some());
    }
}
