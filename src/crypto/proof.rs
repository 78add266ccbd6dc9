//! A proof of a seat's key without TLS, for `--plaintext` lobbies: a
//! challenge and a response, each an Ed25519 signature over a label, the
//! side's role, both nonces, both names and the lobby. The member sends
//! only its nonce until the would-be leader has proven the leader seat's
//! key; then the member proves its own seat's key the same way.
//!
//! It protects against a stranger on a lost leader's port (it cannot sign
//! for the seat's key, so it learns nothing but a nonce) and against a
//! replayed proof (it names both fresh nonces, the names and the lobby, and
//! a leader's proof never passes as a member's). It does not encrypt or
//! authenticate the lines that follow: in plain-text mode anyone on the
//! path can still read and change them. It must never do I/O or read the
//! clock; the caller brings the nonces.

use std::fmt;

use super::keys::{IdentityKey, KeyError, SigningKey, base64_text};

/// The domain-separation label at the head of every signed transcript.
const LABEL: &[u8] = b"p2pchat seat proof v1";

/// Why a nonce, a proof or its text was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError {
    /// Text that is not base64 of the right length.
    Malformed,
    /// A signature that the seat's key did not make over this transcript.
    Invalid,
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProofError::Malformed => "not a proof (base64 of 64 bytes)",
            ProofError::Invalid => "the proof was not made with the seat's key",
        })
    }
}

impl std::error::Error for ProofError {}

impl From<KeyError> for ProofError {
    fn from(_: KeyError) -> ProofError {
        ProofError::Malformed
    }
}

/// 32 fresh random bytes from one side of an exchange.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce([u8; 32]);

impl Nonce {
    pub const fn from_bytes(bytes: [u8; 32]) -> Nonce {
        Nonce(bytes)
    }

    /// A nonce from the operating system's random source.
    pub fn random() -> Result<Nonce, getrandom::Error> {
        let mut bytes = [0; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Nonce(bytes))
    }
}

/// An Ed25519 signature over a transcript.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Proof([u8; 64]);

base64_text!(Nonce, 32, ProofError);
base64_text!(Proof, 64, ProofError);

/// Which side signs: a proof made as one never passes as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The peer that claims to lead (or to be the successor).
    Leader,
    /// The member that asks to be taken (back) in.
    Member,
}

/// Everything a proof is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transcript<'a> {
    pub lobby: &'a str,
    pub leader: &'a str,
    pub member: &'a str,
    pub member_nonce: Nonce,
    pub leader_nonce: Nonce,
}

impl Transcript<'_> {
    /// The signed bytes: the label, the role, then each field with its
    /// length before it, so that no two transcripts give the same bytes.
    fn message(&self, role: Role) -> Vec<u8> {
        let mut message = LABEL.to_vec();
        message.push(match role {
            Role::Leader => b'L',
            Role::Member => b'M',
        });
        for field in [
            self.lobby.as_bytes(),
            self.leader.as_bytes(),
            self.member.as_bytes(),
            &self.member_nonce.0,
            &self.leader_nonce.0,
        ] {
            message.extend_from_slice(&(field.len() as u32).to_be_bytes());
            message.extend_from_slice(field);
        }
        message
    }
}

/// `key`'s proof, as `role`, over `transcript`.
pub fn prove(key: &SigningKey, role: Role, transcript: &Transcript<'_>) -> Proof {
    Proof(key.sign(&transcript.message(role)))
}

/// Whether `proof` is the seat key's signature, as `role`, over `transcript`.
pub fn verify(
    seat_key: &IdentityKey,
    role: Role,
    transcript: &Transcript<'_>,
    proof: &Proof,
) -> Result<(), ProofError> {
    if seat_key.verifies(&transcript.message(role), &proof.0) {
        Ok(())
    } else {
        Err(ProofError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD_NO_PAD;

    const T: Transcript<'static> = Transcript {
        lobby: "study-group",
        leader: "alice",
        member: "bob",
        member_nonce: Nonce([1; 32]),
        leader_nonce: Nonce([2; 32]),
    };

    #[track_caller]
    fn check(
        signer: &SigningKey,
        signed_as: Role,
        signed: &Transcript<'_>,
        checked_as: Role,
        checked: &Transcript<'_>,
        expected: Result<(), ProofError>,
    ) {
        let proof = prove(signer, signed_as, signed);
        let read: Proof = proof.to_string().parse().unwrap();
        assert_eq!(
            verify(&signer.public(), checked_as, checked, &read),
            expected
        );
    }

    #[test]
    fn a_proof_holds_only_for_its_own_transcript_and_role() {
        let alice = SigningKey::generate().unwrap();
        let (leader, member) = (Role::Leader, Role::Member);
        check(&alice, leader, &T, leader, &T, Ok(()));
        check(&alice, member, &T, member, &T, Ok(()));
        let bad = Err(ProofError::Invalid);
        // A leader's proof reflected back as a member's.
        check(&alice, leader, &T, member, &T, bad.clone());
        // A proof replayed for another nonce, either side's.
        let fresh = Nonce([9; 32]);
        let other_member_nonce = Transcript {
            member_nonce: fresh,
            ..T
        };
        let other_leader_nonce = Transcript {
            leader_nonce: fresh,
            ..T
        };
        check(&alice, leader, &T, leader, &other_member_nonce, bad.clone());
        check(&alice, leader, &T, leader, &other_leader_nonce, bad.clone());
        // The nonces swapped.
        let swapped = Transcript {
            member_nonce: T.leader_nonce,
            leader_nonce: T.member_nonce,
            ..T
        };
        check(&alice, leader, &T, leader, &swapped, bad.clone());
        // Another lobby, another leader, another member, moved borders.
        for other in [
            Transcript {
                lobby: "other",
                ..T
            },
            Transcript {
                leader: "carol",
                ..T
            },
            Transcript {
                member: "carol",
                ..T
            },
            Transcript {
                lobby: "study-groupa",
                leader: "lice",
                ..T
            },
        ] {
            check(&alice, leader, &T, leader, &other, bad.clone());
        }
    }

    #[test]
    fn another_key_does_not_prove_the_seat() {
        let seat = SigningKey::generate().unwrap();
        let squatter = SigningKey::generate().unwrap();
        let proof = prove(&squatter, Role::Leader, &T);
        assert_eq!(
            verify(&seat.public(), Role::Leader, &T, &proof),
            Err(ProofError::Invalid)
        );
    }

    #[test]
    fn malformed_text_is_refused() {
        for text in ["", "AAAA", "!!", &STANDARD_NO_PAD.encode([0u8; 63])] {
            assert_eq!(
                text.parse::<Proof>(),
                Err(ProofError::Malformed),
                "{text:?}"
            );
        }
        assert_eq!("AAAA".parse::<Nonce>(), Err(ProofError::Malformed));
        let nonce = Nonce::random().unwrap();
        assert_eq!(nonce.to_string().parse(), Ok(nonce));
    }
}
