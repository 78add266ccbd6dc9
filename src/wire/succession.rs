//! The lines that let a lobby outlive its leader: the lobby id a leader
//! hands each member it admits (`CREDENTIAL`), the roster every member keeps
//! (`SEAT`, with each member's key), the numbers of the messages (`SEQ`), a
//! leader handing the lobby on (`HANDOVER`), and the lines of a member that
//! comes back to a seat: `PROVE` (its challenge to the would-be leader),
//! `PROOF` (that peer's answer) and `REJOIN` (the member's claim, with its
//! own proof).
//!
//! No line here carries a secret: a seat names a public key, a proof is a
//! signature over fresh nonces, so nothing seen on the wire can be replayed.
//! Like the rest of `wire`, this does no I/O. Peers that do not know these
//! lines skip them, as they skip every line they cannot parse.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::crypto::PeerKey;
use crate::crypto::proof::{Nonce, Proof};

use super::{ErrorCode, ParseError, all_words, parse_ip, parse_name, parse_port};

/// The length of a lobby id: 16 random bytes in hex.
pub const TOKEN_LEN: usize = 32;

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

fn parse_key(word: &str) -> Result<PeerKey, ParseError> {
    word.parse()
        .map_err(|err| ParseError::new(ErrorCode::BadArgs, format!("not a key: {err}")))
}

fn parse_nonce(word: &str) -> Result<Nonce, ParseError> {
    word.parse().map_err(|_| {
        ParseError::new(
            ErrorCode::BadArgs,
            "a nonce is 32 bytes in base64 (no padding)",
        )
    })
}

fn parse_proof(word: &str) -> Result<Proof, ParseError> {
    word.parse().map_err(|_| {
        ParseError::new(
            ErrorCode::BadArgs,
            "a proof is 64 bytes in base64 (no padding)",
        )
    })
}

/// A leader-to-member line about the lobby's succession.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Succession {
    /// `CREDENTIAL <lobby>`: to a member just admitted, alone: the lobby's
    /// id, which it names to come back. Its key is its way back.
    Credential { lobby: String },
    /// `SEAT <name> <ip> <port> <key>`: one member of the roster, where it
    /// listens for chat connections, and its public key, which it proves to
    /// lead or to come back. A newcomer gets every seat, the leader's
    /// first, in admission order; the others get the newcomer's after
    /// `JOINED`.
    Seat {
        name: String,
        ip: IpAddr,
        port: u16,
        key: PeerKey,
    },
    /// `SEQ <n>`: the number of the message just sent (`MSG`, or the last
    /// piece of a `HISTORY`); alone, to a member that sent a message, the
    /// number its oldest unnumbered message got.
    Seq(u64),
    /// `HANDOVER <name>`: the leader hands the lobby to `name`; the
    /// connection closes after it, and every member goes to `name`.
    Handover(String),
    /// `PROOF <lobby> <name> <nonce> <sig>`: a would-be leader's answer to
    /// `PROVE`: the lobby it leads, its name, its own fresh nonce, and its
    /// signature (as the leader) over both nonces, its name and the lobby.
    Proof {
        lobby: String,
        name: String,
        nonce: Nonce,
        sig: Proof,
    },
}

impl fmt::Display for Succession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Succession::Credential { lobby } => write!(f, "CREDENTIAL {lobby}"),
            Succession::Seat {
                name,
                ip,
                port,
                key,
            } => write!(f, "SEAT {name} {ip} {port} {key}"),
            Succession::Seq(n) => write!(f, "SEQ {n}"),
            Succession::Handover(name) => write!(f, "HANDOVER {name}"),
            Succession::Proof {
                lobby,
                name,
                nonce,
                sig,
            } => write!(f, "PROOF {lobby} {name} {nonce} {sig}"),
        }
    }
}

