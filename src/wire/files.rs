//! The lines of a file sent between two peers: the offer and its answers,
//! which travel through the lobby inside `FILE <name> <file-line>` (relayed
//! by the leader like a private message), and the header lines of the
//! transfer connection the recipient opens to the sender, after which the
//! sender writes the file's bytes raw.

use std::fmt;
use std::str::FromStr;

use super::{ErrorCode, ParseError, all_words, check_text, parse_name, split_word};

/// The longest offered file name, in bytes: what most file systems allow.
pub const MAX_FILE_NAME: usize = 255;

/// An offer's id: 16 lowercase hex digits (8 random bytes), which the
/// recipient quotes to accept, decline, cancel or fetch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfferId(pub u64);

impl fmt::Display for OfferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for OfferId {
    type Err = ParseError;
    fn from_str(word: &str) -> Result<OfferId, ParseError> {
        let hex = word.len() == 16 && word.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let id = hex.then(|| u64::from_str_radix(word, 16).ok()).flatten();
        id.map(OfferId).ok_or_else(|| {
            ParseError::new(ErrorCode::BadArgs, "an offer id is 16 lowercase hex digits")
        })
    }
}

/// A file's SHA-256, written `sha256:<64 lowercase hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Checksum(pub [u8; 32]);

const SHA256: &str = "sha256:";

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SHA256)?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Checksum {
    type Err = ParseError;
    fn from_str(word: &str) -> Result<Checksum, ParseError> {
        let bad = || {
            ParseError::new(
                ErrorCode::BadArgs,
                "a checksum is sha256: and 64 lowercase hex digits",
            )
        };
        let hex = word.strip_prefix(SHA256).ok_or_else(bad)?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        let mut sum = [0; 32];
        for (byte, pair) in sum.iter_mut().zip(hex.as_bytes().chunks(2)) {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(Checksum(sum))
    }
}

/// What is offered: the file's size, checksum and name (its base name, as
/// the sender made it safe; the recipient makes it safe again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOffer {
    pub id: OfferId,
    pub size: u64,
    pub sum: Checksum,
    pub name: String,
}

/// One file line between a sender and a recipient, carried through the
/// lobby as `FILE <to> <line>` (to the leader) and `FILE <from> <line>`
/// (to the member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileLine {
    /// `OFFER <id> <size> <checksum> <name>`: the name is the rest of the line.
    Offer(FileOffer),
    /// `ACCEPT <id>`: the recipient will fetch it.
    Accept(OfferId),
    /// `DECLINE <id>`: the recipient will not.
    Decline(OfferId),
    /// `CANCEL <id>`: either side stops the offer or the transfer.
    Cancel(OfferId),
}

impl FileLine {
    /// The offer the line is about.
    pub fn id(&self) -> OfferId {
        match self {
            FileLine::Offer(offer) => offer.id,
            FileLine::Accept(id) | FileLine::Decline(id) | FileLine::Cancel(id) => *id,
        }
    }
}

impl fmt::Display for FileLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileLine::Offer(FileOffer {
                id,
                size,
                sum,
                name,
            }) => write!(f, "OFFER {id} {size} {sum} {name}"),
            FileLine::Accept(id) => write!(f, "ACCEPT {id}"),
            FileLine::Decline(id) => write!(f, "DECLINE {id}"),
            FileLine::Cancel(id) => write!(f, "CANCEL {id}"),
        }
    }
}

impl FromStr for FileLine {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<FileLine, ParseError> {
        let (keyword, rest) = split_word(line);
        let one_id = |usage: &str| match all_words(rest).as_slice() {
            [id] => id.parse(),
            _ => Err(ParseError::new(ErrorCode::BadArgs, usage.to_string())),
        };
        match keyword {
            "OFFER" => parse_offer(rest).map(FileLine::Offer),
            "ACCEPT" => one_id("usage: ACCEPT <id>").map(FileLine::Accept),
            "DECLINE" => one_id("usage: DECLINE <id>").map(FileLine::Decline),
            "CANCEL" => one_id("usage: CANCEL <id>").map(FileLine::Cancel),
            _ => Err(ParseError::new(
                ErrorCode::BadArgs,
                "a file line is OFFER, ACCEPT, DECLINE or CANCEL",
            )),
        }
    }
}

