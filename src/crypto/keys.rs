//! Public keys and fingerprints as values and as text: `Fingerprint`
//! (`SHA256:<base64>` of a SubjectPublicKeyInfo), `IdentityKey` (a user's
//! Ed25519 public key), `SealKey` (a user's X25519 public key), `PeerKey`
//! (both, as a peer announces them), and `SigningKey`, the Ed25519 private
//! key that signs a seat proof.
//!
//! It protects nothing by itself: it names keys so that other modules can
//! compare them. It must never do I/O (no files, no sockets) and never
//! print a private key; `SigningKey` has no `Display` and its `Debug` hides it.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the
/// algorithm identifier 1.3.101.112 and the bit string header; the 32 bytes
/// of the key follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// What a fingerprint's text starts with, as ssh writes it.
const FINGERPRINT_PREFIX: &str = "SHA256:";

/// Why a key or a fingerprint could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// A fingerprint that does not start with `SHA256:`.
    NotSha256,
    /// Text that is not base64 (standard alphabet, no padding).
    NotBase64,
    /// Decoded bytes of the wrong length.
    WrongLength { expected: usize, got: usize },
    /// A peer key that is not `<identity>.<seal>`.
    NotPeerKey,
    /// A certificate that could not be parsed.
    BadCertificate,
    /// A public key that is not Ed25519, where one is required.
    NotEd25519,
    /// A private key that ring refuses (not an Ed25519 PKCS#8 document).
    BadPrivateKey,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotSha256 => write!(f, "a fingerprint starts with {FINGERPRINT_PREFIX}"),
            KeyError::NotBase64 => write!(f, "not base64 (standard alphabet, no padding)"),
            KeyError::WrongLength { expected, got } => {
                write!(f, "{got} bytes where {expected} were expected")
            }
            KeyError::NotPeerKey => write!(f, "a peer key is two base64 keys joined by a dot"),
            KeyError::BadCertificate => write!(f, "the certificate cannot be parsed"),
            KeyError::NotEd25519 => write!(f, "the key is not an Ed25519 key"),
            KeyError::BadPrivateKey => write!(f, "the private key is not an Ed25519 PKCS#8 key"),
        }
    }
}

impl std::error::Error for KeyError {}

/// The SHA-256 of a public key's SubjectPublicKeyInfo (DER), written
/// `SHA256:<base64, no padding>` as ssh writes its fingerprints. It names
/// the key, not the certificate, so a certificate made anew for the same
/// key keeps its fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a SubjectPublicKeyInfo in DER.
    pub fn of_spki(spki_der: &[u8]) -> Fingerprint {
        let digest = ring::digest::digest(&ring::digest::SHA256, spki_der);
        let mut bytes = [0; 32];
        bytes.copy_from_slice(digest.as_ref());
        Fingerprint(bytes)
    }

    /// The fingerprint of the public key in an X.509 certificate (DER).
    pub fn of_certificate(cert_der: &[u8]) -> Result<Fingerprint, KeyError> {
        let der = rustls::pki_types::CertificateDer::from(cert_der);
        let cert = webpki::EndEntityCert::try_from(&der).map_err(|_| KeyError::BadCertificate)?;
        Ok(Fingerprint::of_spki(
            cert.subject_public_key_info().as_ref(),
        ))
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{FINGERPRINT_PREFIX}{}", STANDARD_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Fingerprint, KeyError> {
        let encoded = text
            .strip_prefix(FINGERPRINT_PREFIX)
            .ok_or(KeyError::NotSha256)?;
        Ok(Fingerprint(decode_base64::<32>(encoded)?))
    }
}

/// A user's Ed25519 public key: the key of its TLS certificate and of its
/// seat proofs. Written as base64 of the 32 raw bytes, no padding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdentityKey([u8; 32]);

impl IdentityKey {
    pub fn from_bytes(bytes: [u8; 32]) -> IdentityKey {
        IdentityKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Its SubjectPublicKeyInfo in DER, as a certificate carries it.
    pub fn spki(&self) -> Vec<u8> {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(&self.0);
        der
    }

    /// The fingerprint a TLS handshake with this key presents.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_spki(&self.spki())
    }

    /// The key in a SubjectPublicKeyInfo, if it is an Ed25519 one.
    pub fn from_spki(spki_der: &[u8]) -> Result<IdentityKey, KeyError> {
        let raw = spki_der
            .strip_prefix(&ED25519_SPKI_PREFIX[..])
            .ok_or(KeyError::NotEd25519)?;
        let bytes = <[u8; 32]>::try_from(raw).map_err(|_| KeyError::NotEd25519)?;
        Ok(IdentityKey(bytes))
    }