impl Succession {
    /// The keywords this type parses, for `ToMember`'s dispatch.
    pub(super) const KEYWORDS: [&'static str; 5] =
        ["CREDENTIAL", "SEAT", "SEQ", "HANDOVER", "PROOF"];

    /// Parses the words after `keyword`, one of `KEYWORDS` in upper case.
    pub(super) fn parse(keyword: &str, rest: &str) -> Result<Succession, ParseError> {
        let args = all_words(rest);
        let usage = |text: &str| ParseError::new(ErrorCode::BadArgs, format!("usage: {text}"));
        match (keyword, args.as_slice()) {
            ("CREDENTIAL", [lobby]) => Ok(Succession::Credential {
                lobby: parse_hex(lobby, TOKEN_LEN, "a lobby id")?,
            }),
            ("CREDENTIAL", _) => Err(usage("CREDENTIAL <lobby>")),
            ("SEAT", [name, ip, port, key]) => Ok(Succession::Seat {
                name: parse_name(name)?,
                ip: parse_ip(ip)?,
                port: parse_port(port)?,
                key: parse_key(key)?,
            }),
            ("SEAT", _) => Err(usage("SEAT <name> <ip> <port> <key>")),
            ("SEQ", [n]) => Ok(Succession::Seq(parse_seq(n)?)),
            ("SEQ", _) => Err(usage("SEQ <n>")),
            ("HANDOVER", [name]) => Ok(Succession::Handover(parse_name(name)?)),
            ("HANDOVER", _) => Err(usage("HANDOVER <name>")),
            ("PROOF", [lobby, name, nonce, sig]) => Ok(Succession::Proof {
                lobby: parse_hex(lobby, TOKEN_LEN, "a lobby id")?,
                name: parse_name(name)?,
                nonce: parse_nonce(nonce)?,
                sig: parse_proof(sig)?,
            }),
            _ => Err(usage("PROOF <lobby> <name> <nonce> <sig>")),
        }
    }
}

/// `REJOIN <lobby> <name> <seq> [<sig>]`: a member that comes back to its
/// lobby, on a connection it opened to a seat's chat port: which lobby,
/// who, the last message it has, and its signature (as the member) over
/// the exchange that `PROVE` began. Under TLS the connection's own key
/// proves who it is, and the signature may be left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejoin {
    pub lobby: String,
    pub name: String,
    pub seq: u64,
    pub sig: Option<Proof>,
}

impl fmt::Display for Rejoin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Rejoin {
            lobby,
            name,
            seq,
            sig,
        } = self;
        write!(f, "REJOIN {lobby} {name} {seq}")?;
        match sig {
            Some(sig) => write!(f, " {sig}"),
            None => Ok(()),
        }
    }
}

/// The lines a member sends to a seat before it is a member again: first
/// `PROVE <nonce>`, and only once the seat's key is proven, `REJOIN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToSeat {
    /// `PROVE <nonce>`: prove the seat's key over this fresh nonce.
    Prove(Nonce),
    Rejoin(Rejoin),
}

impl fmt::Display for ToSeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToSeat::Prove(nonce) => write!(f, "PROVE {nonce}"),
            ToSeat::Rejoin(claim) => claim.fmt(f),
        }
    }
}

impl FromStr for ToSeat {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Self, ParseError> {
        let (keyword, rest) = super::split_word(line);
        if keyword.eq_ignore_ascii_case("REJOIN") {
            return parse_rejoin(rest).map(ToSeat::Rejoin);
        }
        if !keyword.eq_ignore_ascii_case("PROVE") {
            let text = match super::echoable(keyword) {
                Some(keyword) => format!("unknown command {keyword}"),
                None => "unknown command".to_string(),
            };
            return Err(ParseError::new(ErrorCode::UnknownCommand, text));
        }
        match all_words(rest).as_slice() {
            [nonce] => Ok(ToSeat::Prove(parse_nonce(nonce)?)),
            _ => Err(ParseError::new(ErrorCode::BadArgs, "usage: PROVE <nonce>")),
        }
    }
}

fn parse_rejoin(rest: &str) -> Result<Rejoin, ParseError> {
    let (lobby, name, seq, sig) = match all_words(rest).as_slice() {
        [lobby, name, seq] => (*lobby, *name, *seq, None),
        [lobby, name, seq, sig] => (*lobby, *name, *seq, Some(*sig)),
        _ => {
            return Err(ParseError::new(
                ErrorCode::BadArgs,
                "usage: REJOIN <lobby> <name> <seq> [<sig>]",
            ));
        }
    };
    Ok(Rejoin {
        lobby: parse_hex(lobby, TOKEN_LEN, "a lobby id")?,
        name: parse_name(name)?,
        seq: parse_seq(seq)?,
        sig: sig.map(parse_proof).transpose()?,
    })
}

