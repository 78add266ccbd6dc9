//! The offers a peer holds, both ways, as plain types taking `now`: the
//! ones made to us (`Incoming`), bounded per sender and in all, and the
//! ones we made (`Outgoing`), bounded in all; every offer expires when
//! nobody has answered it in time. No I/O, no clock.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::crypto::PeerKey;
use crate::wire::{FileOffer, OfferId};

/// How many offers a peer keeps, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferLimits {
    /// Offers one sender may have waiting for our answer.
    pub per_sender: usize,
    /// Offers waiting for our answer in all, and offers of ours waiting.
    pub total: usize,
    /// How long an offer waits for its answer (or its fetch).
    pub ttl: Duration,
}

impl Default for OfferLimits {
    fn default() -> OfferLimits {
        OfferLimits {
            per_sender: 4,
            total: 32,
            ttl: DEFAULT_OFFER_TIMEOUT,
        }
    }
}

/// How long an offer waits for an answer by default.
pub const DEFAULT_OFFER_TIMEOUT: Duration = Duration::from_secs(120);

/// Why an offer is not kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferRefused {
    #[error("{0} already has {1} offers waiting")]
    TooManyFrom(String, usize),
    #[error("{0} offers are waiting already")]
    TooMany(usize),
    #[error("an offer with that id is waiting already")]
    Duplicate,
}

/// An offer made to us, waiting for our answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub from: String,
    pub offer: FileOffer,
    pub expires: Instant,
}

/// The offers made to us, oldest first.
#[derive(Debug)]
pub struct IncomingOffers {
    limits: OfferLimits,
    held: Vec<Incoming>,
}

impl IncomingOffers {
    pub fn new(limits: OfferLimits) -> IncomingOffers {
        IncomingOffers {
            limits,
            held: Vec::new(),
        }
    }

    /// Keeps `offer` from `from` until `now` + the offer timeout.
    pub fn add(&mut self, from: &str, offer: FileOffer, now: Instant) -> Result<(), OfferRefused> {
        if self.held.iter().any(|held| held.offer.id == offer.id) {
            return Err(OfferRefused::Duplicate);
        }
        let theirs = self.held.iter().filter(|held| held.from == from).count();
        if theirs >= self.limits.per_sender {
            return Err(OfferRefused::TooManyFrom(from.to_string(), theirs));
        }
        if self.held.len() >= self.limits.total {
            return Err(OfferRefused::TooMany(self.held.len()));
        }
        self.held.push(Incoming {
            from: from.to_string(),
            offer,
            expires: now + self.limits.ttl,
        });
        Ok(())
    }

    /// The offer `id`, or the newest one if `id` is none, taken to be
    /// answered.
    pub fn take(&mut self, id: Option<OfferId>) -> Option<Incoming> {
        let at = match id {
            Some(id) => self.held.iter().position(|held| held.offer.id == id)?,
            None => self.held.len().checked_sub(1)?,
        };
        Some(self.held.remove(at))
    }

    /// Forgets every offer made to us; how many there were.
    pub fn clear(&mut self) -> usize {
        std::mem::take(&mut self.held).len()
    }

    /// The offer `id` withdrawn by its sender; another's word does not
    /// withdraw it.
    pub fn withdraw(&mut self, from: &str, id: OfferId) -> Option<Incoming> {
        let at = self
            .held
            .iter()
            .position(|held| held.offer.id == id && held.from == from)?;
        Some(self.held.remove(at))
    }

    /// Every offer `from` made, withdrawn: it left the lobby.
    pub fn withdraw_all(&mut self, from: &str) -> Vec<Incoming> {
        let (gone, kept) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|held| held.from == from);
        self.held = kept;
        gone
    }

    /// The offers whose time has passed, forgotten.
    pub fn expire(&mut self, now: Instant) -> Vec<Incoming> {
        let (gone, kept) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|held| held.expires <= now);
        self.held = kept;
        gone
    }

    pub fn iter(&self) -> impl Iterator<Item = &Incoming> {
        self.held.iter()
    }
}

/// What became of one recipient of an offer of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Waiting,
    Accepted,
    Declined,
}

/// An offer we made: the file it reads, and each recipient's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub path: PathBuf,
    pub offer: FileOffer,
    pub to: BTreeMap<String, Answer>,
    /// Each recipient's key, as its seat names it: the key a fetch must
    /// prove (none in plain text).
    pub keys: BTreeMap<String, Option<PeerKey>>,
    pub expires: Instant,
}

/// The offers we made.
#[derive(Debug)]
pub struct OutgoingOffers {
    limits: OfferLimits,
    held: BTreeMap<OfferId, Outgoing>,
}

impl OutgoingOffers {
    pub fn new(limits: OfferLimits) -> OutgoingOffers {
        OutgoingOffers {
            limits,
            held: BTreeMap::new(),
        }
    }

