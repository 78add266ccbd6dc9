//! A user's public key as one word of the protocol: `KeyWord`, the text
//! `<identity>.<seal>` that `JOIN` announces and the registry vouches for
//! in `USER` rows and `OK TICKET`.
//!
//! The wire checks the word's shape only (two 43-character words of
//! standard base64 joined by a dot), so a line with a mangled key is
//! refused where it is read. It must never read the keys themselves:
//! `crypto::PeerKey::from_str` does that where a key is used, and the wire
//! stays free of cryptography.

use std::fmt;
use std::str::FromStr;

use super::{ErrorCode, ParseError};

/// The characters of a 32-byte key in base64 without padding.
pub const KEY_HALF_LEN: usize = 43;

/// A public key word, checked for its shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyWord(String);

impl KeyWord {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for KeyWord {
    type Err = ParseError;

    fn from_str(word: &str) -> Result<KeyWord, ParseError> {
        if is_key_shaped(word) {
            Ok(KeyWord(word.to_string()))
        } else {
            Err(ParseError::new(
                ErrorCode::BadKey,
                format!(
                    "a key is two {KEY_HALF_LEN}-character base64 words joined by a dot, as the peer prints it"
                ),
            ))
        }
    }
}

/// Whether `word` has a key word's shape. `redact` asks it too: a word of
/// this shape after a `JOIN`'s port is a key, shown in traces.
pub(super) fn is_key_shaped(word: &str) -> bool {
    let half = |text: &str| {
        text.len() == KEY_HALF_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    };
    word.split_once('.')
        .is_some_and(|(identity, seal)| half(identity) && half(seal))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A key word of the right shape, made of `a` and `b`.
    pub(crate) fn key_word(a: char, b: char) -> String {
        format!(
            "{}.{}",
            a.to_string().repeat(KEY_HALF_LEN),
            b.to_string().repeat(KEY_HALF_LEN)
        )
    }

    #[test]
    fn a_key_word_is_two_base64_halves() {
        let good = key_word('A', 'b');
        assert_eq!(good.parse::<KeyWord>().unwrap().as_str(), good);
        let slashes = format!("{}.{}", "+/".repeat(21) + "A", "9".repeat(KEY_HALF_LEN));
        assert!(slashes.parse::<KeyWord>().is_ok());
        for bad in [
            String::new(),
            ".".into(),
            "A".repeat(KEY_HALF_LEN),
            format!("{}.", "A".repeat(KEY_HALF_LEN)),
            format!(
                "{}.{}",
                "A".repeat(KEY_HALF_LEN - 1),
                "A".repeat(KEY_HALF_LEN)
            ),
            format!("{}.{}=", "A".repeat(KEY_HALF_LEN), "A".repeat(KEY_HALF_LEN)),
            format!("{}.{}", "A".repeat(KEY_HALF_LEN), "-".repeat(KEY_HALF_LEN)),
            format!(
                "{}.{}.A",
                "A".repeat(KEY_HALF_LEN),
                "A".repeat(KEY_HALF_LEN)
            ),
            format!("{}.{}", "é".repeat(KEY_HALF_LEN), "A".repeat(KEY_HALF_LEN)),
        ] {
            let err = bad.parse::<KeyWord>().unwrap_err();
            assert_eq!(err.code, ErrorCode::BadKey, "{bad:?}");
        }
    }
}