    /// The Ed25519 key of an X.509 certificate (DER).
    pub fn of_certificate(cert_der: &[u8]) -> Result<IdentityKey, KeyError> {
        let der = rustls::pki_types::CertificateDer::from(cert_der);
        let cert = webpki::EndEntityCert::try_from(&der).map_err(|_| KeyError::BadCertificate)?;
        IdentityKey::from_spki(cert.subject_public_key_info().as_ref())
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, signature)
            .is_ok()
    }
}

/// A user's X25519 public key, which private messages are sealed to.
/// Written as base64 of the 32 raw bytes, no padding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SealKey([u8; 32]);

impl SealKey {
    pub fn from_bytes(bytes: [u8; 32]) -> SealKey {
        SealKey(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The two public keys a user announces: who it is (`identity`, Ed25519)
/// and what to seal to it (`seal`, X25519). Written `<identity>.<seal>`;
/// the dot is not in the base64 alphabet, so the form splits one way only.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct PeerKey {
    pub identity: IdentityKey,
    pub seal: SealKey,
}

impl fmt::Display for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.identity, self.seal)
    }
}

impl FromStr for PeerKey {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<PeerKey, KeyError> {
        let (identity, seal) = text.split_once('.').ok_or(KeyError::NotPeerKey)?;
        Ok(PeerKey {
            identity: identity.parse()?,
            seal: seal.parse()?,
        })
    }
}

/// The label at the head of a safety code's hash.
const SAFETY_LABEL: &[u8] = b"p2pchat safety code v1";

impl PeerKey {
    /// A code two people read to each other (`/verify`), as Signal's
    /// safety numbers: 20 digits in four groups, the same on both sides,
    /// different if either user's keys are not the ones the other has.
    pub fn safety_code(&self, other: &PeerKey) -> String {
        let (first, second) = if self <= other {
            (self, other)
        } else {
            (other, self)
        };
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(SAFETY_LABEL);
        for key in [first, second] {
            context.update(key.identity.as_bytes());
            context.update(key.seal.as_bytes());
        }
        let digest = context.finish();
        let groups: Vec<String> = digest.as_ref()[..20]
            .chunks(5)
            .map(|chunk| {
                let number = chunk.iter().fold(0u64, |n, &byte| n << 8 | u64::from(byte));
                format!("{:05}", number % 100_000)
            })
            .collect();
        groups.join(" ")
    }
}

/// `Display`, `Debug` and `FromStr` for a newtype over `[u8; LEN]` written
/// as base64 without padding: the one text form of keys, nonces and proofs.
/// Parsing fails with `$err`, which is made from the `KeyError` that
/// [`decode_base64`] gives.
macro_rules! base64_text {
    ($type:ident, $len:literal, $err:ty) => {
        impl ::std::fmt::Display for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                use ::base64::Engine;
                f.write_str(&::base64::engine::general_purpose::STANDARD_NO_PAD.encode(self.0))
            }
        }

        impl ::std::fmt::Debug for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, "{}({self})", stringify!($type))
            }
        }

        impl ::std::str::FromStr for $type {
            type Err = $err;

            fn from_str(text: &str) -> Result<$type, $err> {
                Ok($type($crate::crypto::keys::decode_base64::<$len>(text)?))
            }
        }
    };
}
pub(super) use base64_text;

base64_text!(IdentityKey, 32, KeyError);
base64_text!(SealKey, 32, KeyError);

/// `LEN` bytes from base64 without padding.
pub(super) fn decode_base64<const LEN: usize>(text: &str) -> Result<[u8; LEN], KeyError> {
    let bytes = STANDARD_NO_PAD
        .decode(text)
        .map_err(|_| KeyError::NotBase64)?;
    let got = bytes.len();
    <[u8; LEN]>::try_from(bytes).map_err(|_| KeyError::WrongLength { expected: LEN, got })
}

/// A user's Ed25519 private key, kept as its PKCS#8 document (which the
/// TLS configuration needs too) and as ring's key pair (which signs).
pub struct SigningKey {
    pkcs8: Vec<u8>,
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// A new random key.
    pub fn generate() -> Result<SigningKey, KeyError> {
        let random = ring::rand::SystemRandom::new();
        let document =
            Ed25519KeyPair::generate_pkcs8(&random).map_err(|_| KeyError::BadPrivateKey)?;
        SigningKey::from_pkcs8(document.as_ref())
    }