    pub fn add(
        &mut self,
        path: PathBuf,
        offer: FileOffer,
        to: &[(String, Option<PeerKey>)],
        now: Instant,
    ) -> Result<(), OfferRefused> {
        if self.held.contains_key(&offer.id) {
            return Err(OfferRefused::Duplicate);
        }
        if self.held.len() >= self.limits.total {
            return Err(OfferRefused::TooMany(self.held.len()));
        }
        let keys = to.iter().cloned().collect();
        let to = to
            .iter()
            .map(|(name, _)| (name.clone(), Answer::Waiting))
            .collect();
        let expires = now + self.limits.ttl;
        self.held.insert(
            offer.id,
            Outgoing {
                path,
                offer,
                to,
                keys,
                expires,
            },
        );
        Ok(())
    }

    /// `who` is one more recipient of offer `id`, whose fetch must prove
    /// `key` (none in plain text); false if there is no such offer.
    pub fn add_recipient(&mut self, id: OfferId, who: &str, key: Option<PeerKey>) -> bool {
        let Some(offer) = self.held.get_mut(&id) else {
            return false;
        };
        offer.to.insert(who.to_string(), Answer::Waiting);
        offer.keys.insert(who.to_string(), key);
        true
    }

    /// `who` answered offer `id`; false if it is no recipient of it.
    pub fn answered(&mut self, id: OfferId, who: &str, answer: Answer) -> bool {
        let Some(offer) = self.held.get_mut(&id) else {
            return false;
        };
        match offer.to.get_mut(who) {
            Some(slot) => {
                *slot = answer;
                true
            }
            None => false,
        }
    }

    /// The offer `who` may fetch: one of ours, not expired, made to `who`,
    /// which `who` has not declined. A fetch is an acceptance itself: it
    /// may come before the `ACCEPT` the lobby relays.
    pub fn fetchable(&self, id: OfferId, who: &str, now: Instant) -> Option<&Outgoing> {
        self.held.get(&id).filter(|offer| {
            offer.expires > now
                && matches!(offer.to.get(who), Some(Answer::Accepted | Answer::Waiting))
        })
    }

    /// Whether every recipient has declined, so nobody will fetch it.
    pub fn all_declined(&self, id: OfferId) -> bool {
        self.held
            .get(&id)
            .is_some_and(|offer| offer.to.values().all(|a| *a == Answer::Declined))
    }

    /// Forgets every offer we made; how many there were.
    pub fn clear(&mut self) -> usize {
        std::mem::take(&mut self.held).len()
    }

    /// `who` is no recipient any more (it left the lobby): it can fetch
    /// none of our offers. Returns the offers it was a recipient of; those
    /// left with no recipient are forgotten.
    pub fn drop_recipient(&mut self, who: &str) -> Vec<FileOffer> {
        let mut dropped = Vec::new();
        for offer in self.held.values_mut() {
            if offer.to.remove(who).is_some() {
                offer.keys.remove(who);
                dropped.push(offer.offer.clone());
            }
        }
        self.held.retain(|_, offer| !offer.to.is_empty());
        dropped
    }

    pub fn remove(&mut self, id: OfferId) -> Option<Outgoing> {
        self.held.remove(&id)
    }