fn parse_offer(rest: &str) -> Result<FileOffer, ParseError> {
    let usage = || ParseError::new(ErrorCode::BadArgs, "usage: OFFER <id> <size> <sum> <name>");
    let (id, rest) = split_word(rest);
    let (size, rest) = split_word(rest);
    let (sum, name) = split_word(rest);
    if name.is_empty() {
        return Err(usage());
    }
    let size = parse_count(size)?;
    check_file_name(name)?;
    Ok(FileOffer {
        id: id.parse()?,
        size,
        sum: sum.parse()?,
        name: name.to_string(),
    })
}

/// An offered name is message text (no control or bidi characters) of at
/// most `MAX_FILE_NAME` bytes. Whether it is safe to save under is the
/// recipient's business (`files::names`).
pub fn check_file_name(name: &str) -> Result<(), ParseError> {
    check_text(name)?;
    if name.len() > MAX_FILE_NAME {
        return Err(ParseError::new(
            ErrorCode::TextTooLong,
            format!("a file name is at most {MAX_FILE_NAME} bytes"),
        ));
    }
    Ok(())
}

/// A size or an offset: digits only, no sign, no leading `+`.
fn parse_count(word: &str) -> Result<u64, ParseError> {
    let digits = !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit());
    let count = digits.then(|| word.parse().ok()).flatten();
    count.ok_or_else(|| ParseError::new(ErrorCode::BadArgs, format!("not a byte count: {word}")))
}

/// The first line on a transfer connection, from the recipient:
/// `FETCH <who> <id> <from>`, to have offer `id`'s bytes from byte `from`
/// on (0 for the whole file; more to resume a kept `.part`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub who: String,
    pub id: OfferId,
    pub from: u64,
}

impl fmt::Display for Fetch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FETCH {} {} {}", self.who, self.id, self.from)
    }
}

impl FromStr for Fetch {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Fetch, ParseError> {
        let (keyword, rest) = split_word(line);
        if keyword != "FETCH" {
            return Err(ParseError::new(
                ErrorCode::UnknownCommand,
                "expected FETCH <who> <id> <from>",
            ));
        }
        match all_words(rest).as_slice() {
            [who, id, from] => Ok(Fetch {
                who: parse_name(who)?,
                id: id.parse()?,
                from: parse_count(from)?,
            }),
            _ => Err(ParseError::new(
                ErrorCode::BadArgs,
                "usage: FETCH <who> <id> <from>",
            )),
        }
    }
}

/// The sender's answer to `FETCH`: `SENDING <id> <from> <count>`, then
/// exactly `count` raw bytes and the end of the connection; or `ERR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sending {
    Bytes { id: OfferId, from: u64, count: u64 },
    Err(ErrorCode, String),
}

impl fmt::Display for Sending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sending::Bytes { id, from, count } => write!(f, "SENDING {id} {from} {count}"),
            Sending::Err(code, text) => write!(f, "ERR {code} {text}"),
        }
    }
}

