//! Sealed private messages: HPKE (RFC 9180) in Auth mode with
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and ChaCha20-Poly1305. A message
//! sealed by `seal` opens only with the recipient's X25519 private key, and
//! only if it was sealed with the private key of the sender the recipient
//! expects, for the same lobby, sender name and recipient name (`Binding`).
//! So a leader that relays it can neither read it nor forge one.
//!
//! It does not hide that a message was sent, by whom, to whom, or how long
//! it was; it does not stop a replay of the same sealed text within its
//! binding (the caller may number messages inside the plaintext), and it
//! gives no forward secrecy against a later theft of the recipient's key.
//! It must never do I/O and never log or show a private key or a plaintext.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};

use super::keys::SealKey;

type Kem = X25519HkdfSha256;

/// The domain-separation label at the head of every HPKE `info`.
const LABEL: &[u8] = b"p2pchat sealed message v1";

/// Why a message could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealError {
    /// The text form is not `<enc>.<ciphertext>` in base64.
    Malformed,
    /// Not sealed by the expected sender, for this recipient and binding,
    /// or changed on the way. HPKE does not say which, on purpose.
    Forged,
    /// It opened, but the plaintext is not UTF-8.
    NotText,
    /// HPKE refused to seal (a key it cannot use).
    CannotSeal,
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SealError::Malformed => "not a sealed message",
            SealError::Forged => "the message was not sealed by its sender for this recipient",
            SealError::NotText => "the sealed message is not text",
            SealError::CannotSeal => "the message cannot be sealed to this key",
        })
    }
}

impl std::error::Error for SealError {}

/// A user's X25519 private key for sealed messages.
#[derive(Clone)]
pub struct SealSecret(<Kem as hpke::Kem>::PrivateKey);

impl SealSecret {
    /// A new random key.
    pub fn generate() -> SealSecret {
        SealSecret(Kem::gen_keypair().0)
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> SealSecret {
        SealSecret(
            <Kem as hpke::Kem>::PrivateKey::from_bytes(bytes)
                .expect("every 32 bytes are an X25519 private key"),
        )
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        let mut bytes = [0; 32];
        bytes.copy_from_slice(&self.0.to_bytes());
        bytes
    }

    /// The public key others seal to.
    pub fn public(&self) -> SealKey {
        let mut bytes = [0; 32];
        bytes.copy_from_slice(&Kem::sk_to_pk(&self.0).to_bytes());
        SealKey::from_bytes(bytes)
    }
}

impl fmt::Debug for SealSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealSecret(public {})", self.public())
    }
}

/// What a sealed message is bound to: it opens only for the same three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding<'a> {
    pub lobby: &'a str,
    pub sender: &'a str,
    pub recipient: &'a str,
}

impl Binding<'_> {
    /// HPKE's `info`: the label, then each field with its length before
    /// it, so that no two bindings give the same bytes.
    fn info(&self) -> Vec<u8> {
        let mut info = LABEL.to_vec();
        for field in [self.lobby, self.sender, self.recipient] {
            info.extend_from_slice(&(field.len() as u32).to_be_bytes());
            info.extend_from_slice(field.as_bytes());
        }
        info
    }
}

/// A sealed message: HPKE's encapsulated key and the ciphertext. Written
/// `<enc>.<ciphertext>`, both base64 without padding, one word on a line.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    enc: [u8; 32],
    ciphertext: Vec<u8>,
}

impl Sealed {
    /// The sender's one-time key (HPKE's `enc`), fresh for every seal: two
    /// sealed messages that share it are one message sent twice.
    pub fn one_time_key(&self) -> [u8; 32] {
        self.enc
    }
}

impl fmt::Display for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}",
            STANDARD_NO_PAD.encode(self.enc),
            STANDARD_NO_PAD.encode(&self.ciphertext)
        )
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({self})")
    }
}

impl FromStr for Sealed {
    type Err = SealError;

    fn from_str(text: &str) -> Result<Sealed, SealError> {
        let (enc, ciphertext) = text.split_once('.').ok_or(SealError::Malformed)?;
        let decode = |part: &str| {
            STANDARD_NO_PAD
                .decode(part)
                .map_err(|_| SealError::Malformed)
        };
        let enc = <[u8; 32]>::try_from(decode(enc)?).map_err(|_| SealError::Malformed)?;
        Ok(Sealed {
            enc,
            ciphertext: decode(ciphertext)?,
        })
    }
}

/// Seals `text` from `sender` to `recipient`, bound to `binding`.
pub fn seal(
    sender: &SealSecret,
    recipient: &SealKey,
    binding: &Binding<'_>,
    text: &str,
) -> Result<Sealed, SealError> {
    let recipient = public_key(recipient)?;
    let sender_public = public_key(&sender.public())?;
    let mode = OpModeS::Auth((sender.0.clone(), sender_public));
    let (enc, ciphertext) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &mode,
        &recipient,
        &binding.info(),
        text.as_bytes(),
        &[],
    )
    .map_err(|_| SealError::CannotSeal)?;
    let mut enc_bytes = [0; 32];
    enc_bytes.copy_from_slice(&enc.to_bytes());
    Ok(Sealed {
        enc: enc_bytes,
        ciphertext,
    })
}