    /// A key from its PKCS#8 document (DER), v1 (as `openssl genpkey`
    /// writes it) or v2 (as ring does).
    pub fn from_pkcs8(der: &[u8]) -> Result<SigningKey, KeyError> {
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|_| KeyError::BadPrivateKey)?;
        Ok(SigningKey {
            pkcs8: der.to_vec(),
            pair,
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn public(&self) -> IdentityKey {
        let mut bytes = [0; 32];
        bytes.copy_from_slice(self.pair.public_key().as_ref());
        IdentityKey(bytes)
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut signature = [0; 64];
        signature.copy_from_slice(self.pair.sign(message).as_ref());
        signature
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {})", self.public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_fingerprint(text: &str, expected: Result<(), KeyError>) {
        let parsed = text.parse::<Fingerprint>();
        assert_eq!(parsed.clone().map(|_| ()), expected, "{text:?}");
        if let Ok(fingerprint) = parsed {
            assert_eq!(fingerprint.to_string(), text);
        }
    }

    #[test]
    fn fingerprints_read_as_ssh_writes_them() {
        let good = format!("SHA256:{}", STANDARD_NO_PAD.encode([7u8; 32]));
        check_fingerprint(&good, Ok(()));
        check_fingerprint(
            &good.replace("SHA256:", "sha256:"),
            Err(KeyError::NotSha256),
        );
        check_fingerprint(&good.replace("SHA256:", "MD5:"), Err(KeyError::NotSha256));
        check_fingerprint(&format!("{good}="), Err(KeyError::NotBase64));
        check_fingerprint("SHA256:!!!", Err(KeyError::NotBase64));
        check_fingerprint(
            "SHA256:",
            Err(KeyError::WrongLength {
                expected: 32,
                got: 0,
            }),
        );
        check_fingerprint(
            &format!("SHA256:{}", STANDARD_NO_PAD.encode([7u8; 31])),
            Err(KeyError::WrongLength {
                expected: 32,
                got: 31,
            }),
        );
    }

    /// The fingerprint is that of the SubjectPublicKeyInfo, as
    /// `openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary | base64` gives it.
    #[test]
    fn a_fingerprint_hashes_the_subject_public_key_info() {
        // RFC 8032's first test key.
        let key: IdentityKey = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"
            .parse()
            .unwrap();
        let spki = key.spki();
        assert_eq!(spki.len(), 44);
        assert_eq!(IdentityKey::from_spki(&spki), Ok(key));
        let expected = ring::digest::digest(&ring::digest::SHA256, &spki);
        assert_eq!(key.fingerprint().0, expected.as_ref());
        assert_eq!(
            IdentityKey::from_spki(&spki[1..]),
            Err(KeyError::NotEd25519)
        );
    }

    #[test]
    fn peer_keys_round_trip_and_refuse_what_is_not_one() {
        let key = PeerKey {
            identity: IdentityKey([1; 32]),
            seal: SealKey([2; 32]),
        };
        assert_eq!(key.to_string().parse(), Ok(key));
        assert_eq!("".parse::<PeerKey>(), Err(KeyError::NotPeerKey));
        assert_eq!(
            format!("{}.", key.identity).parse::<PeerKey>(),
            Err(KeyError::WrongLength {
                expected: 32,
                got: 0
            })
        );
        assert_eq!(
            format!("{}.{}.x", key.identity, key.seal).parse::<PeerKey>(),
            Err(KeyError::NotBase64)
        );
    }

    #[test]
    fn a_safety_code_is_the_same_on_both_sides_and_changes_with_any_key() {
        let key = |identity, seal| PeerKey {
            identity: IdentityKey([identity; 32]),
            seal: SealKey([seal; 32]),
        };
        let (alice, bob) = (key(1, 2), key(3, 4));
        let code = alice.safety_code(&bob);
        assert_eq!(bob.safety_code(&alice), code);
        let groups: Vec<&str> = code.split(' ').collect();
        assert_eq!(groups.len(), 4, "{code}");
        assert!(
            groups
                .iter()
                .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit()))
        );
        for other in [key(9, 4), key(3, 9)] {
            assert_ne!(alice.safety_code(&other), code);
        }
        assert_ne!(key(9, 2).safety_code(&bob), code);
    }

    #[test]
    fn a_signing_key_signs_what_its_public_key_verifies() {
        let key = SigningKey::generate().unwrap();
        let signature = key.sign(b"message");
        assert!(key.public().verifies(b"message", &signature));
        assert!(!key.public().verifies(b"massage", &signature));
        let again = SigningKey::from_pkcs8(key.pkcs8()).unwrap();
        assert_eq!(again.public(), key.public());
        assert_eq!(
            SigningKey::from_pkcs8(b"not a key").map(|_| ()),
            Err(KeyError::BadPrivateKey)
        );
        assert!(!format!("{key:?}").contains(&STANDARD_NO_PAD.encode(key.pkcs8())));
    }
}
