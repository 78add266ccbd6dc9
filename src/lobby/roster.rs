//! Who a lobby's members are, for its succession: each member's seat (name,
//! chat address, public key) in admission order, the lobby's id, and the
//! rules built on them: whose claim to come back holds, and which peer
//! leads when the leader is lost.
//!
//! A plain type: no I/O, no clock. Randomness comes in through `lobby_id`,
//! the one function here that asks the system for it. A roster holds only
//! public keys, so a successor can check a returning member's proof without
//! being able to pass for it, and nothing in it is worth stealing.

use core::net::SocketAddr;
use std::collections::HashMap;
use std::fmt::Write;

use crate::crypto::proof::{self, Nonce, Proof, Role, Transcript};
use crate::crypto::{IdentityKey, PeerKey, SigningKey};
use crate::wire::{ErrorCode, Rejoin, TOKEN_LEN};

/// One member as every member knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub name: String,
    /// Where the member listens for chat connections: where the others go
    /// if it is to lead.
    pub addr: SocketAddr,
    /// The member's public keys: what it proves to lead or to come back,
    /// and what private messages to it are sealed to.
    pub key: PeerKey,
}

/// A fresh random lobby id, 16 bytes in hex.
pub fn lobby_id() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; TOKEN_LEN / 2];
    getrandom::fill(&mut bytes)?;
    let mut text = String::with_capacity(TOKEN_LEN);
    for byte in bytes {
        write!(text, "{byte:02x}").expect("writing to a String cannot fail");
    }
    Ok(text)
}

/// The two nonces of one plain-text exchange (`PROVE`, `PROOF`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nonces {
    pub member: Nonce,
    pub leader: Nonce,
}

/// What the peer at a seat answers `PROVE` with: its signature, as the
/// leader, over the lobby, its own name and both nonces. It cannot know the
/// member's name yet (the member says nothing before this proof), so the
/// transcript names none; the member's own proof names both.
pub fn prove_seat(key: &SigningKey, lobby: &str, leader: &str, nonces: Nonces) -> Proof {
    proof::prove(key, Role::Leader, &transcript(lobby, leader, "", nonces))
}

/// Whether `sig` proves that the peer that answered `PROVE` as `leader`
/// holds `seat_key`.
pub fn seat_proven(
    seat_key: &IdentityKey,
    lobby: &str,
    leader: &str,
    nonces: Nonces,
    sig: &Proof,
) -> bool {
    let transcript = transcript(lobby, leader, "", nonces);
    proof::verify(seat_key, Role::Leader, &transcript, sig).is_ok()
}

/// The member's signature for its `REJOIN`, as `member`, once the seat
/// proved its key.
pub fn prove_claim(
    key: &SigningKey,
    lobby: &str,
    leader: &str,
    member: &str,
    nonces: Nonces,
) -> Proof {
    proof::prove(
        key,
        Role::Member,
        &transcript(lobby, leader, member, nonces),
    )
}

fn transcript<'a>(
    lobby: &'a str,
    leader: &'a str,
    member: &'a str,
    nonces: Nonces,
) -> Transcript<'a> {
    Transcript {
        lobby,
        leader,
        member,
        member_nonce: nonces.member,
        leader_nonce: nonces.leader,
    }
}

/// How the peer on a `REJOIN`'s connection proved its key, before or with
/// its claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proven {
    /// The TLS handshake did: the client certificate's key.
    Connection(IdentityKey),
    /// A plain-text exchange did (`crypto::proof`): it sent `PROVE` with
    /// its nonce, we answered as `leader` with ours, and the claim carries
    /// its signature over both.
    Exchange { leader: String, nonces: Nonces },
    /// Nothing: a claim on a plain connection that began with `REJOIN`.
    Nothing,
}

impl Proven {
    /// Whether the claimant proved `key`, for `claim`, in `lobby`.
    fn proves(&self, key: &IdentityKey, lobby: &str, claim: &Rejoin) -> bool {
        match self {
            Proven::Connection(shown) => shown == key,
            Proven::Exchange { leader, nonces } => {
                let Some(sig) = &claim.sig else {
                    return false;
                };
                let transcript = transcript(lobby, leader, &claim.name, *nonces);
                proof::verify(key, Role::Member, &transcript, sig).is_ok()
            }
            Proven::Nothing => false,
        }
    }
}

/// Why a `REJOIN` is refused: the `ERR` it is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: ErrorCode,
    pub text: String,
}

