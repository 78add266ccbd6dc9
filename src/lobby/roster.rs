//! Who a lobby's members are, for its succession: each member's seat (name,
//! chat address, the verifier of its secret) in admission order, the lobby's
//! id, and the rules built on them: whose credential holds, and which peer
//! leads when the leader is lost.
//!
//! A plain type: no I/O, no clock. Randomness comes in through `secret`,
//! the one function here that asks the system for it. A roster never holds a
//! member's secret, only its hash, so a successor can check a returning
//! member without being able to pass for it.

use core::net::SocketAddr;
use std::fmt::Write;

use blake2::{Blake2s256, Digest};

use crate::wire::{ErrorCode, Rejoin, TOKEN_LEN};

/// One member as every member knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub name: String,
    /// Where the member listens for chat connections: where the others go
    /// if it is to lead.
    pub addr: SocketAddr,
    /// The hash of the member's secret (`verifier`).
    pub verifier: String,
}

/// A fresh random token: a lobby id or a member's secret, 16 bytes in hex.
pub fn secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; TOKEN_LEN / 2];
    getrandom::fill(&mut bytes)?;
    Ok(hex(&bytes))
}

/// What a roster keeps of a secret: its BLAKE2s hash, in hex. The secrets
/// are 128 random bits, so a plain hash is enough: there is nothing to guess.
pub fn verifier(secret: &str) -> String {
    hex(&Blake2s256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        write!(text, "{byte:02x}").expect("writing to a String cannot fail");
    }
    text
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
    /// Every peer before us was unreachable: we lead.
    Me,
}

/// A lobby's id and its seats, the leader's first, then in admission order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roster {
    pub lobby: String,
    pub seats: Vec<Seat>,
}

impl Roster {
    pub fn new(lobby: String) -> Roster {
        Roster {
            lobby,
            seats: Vec::new(),
        }
    }

    pub fn seat(&self, name: &str) -> Option<&Seat> {
        self.seats
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// Adds a seat at the end; a seat of the same name goes first, since a
    /// member who comes back counts as admitted last.
    pub fn add(&mut self, seat: Seat) {
        self.remove(&seat.name);
        self.seats.push(seat);
    }

    pub fn remove(&mut self, name: &str) -> Option<Seat> {
        let at = self
            .seats
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))?;
        Some(self.seats.remove(at))
    }

    /// Puts `name`'s seat first, as the leader's: after a handover or a
    /// migration every member does the same, so the rosters stay alike.
    pub fn lead(&mut self, name: &str) {
        if let Some(seat) = self.remove(name) {
            self.seats.insert(0, seat);
        }
    }

    /// The seat a `REJOIN` claims, if its lobby id and secret hold.
    pub fn check(&self, claim: &Rejoin) -> Result<&Seat, Refused> {
        let refused = || Refused {
            code: ErrorCode::BadCredentials,
            text: "not a member of this lobby".to_string(),
        };
        if self.lobby.is_empty() || claim.lobby != self.lobby {
            return Err(refused());
        }
        let seat = self.seat(&claim.name).ok_or_else(refused)?;
        if seat.verifier != verifier(&claim.secret) {
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
    /// peer still there, without talking.
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

    fn seat(name: &str) -> Seat {
        Seat {
            name: name.into(),
            addr: "127.0.0.1:4000".parse().unwrap(),
            verifier: verifier(&format!("{name:0>32}")),
        }
    }

    fn roster(names: &[&str]) -> Roster {
        let mut roster = Roster::new("1".repeat(32));
        for name in names {
            roster.add(seat(name));
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
        r.add(seat("bob"));
        assert_eq!(names(&r.candidates("x")), ["alice", "carol", "bob"]);
        r.remove("alice");
        r.lead("bob");
        assert_eq!(names(&r.candidates("x")), ["bob", "carol"]);
        assert_eq!(r.successor().unwrap().name, "carol");
        r.lead("nobody");
        assert_eq!(names(&r.candidates("x")), ["bob", "carol"]);
    }

    #[track_caller]
    fn check_claim(lobby: &str, name: &str, secret: &str, expected: Result<&str, ErrorCode>) {
        let r = roster(&["alice", "bob"]);
        let claim = Rejoin {
            lobby: lobby.into(),
            name: name.into(),
            secret: secret.into(),
            seq: 0,
        };
        let got = r.check(&claim).map(|s| s.name.as_str()).map_err(|e| e.code);
        assert_eq!(got, expected);
    }

    #[test]
    fn only_a_members_own_secret_lets_it_back() {
        let id = "1".repeat(32);
        let bob = format!("{:0>32}", "bob");
        let alice = format!("{:0>32}", "alice");
        check_claim(&id, "bob", &bob, Ok("bob"));
        check_claim(&id, "BOB", &bob, Ok("bob"));
        check_claim(&id, "bob", &alice, Err(ErrorCode::BadCredentials));
        check_claim(&id, "carol", &bob, Err(ErrorCode::BadCredentials));
        check_claim(&"2".repeat(32), "bob", &bob, Err(ErrorCode::BadCredentials));
        let empty = Roster::default();
        let claim = Rejoin {
            lobby: String::new(),
            name: "bob".into(),
            secret: bob.clone(),
            seq: 0,
        };
        assert!(empty.check(&claim).is_err());
    }

    #[test]
    fn secrets_are_fresh_and_verifiers_fixed() {
        let a = secret().unwrap();
        let b = secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_LEN);
        assert_eq!(verifier(&a), verifier(&a));
        assert_ne!(verifier(&a), verifier(&b));
        assert_eq!(verifier(&a).len(), crate::wire::VERIFIER_LEN);
    }
}
