//! The lines that let a lobby outlive its leader: the credential a leader
//! hands each member it admits (`CREDENTIAL`), the roster every member keeps
//! (`SEAT`), the numbers of the messages (`SEQ`), a leader handing the lobby
//! on (`HANDOVER`), and the first line a member sends to come back to a
//! lobby, to its leader or to a successor (`REJOIN`).
//!
//! Like the rest of `wire`, this does no I/O. Peers that do not know these
//! lines skip them, as they skip every line they cannot parse.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::{ErrorCode, ParseError, all_words, parse_ip, parse_name, parse_port};

/// The length of a lobby id and of a member's secret: 16 random bytes in hex.
pub const TOKEN_LEN: usize = 32;
/// The length of a verifier: a 32-byte hash in hex.
pub const VERIFIER_LEN: usize = 64;

/// Checks that `word` is `len` lowercase hex digits, and returns it.
fn parse_hex(word: &str, len: usize, what: &str) -> Result<String, ParseError> {
    let hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
    if word.len() != len || !word.chars().all(hex) {
        return Err(ParseError::new(
            ErrorCode::BadArgs,
            format!("{what} is {len} lowercase hex digits"),
        ));
    }
    Ok(word.to_string())
}

fn parse_seq(word: &str) -> Result<u64, ParseError> {
    word.parse().map_err(|_| {
        ParseError::new(
            ErrorCode::BadArgs,
            format!("{word} is not a message number"),
        )
    })
}

/// A leader-to-member line about the lobby's succession.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Succession {
    /// `CREDENTIAL <lobby> <secret>`: to a member just admitted, alone: the
    /// lobby's id and this member's secret, which it shows to come back.
    Credential { lobby: String, secret: String },
    /// `SEAT <name> <ip> <port> <verifier>`: one member of the roster, where
    /// it listens for chat connections, and the hash of its secret. A
    /// newcomer gets every seat, the leader's first, in admission order;
    /// the others get the newcomer's after `JOINED`.
    Seat {
        name: String,
        ip: IpAddr,
        port: u16,
        verifier: String,
    },
    /// `SEQ <n>`: the number of the message just sent (`MSG`, or the last
    /// piece of a `HISTORY`); alone, to a member that sent a message, the
    /// number its oldest unnumbered message got.
    Seq(u64),
    /// `HANDOVER <name>`: the leader hands the lobby to `name`; the
    /// connection closes after it, and every member goes to `name`.
    Handover(String),
}

impl fmt::Display for Succession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Succession::Credential { lobby, secret } => write!(f, "CREDENTIAL {lobby} {secret}"),
            Succession::Seat {
                name,
                ip,
                port,
                verifier,
            } => write!(f, "SEAT {name} {ip} {port} {verifier}"),
            Succession::Seq(n) => write!(f, "SEQ {n}"),
            Succession::Handover(name) => write!(f, "HANDOVER {name}"),
        }
    }
}

impl Succession {
    /// The keywords this type parses, for `ToMember`'s dispatch.
    pub(super) const KEYWORDS: [&'static str; 4] = ["CREDENTIAL", "SEAT", "SEQ", "HANDOVER"];

    /// Parses the words after `keyword`, one of `KEYWORDS` in upper case.
    pub(super) fn parse(keyword: &str, rest: &str) -> Result<Succession, ParseError> {
        let args = all_words(rest);
        let usage = |text: &str| ParseError::new(ErrorCode::BadArgs, format!("usage: {text}"));
        match (keyword, args.as_slice()) {
            ("CREDENTIAL", [lobby, secret]) => Ok(Succession::Credential {
                lobby: parse_hex(lobby, TOKEN_LEN, "a lobby id")?,
                secret: parse_hex(secret, TOKEN_LEN, "a secret")?,
            }),
            ("CREDENTIAL", _) => Err(usage("CREDENTIAL <lobby> <secret>")),
            ("SEAT", [name, ip, port, verifier]) => Ok(Succession::Seat {
                name: parse_name(name)?,
                ip: parse_ip(ip)?,
                port: parse_port(port)?,
                verifier: parse_hex(verifier, VERIFIER_LEN, "a verifier")?,
            }),
            ("SEAT", _) => Err(usage("SEAT <name> <ip> <port> <verifier>")),
            ("SEQ", [n]) => Ok(Succession::Seq(parse_seq(n)?)),
            ("SEQ", _) => Err(usage("SEQ <n>")),
            ("HANDOVER", [name]) => Ok(Succession::Handover(parse_name(name)?)),
            _ => Err(usage("HANDOVER <name>")),
        }
    }
}

/// `REJOIN <lobby> <name> <secret> <seq>`: the first line of a member that
/// comes back to its lobby, on a connection it opens to the leader's chat
/// port: which lobby, who, the proof, and the last message it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejoin {
    pub lobby: String,
    pub name: String,
    pub secret: String,
    pub seq: u64,
}

