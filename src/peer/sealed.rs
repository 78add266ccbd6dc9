//! Private messages sealed to their recipient (`crypto::seal`, HPKE in
//! Auth mode): the text a `/msg` seals before it goes to the leader, and
//! what a sealed message that arrives says once opened. The leader relays
//! it without being able to read it or forge one; the binding (lobby id,
//! sender, recipient) keeps it from being passed off in another lobby or
//! as from someone else.
//!
//! Plain functions: no I/O, and the keys come from the caller.

use std::collections::{HashSet, VecDeque};

use crate::crypto::PeerKey;
use crate::crypto::seal::{self, Binding, SealSecret, Sealed};
use crate::lobby::Roster;
use crate::wire::ParseError;

use super::render::{LobbyEvent, Seal};

/// `text` sealed by `me` to `to`'s seat key, if the roster has a seat for
/// `to`: its name as the lobby spells it, and the sealed text. `Ok(None)`
/// if it cannot be sealed and may go as it is (this peer has no keys, or
/// `to` has no seat and no key the registry vouched for: a member with no
/// key, in the lab). `Err` says why it is not sent: it does not fit, or the
/// seat's key is not the one the registry vouched for `to` (`vouched`,
/// remembered by the keyring): the seats come from the leader, who could
/// name a key of its own to read what is sealed to it.
pub(super) fn seal_for(
    secret: Option<&SealSecret>,
    roster: &Roster,
    vouched: Option<PeerKey>,
    me: &str,
    to: &str,
    text: &str,
) -> Result<Option<(String, Sealed)>, String> {
    let Some(secret) = secret else {
        return Ok(None);
    };
    let seat = roster.seat(to).filter(|_| !roster.lobby.is_empty());
    let seat = match (seat, vouched) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(format!(
                "the registry vouched for a key of {to}, but the leader gave none for {to} in \
                 this lobby, so it could not be sealed and the leader could read it"
            ));
        }
        (Some(seat), Some(vouched)) if seat.key != vouched => {
            return Err(format!(
                "the leader gave {to} the key {}, but the registry vouched for {}: the leader \
                 may be trying to read private messages. Compare '/verify {to}' by voice",
                seat.key.identity.fingerprint(),
                vouched.identity.fingerprint()
            ));
        }
        (Some(seat), _) => seat,
    };
    let sealed = crate::lobby::seal_to(secret, &seat.key.seal, &roster.lobby, me, &seat.name, text);
    sealed
        .map(|sealed| Some((seat.name.clone(), sealed)))
        .map_err(|err: ParseError| err.text)
}

/// The key a sealed message from `from` is checked against: the one the
/// registry vouched for, where this peer knows one, else the seat's (the
/// leader's word).
pub(super) fn sender_key(seat: Option<PeerKey>, vouched: Option<PeerKey>) -> Option<PeerKey> {
    vouched.or(seat)
}

/// What a sealed message from `from` to `me` in `lobby` says, checked
/// against the sender's seat key: its text, verified, or why it did not
/// open (no seat for the sender, or not sealed by it for us).
pub(super) fn opened(
    secret: Option<&SealSecret>,
    lobby: &str,
    sender: Option<&PeerKey>,
    from: String,
    me: &str,
    sealed: &Sealed,
) -> LobbyEvent {
    let Some(secret) = secret else {
        let why = "this peer has no key to open it with".to_string();
        return LobbyEvent::Unopened { from, why };
    };
    let Some(sender) = sender else {
        let why = format!("{from} has no key in this lobby to check it with");
        return LobbyEvent::Unopened { from, why };
    };
    let binding = Binding {
        lobby,
        sender: &from,
        recipient: me,
    };
    match seal::open(secret, &sender.seal, &binding, sealed) {
        Ok(text) => LobbyEvent::Private {
            from,
            text,
            seal: Seal::Verified,
        },
        Err(err) => LobbyEvent::Unopened {
            from,
            why: err.to_string(),
        },
    }
}

/// How many sealed messages a peer remembers having opened: enough for
/// any lobby's pace, and 4096 × 32 bytes (twice) at most in memory.
const MAX_REMEMBERED: usize = 4096;

/// The sealed messages this peer has opened lately, by their one-time key,
/// so that one a leader relays again (a replay) is not shown as new. A
/// plain type, bounded: the oldest is forgotten first.
#[derive(Default)]
pub(super) struct Replays {
    order: VecDeque<[u8; 32]>,
    seen: HashSet<[u8; 32]>,
}