/// Where a member goes when its leader is lost, in the order it tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidate {
    /// A peer that may lead: the leader itself (only our connection may have
    /// broken), then each member in admission order.
    Peer(Seat),
    /// Every peer before us was unreachable or could not prove its seat: we
    /// lead.
    Me,
}

/// A lobby's id and its seats, the leader's first, then in admission order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    pub lobby: String,
    seats: Vec<Seat>,
    /// Where each seat is in `seats`, by its name in lower case: a leader
    /// that floods a member with `SEAT` lines makes it look a name up for
    /// each, and a look-up costs the same however many seats there are.
    at: HashMap<String, usize>,
}

impl Roster {
    pub fn new(lobby: String) -> Roster {
        Roster {
            lobby,
            seats: Vec::new(),
            at: HashMap::new(),
        }
    }

    /// A roster of `seats`, in this order; a later seat of a name replaces
    /// an earlier one.
    pub fn with_seats(lobby: String, seats: impl IntoIterator<Item = Seat>) -> Roster {
        let mut roster = Roster::new(lobby);
        for seat in seats {
            roster.add(seat);
        }
        roster
    }

    /// The seats, the leader's first, then in admission order.
    pub fn seats(&self) -> &[Seat] {
        &self.seats
    }

    /// Forgets every seat, keeping the lobby's id.
    pub fn clear(&mut self) {
        self.seats.clear();
        self.at.clear();
    }

    pub fn seat(&self, name: &str) -> Option<&Seat> {
        let at = *self.at.get(&name.to_ascii_lowercase())?;
        self.seats.get(at)
    }