impl FromStr for Rejoin {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Self, ParseError> {
        match line.parse::<ToSeat>()? {
            ToSeat::Rejoin(claim) => Ok(claim),
            ToSeat::Prove(_) => Err(ParseError::new(
                ErrorCode::UnknownCommand,
                "unknown command PROVE",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{IdentityKey, SealKey};
    use crate::wire::ToMember;
    use crate::wire::tests::{BAD_NAME, check, check_err};

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn key() -> PeerKey {
        PeerKey {
            identity: IdentityKey::from_bytes([7; 32]),
            seal: SealKey::from_bytes([9; 32]),
        }
    }

    fn nonce() -> Nonce {
        Nonce::from_bytes([3; 32])
    }

    fn sig() -> Proof {
        "A".repeat(86).parse().unwrap()
    }

    #[test]
    fn succession_lines_round_trip() {
        check(
            &format!("CREDENTIAL {ID}"),
            ToMember::Succession(Succession::Credential { lobby: ID.into() }),
        );
        for ip in ["127.0.0.1", "::1"] {
            check(
                &format!("SEAT bob {ip} 4000 {}", key()),
                ToMember::Succession(Succession::Seat {
                    name: "bob".into(),
                    ip: ip.parse().unwrap(),
                    port: 4000,
                    key: key(),
                }),
            );
        }
        check("SEQ 0", ToMember::Succession(Succession::Seq(0)));
        check("SEQ 17", ToMember::Succession(Succession::Seq(17)));
        check(
            "HANDOVER carol",
            ToMember::Succession(Succession::Handover("carol".into())),
        );
        check(
            &format!("PROOF {ID} bob {} {}", nonce(), sig()),
            ToMember::Succession(Succession::Proof {
                lobby: ID.into(),
                name: "bob".into(),
                nonce: nonce(),
                sig: sig(),
            }),
        );
        check(&format!("PROVE {}", nonce()), ToSeat::Prove(nonce()));
        let claim = Rejoin {
            lobby: ID.into(),
            name: "bob".into(),
            seq: 12,
            sig: None,
        };
        check(&format!("REJOIN {ID} bob 12"), claim.clone());
        check(
            &format!("REJOIN {ID} bob 12"),
            ToSeat::Rejoin(claim.clone()),
        );
        let signed = Rejoin {
            sig: Some(sig()),
            ..claim
        };
        check(&format!("REJOIN {ID} bob 12 {}", sig()), signed.clone());
        check(
            &format!("REJOIN {ID} bob 12 {}", sig()),
            ToSeat::Rejoin(signed),
        );
    }

    #[test]
    fn bad_succession_lines() {
        check_err::<ToMember>(
            "CREDENTIAL abc",
            "ERR BAD_ARGS a lobby id is 32 lowercase hex digits",
        );
        // The old credential, with a secret, is no longer a line.
        check_err::<ToMember>(
            &format!("CREDENTIAL {ID} {ID}"),
            "ERR BAD_ARGS usage: CREDENTIAL <lobby>",
        );
        check_err::<ToMember>(
            &format!("SEAT bob 127.0.0.1 4000 {}", "ab".repeat(32)),
            "ERR BAD_ARGS not a key: a peer key is two base64 keys joined by a dot",
        );
        check_err::<ToMember>(&format!("SEAT b!b 127.0.0.1 4000 {}", key()), BAD_NAME);
        check_err::<ToMember>(
            "SEAT bob 127.0.0.1 4000",
            "ERR BAD_ARGS usage: SEAT <name> <ip> <port> <key>",
        );
        check_err::<ToMember>("SEQ", "ERR BAD_ARGS usage: SEQ <n>");
        check_err::<ToMember>("SEQ -1", "ERR BAD_ARGS -1 is not a message number");
        check_err::<ToMember>("HANDOVER", "ERR BAD_ARGS usage: HANDOVER <name>");
        check_err::<ToMember>(
            &format!("PROOF {ID} bob {}", nonce()),
            "ERR BAD_ARGS usage: PROOF <lobby> <name> <nonce> <sig>",
        );
        check_err::<ToMember>(
            &format!("PROOF {ID} bob AAAA {}", sig()),
            "ERR BAD_ARGS a nonce is 32 bytes in base64 (no padding)",
        );
        check_err::<ToSeat>("PROVE", "ERR BAD_ARGS usage: PROVE <nonce>");
        check_err::<ToSeat>(
            "PROVE abc",
            "ERR BAD_ARGS a nonce is 32 bytes in base64 (no padding)",
        );
        check_err::<Rejoin>(
            &format!("REJOIN {ID} bob"),
            "ERR BAD_ARGS usage: REJOIN <lobby> <name> <seq> [<sig>]",
        );
        // The old claim, with a secret where the number was, is refused.
        check_err::<Rejoin>(
            &format!("REJOIN {ID} bob {ID} 1"),
            &format!("ERR BAD_ARGS {ID} is not a message number"),
        );
        check_err::<Rejoin>(
            &format!("REJOIN {ID} bob 1 {ID}"),
            "ERR BAD_ARGS a proof is 64 bytes in base64 (no padding)",
        );
        check_err::<Rejoin>("HELLO", "ERR UNKNOWN_COMMAND unknown command HELLO");
        check_err::<ToSeat>("HELLO", "ERR UNKNOWN_COMMAND unknown command HELLO");
    }
}