    /// The offers whose time has passed, forgotten. A transfer already
    /// running goes on: it holds what it needs.
    pub fn expire(&mut self, now: Instant) -> Vec<Outgoing> {
        let gone: Vec<OfferId> = self
            .held
            .iter()
            .filter(|(_, offer)| offer.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        gone.iter().filter_map(|id| self.held.remove(id)).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Outgoing> {
        self.held.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Checksum;

    fn offer(id: u64) -> FileOffer {
        FileOffer {
            id: OfferId(id),
            size: 1,
            sum: Checksum([0; 32]),
            name: format!("f{id}"),
        }
    }

    fn limits() -> OfferLimits {
        OfferLimits {
            per_sender: 2,
            total: 3,
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn offers_to_us_are_bounded_per_sender_and_in_all() {
        let t0 = Instant::now();
        let mut offers = IncomingOffers::new(limits());
        assert_eq!(offers.add("bob", offer(1), t0), Ok(()));
        assert_eq!(
            offers.add("bob", offer(1), t0),
            Err(OfferRefused::Duplicate)
        );
        assert_eq!(offers.add("bob", offer(2), t0), Ok(()));
        assert_eq!(
            offers.add("bob", offer(3), t0),
            Err(OfferRefused::TooManyFrom("bob".into(), 2))
        );
        assert_eq!(offers.add("carol", offer(4), t0), Ok(()));
        assert_eq!(
            offers.add("dave", offer(5), t0),
            Err(OfferRefused::TooMany(3))
        );
        // Taking one frees its place; no id means the newest.
        assert_eq!(offers.take(None).map(|o| o.offer.id), Some(OfferId(4)));
        assert_eq!(offers.add("dave", offer(5), t0), Ok(()));
        assert_eq!(offers.take(Some(OfferId(9))), None);
        assert_eq!(
            offers.take(Some(OfferId(1))).map(|o| o.from),
            Some("bob".into())
        );
    }

    #[test]
    fn offers_to_us_expire_and_only_their_sender_withdraws_them() {
        let t0 = Instant::now();
        let mut offers = IncomingOffers::new(limits());
        offers.add("bob", offer(1), t0).unwrap();
        offers
            .add("carol", offer(2), t0 + Duration::from_secs(30))
            .unwrap();
        assert_eq!(offers.withdraw("carol", OfferId(1)), None);
        assert!(offers.expire(t0 + Duration::from_secs(59)).is_empty());
        let gone = offers.expire(t0 + Duration::from_secs(60));
        assert_eq!(
            gone.iter().map(|o| o.offer.id).collect::<Vec<_>>(),
            [OfferId(1)]
        );
        assert_eq!(
            offers.withdraw("carol", OfferId(2)).map(|o| o.offer.id),
            Some(OfferId(2))
        );
        assert_eq!(offers.iter().count(), 0);
    }

    #[test]
    fn our_offers_are_fetched_only_by_who_accepted_in_time() {
        let t0 = Instant::now();
        let mut offers = OutgoingOffers::new(limits());
        let to = [("bob".to_string(), None), ("carol".to_string(), None)];
        offers.add("a".into(), offer(1), &to, t0).unwrap();
        assert_eq!(
            offers.add("a".into(), offer(1), &to, t0),
            Err(OfferRefused::Duplicate)
        );
        assert!(offers.fetchable(OfferId(1), "bob", t0).is_some());
        assert!(offers.fetchable(OfferId(1), "dave", t0).is_none());
        assert!(offers.answered(OfferId(1), "carol", Answer::Declined));
        assert!(offers.answered(OfferId(1), "bob", Answer::Accepted));
        assert!(!offers.answered(OfferId(1), "dave", Answer::Accepted));
        assert!(!offers.answered(OfferId(2), "bob", Answer::Accepted));
        assert!(offers.fetchable(OfferId(1), "bob", t0).is_some());
        assert!(offers.fetchable(OfferId(1), "carol", t0).is_none());
        assert!(
            offers
                .fetchable(OfferId(1), "bob", t0 + Duration::from_secs(60))
                .is_none()
        );
        assert!(!offers.all_declined(OfferId(1)));
        offers.answered(OfferId(1), "bob", Answer::Declined);
        offers.answered(OfferId(1), "carol", Answer::Declined);
        assert!(offers.all_declined(OfferId(1)));
        offers.add("b".into(), offer(2), &to, t0).unwrap();
        offers.add("c".into(), offer(3), &to, t0).unwrap();
        assert_eq!(
            offers.add("d".into(), offer(4), &to, t0),
            Err(OfferRefused::TooMany(3))
        );
        assert_eq!(offers.expire(t0 + Duration::from_secs(60)).len(), 3);
    }

    #[test]
    fn a_member_who_left_loses_its_offers_both_ways_and_only_its_own() {
        let t0 = Instant::now();
        let mut theirs = IncomingOffers::new(limits());
        theirs.add("bob", offer(1), t0).unwrap();
        theirs.add("carol", offer(2), t0).unwrap();
        theirs.add("bob", offer(3), t0).unwrap();
        let gone: Vec<OfferId> = theirs
            .withdraw_all("bob")
            .iter()
            .map(|o| o.offer.id)
            .collect();
        assert_eq!(gone, [OfferId(1), OfferId(3)]);
        assert_eq!(
            theirs.iter().map(|o| o.from.as_str()).collect::<Vec<_>>(),
            ["carol"]
        );

        let mut ours = OutgoingOffers::new(limits());
        let both = [("bob".to_string(), None), ("carol".to_string(), None)];
        ours.add("a".into(), offer(1), &both, t0).unwrap();
        ours.add("b".into(), offer(2), &both[..1], t0).unwrap();
        let dropped: Vec<OfferId> = ours.drop_recipient("bob").iter().map(|o| o.id).collect();
        assert_eq!(dropped, [OfferId(1), OfferId(2)]);
        // Bob can fetch neither; carol still may fetch hers; the offer to
        // bob alone is gone.
        assert!(ours.fetchable(OfferId(1), "bob", t0).is_none());
        assert!(ours.fetchable(OfferId(1), "carol", t0).is_some());
        assert_eq!(ours.iter().count(), 1);
        assert!(ours.drop_recipient("bob").is_empty());
    }
}