impl fmt::Display for Rejoin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Rejoin {
            lobby,
            name,
            secret,
            seq,
        } = self;
        write!(f, "REJOIN {lobby} {name} {secret} {seq}")
    }
}

impl FromStr for Rejoin {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Self, ParseError> {
        let (keyword, rest) = super::split_word(line);
        if !keyword.eq_ignore_ascii_case("REJOIN") {
            let text = match super::echoable(keyword) {
                Some(keyword) => format!("unknown command {keyword}"),
                None => "unknown command".to_string(),
            };
            return Err(ParseError::new(ErrorCode::UnknownCommand, text));
        }
        match all_words(rest).as_slice() {
            [lobby, name, secret, seq] => Ok(Rejoin {
                lobby: parse_hex(lobby, TOKEN_LEN, "a lobby id")?,
                name: parse_name(name)?,
                secret: parse_hex(secret, TOKEN_LEN, "a secret")?,
                seq: parse_seq(seq)?,
            }),
            _ => Err(ParseError::new(
                ErrorCode::BadArgs,
                "usage: REJOIN <lobby> <name> <secret> <seq>",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ToMember;
    use crate::wire::tests::{BAD_NAME, check, check_err};

    const ID: &str = "0123456789abcdef0123456789abcdef";
    const SECRET: &str = "fedcba9876543210fedcba9876543210";

    fn verifier() -> String {
        "ab".repeat(32)
    }

    #[test]
    fn succession_lines_round_trip() {
        check(
            &format!("CREDENTIAL {ID} {SECRET}"),
            ToMember::Succession(Succession::Credential {
                lobby: ID.into(),
                secret: SECRET.into(),
            }),
        );
        check(
            &format!("SEAT bob 127.0.0.1 4000 {}", verifier()),
            ToMember::Succession(Succession::Seat {
                name: "bob".into(),
                ip: "127.0.0.1".parse().unwrap(),
                port: 4000,
                verifier: verifier(),
            }),
        );
        check(
            &format!("SEAT bob ::1 4000 {}", verifier()),
            ToMember::Succession(Succession::Seat {
                name: "bob".into(),
                ip: "::1".parse().unwrap(),
                port: 4000,
                verifier: verifier(),
            }),
        );
        check("SEQ 0", ToMember::Succession(Succession::Seq(0)));
        check("SEQ 17", ToMember::Succession(Succession::Seq(17)));
        check(
            "HANDOVER carol",
            ToMember::Succession(Succession::Handover("carol".into())),
        );
        check(
            &format!("REJOIN {ID} bob {SECRET} 12"),
            Rejoin {
                lobby: ID.into(),
                name: "bob".into(),
                secret: SECRET.into(),
                seq: 12,
            },
        );
    }

    #[test]
    fn bad_succession_lines() {
        check_err::<ToMember>(
            "CREDENTIAL abc def",
            "ERR BAD_ARGS a lobby id is 32 lowercase hex digits",
        );
        check_err::<ToMember>(
            &format!("CREDENTIAL {ID}"),
            "ERR BAD_ARGS usage: CREDENTIAL <lobby> <secret>",
        );
        check_err::<ToMember>(
            &format!("SEAT bob 127.0.0.1 4000 {}", "AB".repeat(32)),
            "ERR BAD_ARGS a verifier is 64 lowercase hex digits",
        );
        check_err::<ToMember>(&format!("SEAT b!b 127.0.0.1 4000 {}", verifier()), BAD_NAME);
        check_err::<ToMember>("SEQ", "ERR BAD_ARGS usage: SEQ <n>");
        check_err::<ToMember>("SEQ -1", "ERR BAD_ARGS -1 is not a message number");
        check_err::<ToMember>("HANDOVER", "ERR BAD_ARGS usage: HANDOVER <name>");
        check_err::<Rejoin>(
            &format!("REJOIN {ID} bob {SECRET}"),
            "ERR BAD_ARGS usage: REJOIN <lobby> <name> <secret> <seq>",
        );
        check_err::<Rejoin>(
            &format!("REJOIN {ID} bob {ID}x 1"),
            "ERR BAD_ARGS a secret is 32 lowercase hex digits",
        );
        check_err::<Rejoin>("HELLO", "ERR UNKNOWN_COMMAND unknown command HELLO");
    }
}