impl Replays {
    /// `event`, the opened `sealed`, unless it opened before: then a line
    /// that says it came again, without its text.
    pub(super) fn once(&mut self, sealed: &Sealed, event: LobbyEvent) -> LobbyEvent {
        self.once_by_key(sealed.one_time_key(), event)
    }

    /// `once`, for the sealed message whose one-time key is `key`.
    fn once_by_key(&mut self, key: [u8; 32], event: LobbyEvent) -> LobbyEvent {
        let LobbyEvent::Private { from, .. } = &event else {
            return event;
        };
        if self.seen.contains(&key) {
            let why = "it was relayed again (a replay of one shown before)".to_string();
            return LobbyEvent::Unopened {
                from: from.clone(),
                why,
            };
        }
        if self.order.len() == MAX_REMEMBERED
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.order.push_back(key);
        self.seen.insert(key);
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Identity;
    use crate::lobby::Seat;

    #[test]
    fn a_seat_is_sealed_to_only_when_its_key_is_the_vouched_one_or_none_is_known() {
        let me = Identity::generate().unwrap();
        let carol = Identity::generate().unwrap().public();
        let leader = Identity::generate().unwrap().public();
        let roster_with = |key: Option<PeerKey>| {
            let mut roster = Roster::new("5f1c0e0c3b5e4d8f9a7b6c5d4e3f2a1b".into());
            if let Some(key) = key {
                roster.add(Seat {
                    name: "carol".into(),
                    addr: ([127, 0, 0, 1], 9).into(),
                    key,
                });
            }
            roster
        };
        #[track_caller]
        fn check(
            roster: &Roster,
            secret: Option<&SealSecret>,
            vouched: Option<PeerKey>,
            sealed: Result<bool, &str>,
        ) {
            let got = seal_for(secret, roster, vouched, "bob", "carol", "hi")
                .map(|sealed| sealed.is_some());
            match (got, sealed) {
                (Ok(got), Ok(expected)) => assert_eq!(got, expected),
                (Err(why), Err(part)) => assert!(why.contains(part), "{why}"),
                (got, expected) => panic!("{got:?}, not {expected:?}"),
            }
        }
        let secret = Some(me.seal_secret());
        // The seat's key, vouched for or not known: sealed.
        check(&roster_with(Some(carol)), secret, Some(carol), Ok(true));
        check(&roster_with(Some(carol)), secret, None, Ok(true));
        // The leader names another key than the vouched one: not sent.
        let fingerprint = leader.identity.fingerprint().to_string();
        check(
            &roster_with(Some(leader)),
            secret,
            Some(carol),
            Err(&fingerprint),
        );
        // The leader names none for a member the registry vouched for.
        check(&roster_with(None), secret, Some(carol), Err("gave none"));
        // No key anywhere (the lab), or none of ours: as it is.
        check(&roster_with(None), secret, None, Ok(false));
        check(&roster_with(Some(carol)), None, Some(leader), Ok(false));
        // A sealed message is checked against the vouched key first.
        assert_eq!(sender_key(Some(leader), Some(carol)), Some(carol));
        assert_eq!(sender_key(Some(leader), None), Some(leader));
    }

    #[test]
    fn a_sealed_message_shows_once_and_the_oldest_is_forgotten_first() {
        let me = Identity::generate().unwrap();
        let binding = Binding {
            lobby: "l",
            sender: "alice",
            recipient: "bob",
        };
        let seal = || seal::seal(me.seal_secret(), &me.public().seal, &binding, "hi").unwrap();
        let private = || LobbyEvent::Private {
            from: "alice".into(),
            text: "hi".into(),
            seal: super::super::render::Seal::Verified,
        };
        let shown = |event: &LobbyEvent| matches!(event, LobbyEvent::Private { .. });
        let mut replays = Replays::default();
        let first = seal();
        assert!(shown(&replays.once(&first, private())));
        assert!(!shown(&replays.once(&first, private())));
        // Bounded: after MAX_REMEMBERED others, the first is forgotten.
        // The others are told by their one-time keys alone, so that the
        // test does not seal thousands of messages.
        for i in 0..MAX_REMEMBERED {
            let mut other = [0xA5; 32];
            other[..8].copy_from_slice(&(i as u64).to_le_bytes());
            assert!(shown(&replays.once_by_key(other, private())));
        }
        assert_eq!(replays.seen.len(), MAX_REMEMBERED);
        assert!(shown(&replays.once(&first, private())));
    }
}