impl FromStr for Sending {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Sending, ParseError> {
        let (keyword, rest) = split_word(line);
        match keyword {
            "SENDING" => match all_words(rest).as_slice() {
                [id, from, count] => Ok(Sending::Bytes {
                    id: id.parse()?,
                    from: parse_count(from)?,
                    count: parse_count(count)?,
                }),
                _ => Err(ParseError::new(
                    ErrorCode::BadArgs,
                    "usage: SENDING <id> <from> <count>",
                )),
            },
            "ERR" => {
                let (code, text) = split_word(rest);
                Ok(Sending::Err(code.parse()?, text.to_string()))
            }
            _ => Err(ParseError::new(
                ErrorCode::UnknownCommand,
                "expected SENDING or ERR",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{check, check_err};
    use super::*;

    const SUM: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn sum() -> Checksum {
        SUM.parse().unwrap()
    }

    fn id() -> OfferId {
        OfferId(0x0123_4567_89ab_cdef)
    }

    #[test]
    fn offers_and_answers_round_trip() {
        let offer = |size, name: &str| {
            FileLine::Offer(FileOffer {
                id: id(),
                size,
                sum: sum(),
                name: name.into(),
            })
        };
        check(
            &format!("OFFER 0123456789abcdef 0 {SUM} empty"),
            offer(0, "empty"),
        );
        check(
            &format!("OFFER 0123456789abcdef 10485760 {SUM} report (1).pdf"),
            offer(10 << 20, "report (1).pdf"),
        );
        check(
            &format!("OFFER 0123456789abcdef 1 {SUM} ../../x"),
            offer(1, "../../x"),
        );
        check("ACCEPT 0123456789abcdef", FileLine::Accept(id()));
        check("DECLINE 0123456789abcdef", FileLine::Decline(id()));
        check("CANCEL 0123456789abcdef", FileLine::Cancel(id()));
    }

    #[test]
    fn bad_file_lines_say_why() {
        check_err::<FileLine>(
            "OFFER 0123456789abcdef 1 sha256:00 x",
            "ERR BAD_ARGS a checksum is sha256: and 64 lowercase hex digits",
        );
        check_err::<FileLine>(
            &format!("OFFER 0123456789ABCDEF 1 {SUM} x"),
            "ERR BAD_ARGS an offer id is 16 lowercase hex digits",
        );
        check_err::<FileLine>(
            &format!("OFFER 0123456789abcdef -1 {SUM} x"),
            "ERR BAD_ARGS not a byte count: -1",
        );
        check_err::<FileLine>(
            &format!("OFFER 0123456789abcdef 99999999999999999999 {SUM} x"),
            "ERR BAD_ARGS not a byte count: 99999999999999999999",
        );
        check_err::<FileLine>(
            &format!("OFFER 0123456789abcdef 1 {SUM}"),
            "ERR BAD_ARGS usage: OFFER <id> <size> <sum> <name>",
        );
        check_err::<FileLine>(
            &format!("OFFER 0123456789abcdef 1 {SUM} a\u{1b}[2Jb"),
            "ERR BAD_TEXT message text must not hold control or bidi characters (U+001B)",
        );
        check_err::<FileLine>(
            &format!("OFFER 0123456789abcdef 1 {SUM} {}", "n".repeat(256)),
            "ERR TEXT_TOO_LONG a file name is at most 255 bytes",
        );
        check_err::<FileLine>("ACCEPT", "ERR BAD_ARGS usage: ACCEPT <id>");
        check_err::<FileLine>(
            "SEND x",
            "ERR BAD_ARGS a file line is OFFER, ACCEPT, DECLINE or CANCEL",
        );
    }

    #[test]
    fn transfer_headers_round_trip() {
        check(
            "FETCH bob 0123456789abcdef 0",
            Fetch {
                who: "bob".into(),
                id: id(),
                from: 0,
            },
        );
        check(
            "FETCH bob 0123456789abcdef 5242880",
            Fetch {
                who: "bob".into(),
                id: id(),
                from: 5 << 20,
            },
        );
        check(
            "SENDING 0123456789abcdef 5 10",
            Sending::Bytes {
                id: id(),
                from: 5,
                count: 10,
            },
        );
        check(
            "ERR NOT_FOUND no such offer",
            Sending::Err(ErrorCode::NotFound, "no such offer".into()),
        );
        check_err::<Fetch>(
            "FETCH bob 0123456789abcdef",
            "ERR BAD_ARGS usage: FETCH <who> <id> <from>",
        );
        check_err::<Fetch>(
            "FETCH b/b 0123456789abcdef 0",
            super::super::tests::BAD_NAME,
        );
        check_err::<Fetch>(
            "MSG hi",
            "ERR UNKNOWN_COMMAND expected FETCH <who> <id> <from>",
        );
        check_err::<Sending>(
            "SENDING 0123456789abcdef 5",
            "ERR BAD_ARGS usage: SENDING <id> <from> <count>",
        );
    }
}