    /// Adds a seat at the end; a seat of the same name goes first, since a
    /// member who comes back counts as admitted last.
    pub fn add(&mut self, seat: Seat) {
        let key = seat.name.to_ascii_lowercase();
        match self.at.get(&key) {
            // Already the last: it stays where it is, new as it is.
            Some(&at) if at + 1 == self.seats.len() => self.seats[at] = seat,
            _ => {
                self.remove(&seat.name);
                self.at.insert(key, self.seats.len());
                self.seats.push(seat);
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Seat> {
        let at = self.at.remove(&name.to_ascii_lowercase())?;
        let seat = self.seats.remove(at);
        self.index_from(at);
        Some(seat)
    }

    /// Puts the seats from `from` on where they are now.
    fn index_from(&mut self, from: usize) {
        for (at, seat) in self.seats.iter().enumerate().skip(from) {
            self.at.insert(seat.name.to_ascii_lowercase(), at);
        }
    }

    /// Puts `name`'s seat first, as the leader's: after a handover or a
    /// migration every member does the same, so the rosters stay alike.
    pub fn lead(&mut self, name: &str) {
        if let Some(seat) = self.remove(name) {
            self.seats.insert(0, seat);
            self.index_from(0);
        }
    }

    /// The seat a `REJOIN` claims, if its lobby id holds and the claimant
    /// proved that seat's key. A name alone, right or wrong, proves nothing.
    pub fn check(&self, claim: &Rejoin, proven: &Proven) -> Result<&Seat, Refused> {
        let refused = || Refused {
            code: ErrorCode::BadCredentials,
            text: "not a member of this lobby".to_string(),
        };
        if self.lobby.is_empty() || claim.lobby != self.lobby {
            return Err(refused());
        }
        let seat = self.seat(&claim.name).ok_or_else(refused)?;
        if !proven.proves(&seat.key.identity, &self.lobby, claim) {
            return Err(refused());
        }
        Ok(seat)
    }

    /// The member admitted earliest after the leader: the default for a
    /// handover.
    pub fn successor(&self) -> Option<&Seat> {
        self.seats.get(1)
    }

    /// Where `me` goes when the connection to the leader breaks: the leader
    /// first, then every member in admission order, up to `me`, who then
    /// leads. Everyone walks the same list, so everyone meets at the first
    /// peer still there that proves its seat's key, without talking. A seat
    /// whose peer is gone, or is a stranger that cannot prove the key, is
    /// passed over at once, so a squatter on the lost leader's port costs
    /// the walk one connection, never a restart.
    pub fn candidates(&self, me: &str) -> Vec<Candidate> {
        let mut walk = Vec::new();
        for seat in &self.seats {
            if seat.name.eq_ignore_ascii_case(me) {
                walk.push(Candidate::Me);
                return walk;
            }
            walk.push(Candidate::Peer(seat.clone()));
        }
        walk
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{SealKey, SigningKey};

    fn key_of(signing: &SigningKey) -> PeerKey {
        PeerKey {
            identity: signing.public(),
            seal: SealKey::from_bytes([1; 32]),
        }
    }

    fn seat(name: &str, key: PeerKey) -> Seat {
        Seat {
            name: name.into(),
            addr: "127.0.0.1:4000".parse().unwrap(),
            key,
        }
    }

    fn roster(names: &[&str]) -> Roster {
        let key = key_of(&SigningKey::generate().unwrap());
        let mut roster = Roster::new("1".repeat(32));
        for name in names {
            roster.add(seat(name, key));
        }
        roster
    }

    fn names(walk: &[Candidate]) -> Vec<String> {
        walk.iter()
            .map(|c| match c {
                Candidate::Peer(seat) => seat.name.clone(),
                Candidate::Me => "ME".to_string(),
            })
            .collect()
    }

    #[track_caller]
    fn check_walk(seats: &[&str], me: &str, expected: &[&str]) {
        assert_eq!(names(&roster(seats).candidates(me)), expected);
    }

    #[test]
    fn everyone_walks_to_the_earliest_member_still_there() {
        check_walk(&["alice", "bob", "carol"], "bob", &["alice", "ME"]);
        check_walk(&["alice", "bob", "carol"], "carol", &["alice", "bob", "ME"]);
        check_walk(&["alice", "bob", "carol"], "Carol", &["alice", "bob", "ME"]);
        check_walk(
            &["alice", "bob", "carol"],
            "dave",
            &["alice", "bob", "carol"],
        );
        check_walk(&[], "dave", &[]);
    }

    #[test]
    fn seats_follow_admissions_departures_and_leaders() {
        let mut r = roster(&["alice", "bob", "carol"]);
        assert_eq!(r.successor().unwrap().name, "bob");
        r.add(r.seat("bob").unwrap().clone());
        assert_eq!(names(&r.candidates("x")), ["alice", "carol", "bob"]);
        r.remove("alice");
        r.lead("bob");
        assert_eq!(names(&r.candidates("x")), ["bob", "carol"]);
        assert_eq!(r.successor().unwrap().name, "carol");
        r.lead("nobody");
        assert_eq!(names(&r.candidates("x")), ["bob", "carol"]);
    }

    /// Every name finds its own seat, in any case, after any change; a
    /// name with none finds none.
    #[track_caller]
    fn check_lookups(r: &Roster, gone: &[&str]) {
        for seat in r.seats() {
            assert_eq!(r.seat(&seat.name.to_uppercase()), Some(seat));
        }
        for name in gone {
            assert_eq!(r.seat(name), None, "{name}");
        }
    }

    #[test]
    fn a_seat_is_found_by_name_whatever_moved() {
        let mut r = roster(&["alice", "bob", "carol", "dave"]);
        check_lookups(&r, &["eve"]);
        r.add(r.seat("BOB").unwrap().clone());
        check_lookups(&r, &[]);
        // The last seat again stays the last.
        r.add(r.seat("bob").unwrap().clone());
        assert_eq!(names(&r.candidates("x")), ["alice", "carol", "dave", "bob"]);
        assert_eq!(r.remove("Carol").unwrap().name, "carol");
        check_lookups(&r, &["carol"]);
        r.lead("dave");
        assert_eq!(names(&r.candidates("x")), ["dave", "alice", "bob"]);
        check_lookups(&r, &["carol"]);
        r.clear();
        check_lookups(&r, &["alice", "bob", "dave"]);
        let again = Roster::with_seats(r.lobby.clone(), roster(&["a", "b", "a"]).seats().to_vec());
        assert_eq!(names(&again.candidates("x")), ["b", "a"]);
        check_lookups(&again, &["c"]);
    }

    /// The keys of a test lobby: bob's seat, alice's, and a stranger's.
    struct Keys {
        alice: SigningKey,
        bob: SigningKey,
        stranger: SigningKey,
    }

    const LEADER_NONCE: Nonce = Nonce::from_bytes([2; 32]);
    const MEMBER_NONCE: Nonce = Nonce::from_bytes([1; 32]);

    fn lobby_of(keys: &Keys) -> Roster {
        let mut r = Roster::new("1".repeat(32));
        r.add(seat("alice", key_of(&keys.alice)));
        r.add(seat("bob", key_of(&keys.bob)));
        r
    }

    fn exchange() -> Proven {
        Proven::Exchange {
            leader: "alice".into(),
            nonces: Nonces {
                member: MEMBER_NONCE,
                leader: LEADER_NONCE,
            },
        }
    }

    /// A claim to `name`'s seat in `lobby`, signed by `signer` over the
    /// exchange `signed` (as the member).
    fn claim(lobby: &str, name: &str, signer: Option<(&SigningKey, Nonce)>) -> Rejoin {
        let sig = signer.map(|(key, member)| {
            let nonces = Nonces {
                member,
                leader: LEADER_NONCE,
            };
            prove_claim(key, lobby, "alice", name, nonces)
        });
        Rejoin {
            lobby: lobby.into(),
            name: name.into(),
            seq: 0,
            sig,
        }
    }

    #[track_caller]
    fn check_claim(keys: &Keys, claim: Rejoin, proven: Proven, expected: Result<&str, ErrorCode>) {
        let r = lobby_of(keys);
        let got = r.check(&claim, &proven);
        let got = got.map(|s| s.name.as_str()).map_err(|e| e.code);
        assert_eq!(got, expected);
    }

    #[test]
    fn only_a_proof_of_the_seats_key_lets_a_member_back() {
        let keys = &Keys {
            alice: SigningKey::generate().unwrap(),
            bob: SigningKey::generate().unwrap(),
            stranger: SigningKey::generate().unwrap(),
        };
        let id = "1".repeat(32);
        let refused = Err(ErrorCode::BadCredentials);
        let bob = Some((&keys.bob, MEMBER_NONCE));
        // The right key, over this exchange: back in.
        check_claim(keys, claim(&id, "bob", bob), exchange(), Ok("bob"));
        // The right name with a stranger's key, or alice's.
        let stranger = Some((&keys.stranger, MEMBER_NONCE));
        check_claim(keys, claim(&id, "bob", stranger), exchange(), refused);
        let alice = Some((&keys.alice, MEMBER_NONCE));
        check_claim(keys, claim(&id, "bob", alice), exchange(), refused);
        // A signature from another exchange (a replay), or none at all.
        let old = Some((&keys.bob, Nonce::from_bytes([9; 32])));
        check_claim(keys, claim(&id, "bob", old), exchange(), refused);
        check_claim(keys, claim(&id, "bob", None), exchange(), refused);
        check_claim(keys, claim(&id, "bob", bob), Proven::Nothing, refused);
        // Another lobby, or a name with no seat.
        let other = "2".repeat(32);
        check_claim(keys, claim(&other, "bob", bob), exchange(), refused);
        check_claim(keys, claim(&id, "carol", bob), exchange(), refused);
        // Under TLS the connection's key is the proof.
        let by_tls = |key: &SigningKey| Proven::Connection(key.public());
        check_claim(keys, claim(&id, "bob", None), by_tls(&keys.bob), Ok("bob"));
        check_claim(keys, claim(&id, "BOB", None), by_tls(&keys.bob), Ok("bob"));
        check_claim(
            keys,
            claim(&id, "bob", None),
            by_tls(&keys.stranger),
            refused,
        );
        let empty = Roster::default();
        let proven = by_tls(&keys.bob);
        assert!(empty.check(&claim("", "bob", None), &proven).is_err());
    }

    #[test]
    fn a_seat_is_proven_only_by_its_own_key_over_these_nonces() {
        let seat = SigningKey::generate().unwrap();
        let squatter = SigningKey::generate().unwrap();
        let nonces = Nonces {
            member: MEMBER_NONCE,
            leader: LEADER_NONCE,
        };
        let id = "1".repeat(32);
        let sig = prove_seat(&seat, &id, "alice", nonces);
        assert!(seat_proven(&seat.public(), &id, "alice", nonces, &sig));
        let forged = prove_seat(&squatter, &id, "alice", nonces);
        assert!(!seat_proven(&seat.public(), &id, "alice", nonces, &forged));
        // Replayed to another member's challenge, or as another seat.
        let fresh = Nonces {
            member: Nonce::from_bytes([7; 32]),
            ..nonces
        };
        assert!(!seat_proven(&seat.public(), &id, "alice", fresh, &sig));
        assert!(!seat_proven(&seat.public(), &id, "bob", nonces, &sig));
        // A member's proof never passes for a seat's.
        let claim = prove_claim(&seat, &id, "alice", "", nonces);
        assert!(!seat_proven(&seat.public(), &id, "alice", nonces, &claim));
    }

    #[test]
    fn lobby_ids_are_fresh() {
        let a = lobby_id().unwrap();
        assert_ne!(a, lobby_id().unwrap());
        assert_eq!(a.len(), TOKEN_LEN);
    }
}