/// Opens `sealed` with the recipient's key, if and only if `sender` sealed
/// it for this `binding`.
pub fn open(
    recipient: &SealSecret,
    sender: &SealKey,
    binding: &Binding<'_>,
    sealed: &Sealed,
) -> Result<String, SealError> {
    let sender = public_key(sender)?;
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.enc)
        .map_err(|_| SealError::Malformed)?;
    let plaintext = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
        &OpModeR::Auth(sender),
        &recipient.0,
        &enc,
        &binding.info(),
        &sealed.ciphertext,
        &[],
    )
    .map_err(|_| SealError::Forged)?;
    String::from_utf8(plaintext).map_err(|_| SealError::NotText)
}

fn public_key(key: &SealKey) -> Result<<Kem as hpke::Kem>::PublicKey, SealError> {
    <Kem as hpke::Kem>::PublicKey::from_bytes(key.as_bytes()).map_err(|_| SealError::CannotSeal)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINDING: Binding<'static> = Binding {
        lobby: "study-group",
        sender: "alice",
        recipient: "bob",
    };

    struct Keys {
        alice: SealSecret,
        bob: SealSecret,
        mallory: SealSecret,
    }

    fn keys() -> Keys {
        Keys {
            alice: SealSecret::from_bytes(&[1; 32]),
            bob: SealSecret::from_bytes(&[2; 32]),
            mallory: SealSecret::from_bytes(&[3; 32]),
        }
    }

    #[test]
    fn a_sealed_message_opens_for_its_recipient_from_its_sender() {
        let k = keys();
        let sealed = seal(&k.alice, &k.bob.public(), &BINDING, "meet at six").unwrap();
        let wire = sealed.to_string();
        assert!(!wire.contains(' '));
        let read: Sealed = wire.parse().unwrap();
        assert_eq!(read, sealed);
        assert_eq!(
            open(&k.bob, &k.alice.public(), &BINDING, &read),
            Ok("meet at six".to_string())
        );
        // Sealing twice gives two different texts (a fresh ephemeral key).
        let again = seal(&k.alice, &k.bob.public(), &BINDING, "meet at six").unwrap();
        assert_ne!(again, sealed);
    }

    #[test]
    fn what_does_not_match_does_not_open() {
        let k = keys();
        let sealed = seal(&k.alice, &k.bob.public(), &BINDING, "meet at six").unwrap();
        #[track_caller]
        fn refused(result: Result<String, SealError>) {
            assert_eq!(result, Err(SealError::Forged));
        }
        // Another sender's key expected: mallory cannot pass as alice.
        refused(open(&k.bob, &k.mallory.public(), &BINDING, &sealed));
        let forged = seal(&k.mallory, &k.bob.public(), &BINDING, "send me money").unwrap();
        refused(open(&k.bob, &k.alice.public(), &BINDING, &forged));
        // Another recipient's private key (the leader's, say).
        refused(open(&k.mallory, &k.alice.public(), &BINDING, &sealed));
        // Another lobby, sender or recipient name.
        for binding in [
            Binding {
                lobby: "other",
                ..BINDING
            },
            Binding {
                sender: "carol",
                ..BINDING
            },
            Binding {
                recipient: "carol",
                ..BINDING
            },
            // The lengths keep field borders: "ab"+"c" is not "a"+"bc".
            Binding {
                lobby: "study-groupa",
                sender: "lice",
                ..BINDING
            },
        ] {
            refused(open(&k.bob, &k.alice.public(), &binding, &sealed));
        }
        // A byte changed in the key, the text or the tag.
        let last = sealed.ciphertext.len() - 1;
        for at in [0, last / 2, last] {
            let mut tampered = sealed.clone();
            tampered.ciphertext[at] ^= 1;
            refused(open(&k.bob, &k.alice.public(), &BINDING, &tampered));
        }
        let mut tampered = sealed.clone();
        tampered.enc[0] ^= 1;
        refused(open(&k.bob, &k.alice.public(), &BINDING, &tampered));
        let mut cut = sealed.clone();
        cut.ciphertext.truncate(4);
        refused(open(&k.bob, &k.alice.public(), &BINDING, &cut));
    }

    #[test]
    fn malformed_text_is_refused_with_a_reason() {
        for text in ["", "abc", "abc.def", "!.AAAA", ".AAAA"] {
            assert_eq!(
                text.parse::<Sealed>(),
                Err(SealError::Malformed),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_secret_round_trips_and_stays_out_of_debug() {
        let secret = SealSecret::generate();
        let again = SealSecret::from_bytes(&secret.to_bytes());
        assert_eq!(again.public(), secret.public());
        let shown = format!("{secret:?}");
        assert!(!shown.contains(&STANDARD_NO_PAD.encode(secret.to_bytes())));
    }
}
