//! The chat grammar: the lines a lobby leader sends its invitees and members
//! (`ToMember`) and the lines they send back (`ToLeader`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::lobby::{
    InviteStatus, LeftReason, MAX_HISTORY_TEXT, check_away, check_reason, format_stamp, parse_stamp,
};
use crate::crypto::PeerKey;
use crate::crypto::seal::Sealed;

use super::files::FileLine;
use super::succession::Succession;
use super::{
    ErrorCode, MAX_LINE, MAX_NAME, ParseError, all_words, check_text, check_ticket, echoable,
    parse_name, split_word,
};

/// Peers have no HELP to point to.
fn unknown_between_peers(keyword: &str) -> ParseError {
    let text = match echoable(keyword) {
        Some(keyword) => format!("unknown command {keyword}"),
        None => "unknown command".to_string(),
    };
    ParseError::new(ErrorCode::UnknownCommand, text)
}

/// Why a lobby ends: the `CLOSED <reason>` line, the last one a member gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// `LEADER_LEFT`: the leader left, and nobody could take the lobby on.
    LeaderLeft,
    /// `ENDED`: the leader ended the lobby for everyone (`/end`).
    Ended,
    /// `DUPLICATE`: someone with the invitee's name is in the lobby already.
    Duplicate,
    /// `KICKED [<reason>]`: the leader removed this member, saying why or not.
    Kicked(Option<String>),
    /// Any other reason a leader gives, kept as written: the rest of the
    /// line, never empty, never starting with a space, without line breaks.
    Other(String),
}

impl CloseReason {
    const KNOWN: [(CloseReason, &'static str); 3] = [
        (CloseReason::LeaderLeft, "LEADER_LEFT"),
        (CloseReason::Ended, "ENDED"),
        (CloseReason::Duplicate, "DUPLICATE"),
    ];
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::LeaderLeft => f.write_str("LEADER_LEFT"),
            CloseReason::Ended => f.write_str("ENDED"),
            CloseReason::Duplicate => f.write_str("DUPLICATE"),
            CloseReason::Kicked(None) => f.write_str("KICKED"),
            CloseReason::Kicked(Some(why)) => write!(f, "KICKED {why}"),
            CloseReason::Other(text) => f.write_str(text),
        }
    }
}

/// Any text is a reason. The known words are matched in any case; the rest
/// is kept, made fit for the end of a line: line breaks become spaces and
/// leading spaces go, and a reason left empty is `LEADER_LEFT`, since
/// `CLOSED` without one would not parse.
impl From<&str> for CloseReason {
    fn from(text: &str) -> CloseReason {
        let text = text.replace(['\r', '\n'], " ");
        let text = text.trim_start_matches(' ');
        if text.trim().is_empty() {
            return CloseReason::LeaderLeft;
        }
        let (word, why) = split_word(text);
        if word.eq_ignore_ascii_case("KICKED") {
            return CloseReason::Kicked((!why.trim().is_empty()).then(|| why.to_string()));
        }
        CloseReason::KNOWN
            .into_iter()
            .find(|(_, word)| word.eq_ignore_ascii_case(text))
            .map_or_else(
                || CloseReason::Other(text.to_string()),
                |(reason, _)| reason,
            )
    }
}

/// A line from a lobby leader to an invitee or member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToMember {
    /// `CHAT_REQUEST <leader> [<ticket>]`: the first line on a chat
    /// connection. The ticket, from the registry, proves who the leader is.
    ChatRequest {
        leader: String,
        ticket: Option<String>,
    },
    /// `MEMBERS <name> ...`: everyone in the lobby, the leader first.
    Members(Vec<String>),
    /// `JOINED <name>`
    Joined(String),
    /// `MSG <from> <text>`
    Msg { from: String, text: String },
    /// `LEFT <name> <reason>`: `name` is no longer in the lobby, and why.
    Left { name: String, reason: LeftReason },
    /// `CLOSED <reason>`: the lobby is over; the last line.
    Closed(CloseReason),
    /// `ERR <CODE> <text>`
    Err(ErrorCode, String),
    /// `HELLO`: the leader is still there.
    Hello,
    /// `HISTORY <time> <from> <text>`: a message said before this member
    /// was admitted, replayed right after `MEMBERS`, oldest first.
    History {
        at: DateTime<Utc>,
        from: String,
        text: String,
    },
    /// `PM <from> <text>`: a private message to this member alone, which
    /// the leader could read.
    Private { from: String, text: String },
    /// `PM <from> SEALED <sealed>`: a private message sealed by `from` to
    /// this member, which the leader relayed without being able to read it.
    Sealed { from: String, sealed: Sealed },
    /// `KICKED <name> [<reason>]`: the leader removed `name`; `LEFT <name>`
    /// follows, for members that do not know this line.
    Kicked {
        name: String,
        reason: Option<String>,
    },
    /// `INVITATION <name> <status>`: an invitation into this lobby went out,
    /// or how it ended.
    Invitation { name: String, status: InviteStatus },
    /// `FILE <from> <file-line>`: a file offer from `from`, or its answer,
    /// relayed like a private message (`wire/files.rs`).
    File { from: String, line: FileLine },
    /// `CREDENTIAL`, `SEAT`, `SEQ`, `HANDOVER`: how the lobby goes on
    /// without its leader (`wire/succession.rs`).
    Succession(Succession),
    /// `AWAY <name> [<text>]`: `name` is away (the text may be empty).
    Away { name: String, text: String },
    /// `BACK <name>`: `name` is back.
    Back(String),
}

impl fmt::Display for ToMember {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToMember::ChatRequest {
                leader,
                ticket: None,
            } => write!(f, "CHAT_REQUEST {leader}"),
            ToMember::ChatRequest {
                leader,
                ticket: Some(ticket),
            } => write!(f, "CHAT_REQUEST {leader} {ticket}"),
            ToMember::Members(names) => write!(f, "MEMBERS {}", names.join(" ")),
            ToMember::Joined(name) => write!(f, "JOINED {name}"),
            ToMember::Msg { from, text } => write!(f, "MSG {from} {text}"),
            ToMember::Left { name, reason } => write!(f, "LEFT {name} {reason}"),
            ToMember::Closed(reason) => write!(f, "CLOSED {reason}"),
            ToMember::Err(code, text) => write!(f, "ERR {code} {text}"),
            ToMember::Hello => f.write_str("HELLO"),
            ToMember::History { at, from, text } => {
                write!(f, "HISTORY {} {from} {text}", format_stamp(at))
            }
            ToMember::Private { from, text } => write!(f, "PM {from} {text}"),
            ToMember::Sealed { from, sealed } => write!(f, "PM {from} {SEALED} {sealed}"),
            ToMember::Kicked { name, reason: None } => write!(f, "KICKED {name}"),
            ToMember::Kicked {
                name,
                reason: Some(why),
            } => write!(f, "KICKED {name} {why}"),
            ToMember::Invitation { name, status } => write!(f, "INVITATION {name} {status}"),
            ToMember::File { from, line } => write!(f, "FILE {from} {line}"),
            ToMember::Succession(line) => line.fmt(f),
            ToMember::Away { name, text } if text.is_empty() => write!(f, "AWAY {name}"),
            ToMember::Away { name, text } => write!(f, "AWAY {name} {text}"),
            ToMember::Back(name) => write!(f, "BACK {name}"),
        }
    }
}

fn one_name(keyword: &str, args: &[&str]) -> Result<String, ParseError> {
    match args {
        [name] => parse_name(name),
        _ => Err(ParseError::new(
            ErrorCode::BadArgs,
            format!("usage: {keyword} <name>"),
        )),
    }
}

impl FromStr for ToMember {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Self, ParseError> {
        let (keyword, rest) = split_word(line);
        let args = all_words(rest);
        match keyword.to_ascii_uppercase().as_str() {
            "CHAT_REQUEST" => parse_chat_request(&args),
            "HELLO" if args.is_empty() => Ok(ToMember::Hello),
            "MEMBERS" => parse_members(&args),
            "JOINED" => Ok(ToMember::Joined(one_name("JOINED", &args)?)),
            "LEFT" => parse_left(&args),
            "MSG" => name_and_text(rest).map(|(from, text)| ToMember::Msg { from, text }),
            "PM" => match private(rest)? {
                Private::Plain(from, text) => Ok(ToMember::Private { from, text }),
                Private::Sealed(from, sealed) => Ok(ToMember::Sealed { from, sealed }),
            },
            "HISTORY" => parse_history(rest),
            "FILE" => file(rest).map(|(from, line)| ToMember::File { from, line }),
            word if Succession::KEYWORDS.contains(&word) => {
                Ok(ToMember::Succession(Succession::parse(word, rest)?))
            }
            "AWAY" => {
                let (name, text) = split_word(rest);
                check_away(text)?;
                Ok(ToMember::Away {
                    name: parse_name(name)?,
                    text: text.to_string(),
                })
            }
            "BACK" => Ok(ToMember::Back(one_name("BACK", &args)?)),
            "KICKED" | "INVITATION" if rest.is_empty() => Err(needs(keyword, "a name")),
            "KICKED" => parse_kicked(rest),
            "INVITATION" => parse_invitation(rest),
            "CLOSED" if rest.is_empty() => Err(needs(keyword, "an argument")),
            "CLOSED" => Ok(ToMember::Closed(CloseReason::from(rest))),
            "ERR" => {
                let (code, text) = split_word(rest);
                Ok(ToMember::Err(code.parse()?, text.to_string()))
            }
            _ => Err(unknown_between_peers(keyword)),
        }
    }
}

fn needs(keyword: &str, what: &str) -> ParseError {
    ParseError::new(ErrorCode::BadArgs, format!("{keyword} needs {what}"))
}

fn parse_chat_request(args: &[&str]) -> Result<ToMember, ParseError> {
    let (leader, ticket) = match args {
        [leader] => (leader, None),
        [leader, ticket] => {
            check_ticket(ticket)?;
            (leader, Some(ticket.to_string()))
        }
        _ => {
            return Err(ParseError::new(
                ErrorCode::BadArgs,
                "usage: CHAT_REQUEST <leader> [<ticket>]",
            ));
        }
    };
    Ok(ToMember::ChatRequest {
        leader: parse_name(leader)?,
        ticket,
    })
}

fn parse_members(args: &[&str]) -> Result<ToMember, ParseError> {
    if args.is_empty() {
        return Err(needs("MEMBERS", "an argument"));
    }
    let names = args
        .iter()
        .map(|n| parse_name(n))
        .collect::<Result<_, _>>()?;
    Ok(ToMember::Members(names))
}

/// `LEFT <name> <reason>`, or an older leader's `LEFT <name>`, which says
/// no more than that the name left.
fn parse_left(args: &[&str]) -> Result<ToMember, ParseError> {
    let (name, reason) = match args {
        [name] => (name, LeftReason::Left),
        [name, reason] => (name, reason.parse()?),
        _ => {
            return Err(ParseError::new(
                ErrorCode::BadArgs,
                "usage: LEFT <name> [<reason>]",
            ));
        }
    };
    Ok(ToMember::Left {
        name: parse_name(name)?,
        reason,
    })
}

fn parse_kicked(rest: &str) -> Result<ToMember, ParseError> {
    let (name, why) = split_word(rest);
    Ok(ToMember::Kicked {
        name: parse_name(name)?,
        reason: optional_reason(why)?,
    })
}

fn parse_invitation(rest: &str) -> Result<ToMember, ParseError> {
    let (name, status) = split_word(rest);
    Ok(ToMember::Invitation {
        name: parse_name(name)?,
        status: status.parse()?,
    })
}

/// Why an invitee answers `BUSY`: the word after it, which older peers
/// leave out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusyReason {
    /// Plain `BUSY`, or a word this side does not know.
    Unsaid,
    /// `BUSY ANSWERING`: another chat request waits for its user's answer.
    Answering,
    /// `BUSY IN_CHAT`: its user is in a lobby.
    InChat,
}

impl BusyReason {
    fn word(self) -> &'static str {
        match self {
            BusyReason::Unsaid => "",
            BusyReason::Answering => "ANSWERING",
            BusyReason::InChat => "IN_CHAT",
        }
    }

    fn from_word(word: &str) -> BusyReason {
        [BusyReason::Answering, BusyReason::InChat]
            .into_iter()
            .find(|reason| reason.word().eq_ignore_ascii_case(word))
            .unwrap_or(BusyReason::Unsaid)
    }
}

/// `<name> <text>`, the shape of `MSG` and `PM` lines in both directions.
fn name_and_text(rest: &str) -> Result<(String, String), ParseError> {
    let (name, text) = split_word(rest);
    let name = parse_name(name)?;
    check_text(text)?;
    Ok((name, text.to_string()))
}

/// `<name> <file-line>`, the rest of a `FILE` line either way.
fn file(rest: &str) -> Result<(String, FileLine), ParseError> {
    let (name, line) = split_word(rest);
    Ok((parse_name(name)?, line.parse()?))
}

/// The word after a `PM`'s name that says the rest is sealed.
const SEALED: &str = "SEALED";

/// The longest text a sealed `PM` can hold: the sealed word takes the room
/// `PM <name> SEALED ` leaves, HPKE's key (43 characters and a dot) comes
/// first, the ciphertext is base64 (4 characters a 3 bytes) and ends in a
/// 16-byte tag.
pub const MAX_SEALED_TEXT: usize =
    (MAX_LINE - "PM ".len() - MAX_NAME - " SEALED ".len() - 44) * 3 / 4 - 16;

/// A `PM` line's name and what follows it.
enum Private {
    Plain(String, String),
    Sealed(String, Sealed),
}

/// `<name> <text>` or `<name> SEALED <sealed>`: text that is exactly the
/// word `SEALED` and a word that is no sealed message stays plain text.
fn private(rest: &str) -> Result<Private, ParseError> {
    let (name, text) = name_and_text(rest)?;
    let (word, after) = split_word(&text);
    if word == SEALED
        && let [one] = all_words(after).as_slice()
        && let Ok(sealed) = one.parse::<Sealed>()
    {
        return Ok(Private::Sealed(name, sealed));
    }
    Ok(Private::Plain(name, text))
}

/// `OK` alone, or `OK <key>`.
fn accept(rest: &str) -> Result<ToLeader, ParseError> {
    match all_words(rest).as_slice() {
        [] => Ok(ToLeader::Accept(None)),
        [key] => {
            let key = key
                .parse()
                .map_err(|err| ParseError::new(ErrorCode::BadArgs, format!("not a key: {err}")))?;
            Ok(ToLeader::Accept(Some(key)))
        }
        _ => Err(ParseError::new(ErrorCode::BadArgs, "usage: OK [<key>]")),
    }
}

/// A kick's reason: short message text, or none.
fn optional_reason(why: &str) -> Result<Option<String>, ParseError> {
    if why.trim().is_empty() {
        return Ok(None);
    }
    check_reason(why)?;
    Ok(Some(why.to_string()))
}

fn parse_history(rest: &str) -> Result<ToMember, ParseError> {
    let (at, rest) = split_word(rest);
    let at = parse_stamp(at)?;
    let (from, text) = name_and_text(rest)?;
    if text.len() > MAX_HISTORY_TEXT {
        return Err(ParseError::new(
            ErrorCode::TextTooLong,
            format!("a replayed message is at most {MAX_HISTORY_TEXT} bytes a line"),
        ));
    }
    Ok(ToMember::History { at, from, text })
}

/// A line from an invitee or member to the lobby leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToLeader {
    /// `OK [<key>]`: the invitation is accepted, by a member whose key is
    /// `key` (a peer played by hand may have none).
    Accept(Option<PeerKey>),
    /// `REJECT`: the user said no.
    Reject,
    /// `BUSY [<why>]`: the peer is in a lobby, already has a request
    /// waiting, or cannot be asked now.
    Busy(BusyReason),
    /// `MSG <text>`: the leader adds the sender's name when relaying.
    Msg(String),
    /// `LEAVE`: the member leaves the lobby.
    Leave,
    /// `HELLO`: the member is still there.
    Hello,
    /// `INVITE <name>`: please invite `name` into this lobby.
    Invite(String),
    /// `PM <to> <text>`: a private message for `to` alone, which the leader
    /// relays as `PM <sender> <text>`.
    Private { to: String, text: String },
    /// `PM <to> SEALED <sealed>`: a private message sealed to `to`, which
    /// the leader relays as `PM <sender> SEALED <sealed>`.
    Sealed { to: String, sealed: Sealed },
    /// `FILE <to> <file-line>`: a file offer for `to`, or an answer to one,
    /// which the leader relays as `FILE <sender> <file-line>`.
    File { to: String, line: FileLine },
    /// `AWAY [<text>]`: the member is away; the leader relays it as
    /// `AWAY <sender> [<text>]`.
    Away(String),
    /// `BACK`: the member is back.
    Back,
}

impl fmt::Display for ToLeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToLeader::Accept(None) => f.write_str("OK"),
            ToLeader::Accept(Some(key)) => write!(f, "OK {key}"),
            ToLeader::Reject => f.write_str("REJECT"),
            ToLeader::Busy(BusyReason::Unsaid) => f.write_str("BUSY"),
            ToLeader::Busy(reason) => write!(f, "BUSY {}", reason.word()),
            ToLeader::Msg(text) => write!(f, "MSG {text}"),
            ToLeader::Leave => f.write_str("LEAVE"),
            ToLeader::Hello => f.write_str("HELLO"),
            ToLeader::Invite(name) => write!(f, "INVITE {name}"),
            ToLeader::Private { to, text } => write!(f, "PM {to} {text}"),
            ToLeader::Sealed { to, sealed } => write!(f, "PM {to} {SEALED} {sealed}"),
            ToLeader::File { to, line } => write!(f, "FILE {to} {line}"),
            ToLeader::Away(text) if text.is_empty() => f.write_str("AWAY"),
            ToLeader::Away(text) => write!(f, "AWAY {text}"),
            ToLeader::Back => f.write_str("BACK"),
        }
    }
}

impl FromStr for ToLeader {
    type Err = ParseError;
    fn from_str(line: &str) -> Result<Self, ParseError> {
        let (keyword, rest) = split_word(line);
        let bare = |msg: ToLeader| {
            if rest.is_empty() {
                Ok(msg)
            } else {
                Err(ParseError::new(
                    ErrorCode::BadArgs,
                    format!("usage: {}", keyword.to_ascii_uppercase()),
                ))
            }
        };
        match keyword.to_ascii_uppercase().as_str() {
            "OK" => accept(rest),
            "REJECT" => bare(ToLeader::Reject),
            // A word this side does not know yet still means busy.
            "BUSY" => Ok(ToLeader::Busy(BusyReason::from_word(split_word(rest).0))),
            "LEAVE" => bare(ToLeader::Leave),
            "HELLO" => bare(ToLeader::Hello),
            "BACK" => bare(ToLeader::Back),
            "AWAY" => {
                check_away(rest)?;
                Ok(ToLeader::Away(rest.to_string()))
            }
            "MSG" => {
                check_text(rest)?;
                Ok(ToLeader::Msg(rest.to_string()))
            }
            "INVITE" => Ok(ToLeader::Invite(one_name("INVITE", &all_words(rest))?)),
            "FILE" => file(rest).map(|(to, line)| ToLeader::File { to, line }),
            "PM" if rest.is_empty() => Err(ParseError::new(
                ErrorCode::BadArgs,
                "usage: PM <name> <text>",
            )),
            "PM" => match private(rest)? {
                Private::Plain(to, text) => Ok(ToLeader::Private { to, text }),
                Private::Sealed(to, sealed) => Ok(ToLeader::Sealed { to, sealed }),
            },
            _ => Err(unknown_between_peers(keyword)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tests::*;
    use crate::wire::*;

    #[test]
    fn to_member_text_lines() {
        check(
            "MSG bob hello  there, all!",
            ToMember::Msg {
                from: "bob".into(),
                text: "hello  there, all!".into(),
            },
        );
        check(
            "CLOSED the leader left",
            ToMember::Closed(CloseReason::Other("the leader left".into())),
        );
        check(
            "CLOSED LEADER_LEFT",
            ToMember::Closed(CloseReason::LeaderLeft),
        );
        check("CLOSED DUPLICATE", ToMember::Closed(CloseReason::Duplicate));
        check_loose(
            "CLOSED leader_left",
            ToMember::Closed(CloseReason::LeaderLeft),
            "CLOSED LEADER_LEFT",
        );
        check(
            "ERR TEXT_TOO_LONG too long",
            ToMember::Err(ErrorCode::TextTooLong, "too long".into()),
        );
        check_loose(
            "msg  bob hi",
            ToMember::Msg {
                from: "bob".into(),
                text: "hi".into(),
            },
            "MSG bob hi",
        );
    }

    /// `AWAY [text]` and `BACK` to the leader; `AWAY <name> [text]` and
    /// `BACK <name>` from it.
    #[test]
    fn away_lines() {
        check("AWAY lunch  break", ToLeader::Away("lunch  break".into()));
        check("AWAY", ToLeader::Away(String::new()));
        check("BACK", ToLeader::Back);
        check_err::<ToLeader>("BACK again", "ERR BAD_ARGS usage: BACK");
        check_err::<ToLeader>(
            &format!("AWAY {}", "x".repeat(MAX_AWAY + 1)),
            "ERR TEXT_TOO_LONG an away text is at most 120 bytes",
        );
        check(
            "AWAY erin lunch",
            ToMember::Away {
                name: "erin".into(),
                text: "lunch".into(),
            },
        );
        check(
            "AWAY erin",
            ToMember::Away {
                name: "erin".into(),
                text: String::new(),
            },
        );
        check("BACK erin", ToMember::Back("erin".into()));
        check_err::<ToMember>("BACK", "ERR BAD_ARGS usage: BACK <name>");
        check_err::<ToMember>("AWAY b!d lunch", BAD_NAME);
        check_err::<ToMember>(
            "AWAY erin \u{202e}x",
            "ERR BAD_TEXT message text must not hold control or bidi characters (U+202E)",
        );
    }

    #[test]
    fn to_member_keeps_every_argument() {
        check(
            "CHAT_REQUEST alice",
            ToMember::ChatRequest {
                leader: "alice".into(),
                ticket: None,
            },
        );
        check(
            "CHAT_REQUEST alice T1ck3t",
            ToMember::ChatRequest {
                leader: "alice".into(),
                ticket: Some("T1ck3t".into()),
            },
        );
        check("HELLO", ToMember::Hello);
        check(
            "MEMBERS alice bob carol",
            ToMember::Members(vec!["alice".into(), "bob".into(), "carol".into()]),
        );
        check("MEMBERS alice", ToMember::Members(vec!["alice".into()]));
        check("JOINED bob", ToMember::Joined("bob".into()));
        let left = |name: &str, reason| ToMember::Left {
            name: name.into(),
            reason,
        };
        check("LEFT bob LEFT", left("bob", LeftReason::Left));
        check("LEFT bob LOST", left("bob", LeftReason::Lost));
        check("LEFT bob SILENT", left("bob", LeftReason::Silent));
        check("LEFT bob SLOW", left("bob", LeftReason::Slow));
        check("LEFT bob TOO_LONG", left("bob", LeftReason::TooLong));
        check("LEFT bob KICKED", left("bob", LeftReason::Kicked));
        check_loose(
            "left Bob lost",
            left("Bob", LeftReason::Lost),
            "LEFT Bob LOST",
        );
        // An older leader's line, without a reason: the name left.
        check_loose("LEFT bob", left("bob", LeftReason::Left), "LEFT bob LEFT");
    }

    #[test]
    fn longest_relayed_message_fits_a_line() {
        let msg = ToMember::Msg {
            from: "n".repeat(MAX_NAME),
            text: "t".repeat(MAX_TEXT),
        };
        assert_eq!(msg.to_string().len(), MAX_LINE);
        check(&msg.to_string(), msg);
    }

    #[test]
    fn bad_to_member() {
        let too_long = "t".repeat(MAX_TEXT + 1);
        check_err::<ToMember>(
            "CHAT_REQUEST",
            "ERR BAD_ARGS usage: CHAT_REQUEST <leader> [<ticket>]",
        );
        check_err::<ToMember>("JOINED", "ERR BAD_ARGS usage: JOINED <name>");
        check_err::<ToMember>("MEMBERS", "ERR BAD_ARGS MEMBERS needs an argument");
        check_err::<ToMember>("CLOSED", "ERR BAD_ARGS CLOSED needs an argument");
        check_err::<ToMember>("MSG b!b hi", BAD_NAME);
        check_err::<ToMember>("MSG bob", "ERR BAD_ARGS a message needs some text");
        check_err::<ToMember>("MSG bob    ", "ERR BAD_ARGS a message needs some text");
        check_err::<ToMember>(
            &format!("MSG bob {too_long}"),
            "ERR TEXT_TOO_LONG a message is at most 987 bytes",
        );
        check_err::<ToMember>("ERR NOPE x", "ERR BAD_ARGS unknown error code NOPE");
        check_err::<ToMember>("WHAT", "ERR UNKNOWN_COMMAND unknown command WHAT");
    }

    #[test]
    fn to_member_argument_errors() {
        check_err::<ToMember>(
            "CHAT_REQUEST a b c",
            "ERR BAD_ARGS usage: CHAT_REQUEST <leader> [<ticket>]",
        );
        check_err::<ToMember>("CHAT_REQUEST b!b", BAD_NAME);
        check_err::<ToMember>(
            "CHAT_REQUEST alice t-t",
            "ERR BAD_TICKET a ticket is 1 to 64 letters and digits",
        );
        check_err::<ToMember>("LEFT", "ERR BAD_ARGS usage: LEFT <name> [<reason>]");
        check_err::<ToMember>("LEFT a b c", "ERR BAD_ARGS usage: LEFT <name> [<reason>]");
        check_err::<ToMember>(
            "LEFT a GONE",
            "ERR BAD_ARGS a reason for LEFT is LEFT, LOST, SILENT, SLOW, TOO_LONG or KICKED",
        );
        check_err::<ToMember>("LEFT b!b LEFT", BAD_NAME);
        check_err::<ToMember>("JOINED b!b", BAD_NAME);
        check_err::<ToMember>("MEMBERS b!b alice", BAD_NAME);
        check_err::<ToMember>("MEMBERS alice b!b", BAD_NAME);
    }

    #[test]
    fn close_reasons_from_any_text() {
        for (text, reason) in [
            ("LEADER_LEFT", CloseReason::LeaderLeft),
            ("ended", CloseReason::Ended),
            ("Duplicate", CloseReason::Duplicate),
            ("SHUTDOWN", CloseReason::Other("SHUTDOWN".into())),
            ("  two\r\nlines", CloseReason::Other("two  lines".into())),
            ("", CloseReason::LeaderLeft),
            (" \n ", CloseReason::LeaderLeft),
        ] {
            assert_eq!(CloseReason::from(text), reason, "{text:?}");
        }
    }

    #[test]
    fn to_leader() {
        check("OK", ToLeader::Accept(None));
        check("REJECT", ToLeader::Reject);
        check("BUSY", ToLeader::Busy(BusyReason::Unsaid));
        check("BUSY ANSWERING", ToLeader::Busy(BusyReason::Answering));
        check("BUSY IN_CHAT", ToLeader::Busy(BusyReason::InChat));
        assert_eq!(
            "busy in_chat".parse::<ToLeader>(),
            Ok(ToLeader::Busy(BusyReason::InChat))
        );
        assert_eq!(
            "BUSY DANCING".parse::<ToLeader>(),
            Ok(ToLeader::Busy(BusyReason::Unsaid))
        );
        check("LEAVE", ToLeader::Leave);
        check("HELLO", ToLeader::Hello);
        check("MSG hello there", ToLeader::Msg("hello there".into()));
        check(
            &format!("MSG {}", "t".repeat(MAX_TEXT)),
            ToLeader::Msg("t".repeat(MAX_TEXT)),
        );
        check_loose("ok", ToLeader::Accept(None), "OK");
        check_loose("Leave", ToLeader::Leave, "LEAVE");
        check_loose("msg   hi", ToLeader::Msg("hi".into()), "MSG hi");
    }

    #[test]
    fn keys_and_sealed_messages_round_trip() {
        use crate::crypto::seal::{Binding, SealSecret, seal};
        use crate::crypto::{IdentityKey, SealKey};
        let key = PeerKey {
            identity: IdentityKey::from_bytes([1; 32]),
            seal: SealKey::from_bytes([2; 32]),
        };
        check(&format!("OK {key}"), ToLeader::Accept(Some(key)));
        let binding = Binding {
            lobby: "l",
            sender: "alice",
            recipient: "bob",
        };
        let alice = SealSecret::from_bytes(&[3; 32]);
        let bob = SealSecret::from_bytes(&[4; 32]);
        let text = "t".repeat(MAX_SEALED_TEXT);
        let sealed = seal(&alice, &bob.public(), &binding, &text).unwrap();
        let to = "n".repeat(MAX_NAME);
        let line = format!("PM {to} SEALED {sealed}");
        assert!(line.len() <= MAX_LINE, "the longest sealed PM fits a line");
        check(
            &line,
            ToLeader::Sealed {
                to: to.clone(),
                sealed: sealed.clone(),
            },
        );
        check(
            &format!("PM alice SEALED {sealed}"),
            ToMember::Sealed {
                from: "alice".into(),
                sealed,
            },
        );
        // Text that only looks sealed stays plain.
        for text in ["SEALED", "SEALED not.sealed!", "SEALED a b", "sealed x"] {
            check(
                &format!("PM bob {text}"),
                ToLeader::Private {
                    to: "bob".into(),
                    text: text.into(),
                },
            );
        }
    }

    #[test]
    fn bad_to_leader() {
        check_err::<ToLeader>(
            "OK now",
            "ERR BAD_ARGS not a key: a peer key is two base64 keys joined by a dot",
        );
        check_err::<ToLeader>("OK a b", "ERR BAD_ARGS usage: OK [<key>]");
        check_err::<ToLeader>("reject x", "ERR BAD_ARGS usage: REJECT");
        check_err::<ToLeader>("LEAVE x", "ERR BAD_ARGS usage: LEAVE");
        check_err::<ToLeader>("hello x", "ERR BAD_ARGS usage: HELLO");
        check_err::<ToLeader>("MSG", "ERR BAD_ARGS a message needs some text");
        check_err::<ToLeader>(
            &format!("MSG {}", "t".repeat(MAX_TEXT + 1)),
            "ERR TEXT_TOO_LONG a message is at most 987 bytes",
        );
        check_err::<ToLeader>("QUIT", "ERR UNKNOWN_COMMAND unknown command QUIT");
    }

    fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
        crate::wire::parse_stamp(text).unwrap()
    }

    #[test]
    fn lines_of_a_running_lobby_to_members() {
        check(
            "HISTORY 2026-12-03T07:30:05Z bob hello  there ",
            ToMember::History {
                at: at("2026-12-03T07:30:05Z"),
                from: "bob".into(),
                text: "hello  there ".into(),
            },
        );
        check(
            "PM bob just you and me",
            ToMember::Private {
                from: "bob".into(),
                text: "just you and me".into(),
            },
        );
        check(
            "KICKED bob",
            ToMember::Kicked {
                name: "bob".into(),
                reason: None,
            },
        );
        check(
            "KICKED bob too many capitals",
            ToMember::Kicked {
                name: "bob".into(),
                reason: Some("too many capitals".into()),
            },
        );
        check(
            "INVITATION dave SENT bob",
            ToMember::Invitation {
                name: "dave".into(),
                status: InviteStatus::Sent { by: "bob".into() },
            },
        );
        for (word, status) in [
            ("REJECTED", InviteStatus::Rejected),
            ("BUSY", InviteStatus::Busy),
            ("NO_ANSWER", InviteStatus::NoAnswer),
            ("OFFLINE", InviteStatus::Offline),
            ("UNREACHABLE", InviteStatus::Unreachable),
        ] {
            check(
                &format!("INVITATION dave {word}"),
                ToMember::Invitation {
                    name: "dave".into(),
                    status,
                },
            );
        }
        check_loose(
            "invitation dave no_answer",
            ToMember::Invitation {
                name: "dave".into(),
                status: InviteStatus::NoAnswer,
            },
            "INVITATION dave NO_ANSWER",
        );
        check("CLOSED KICKED", ToMember::Closed(CloseReason::Kicked(None)));
        check(
            "CLOSED KICKED be nice",
            ToMember::Closed(CloseReason::Kicked(Some("be nice".into()))),
        );
        check(
            "ERR NOT_IN_LOBBY carol is not in this lobby",
            ToMember::Err(ErrorCode::NotInLobby, "carol is not in this lobby".into()),
        );
        for code in [
            "LEADER_ONLY",
            "ALREADY_IN_LOBBY",
            "ALREADY_INVITED",
            "TOO_MANY_INVITES",
        ] {
            let line = format!("ERR {code} why");
            assert_eq!(line.parse::<ToMember>().unwrap().to_string(), line);
        }
    }

    #[test]
    fn the_longest_replayed_piece_fits_a_line() {
        let line = ToMember::History {
            at: at("2026-12-03T07:30:05Z"),
            from: "n".repeat(MAX_NAME),
            text: "t".repeat(MAX_HISTORY_TEXT),
        };
        assert_eq!(line.to_string().len(), MAX_LINE);
        check(&line.to_string(), line);
        let private = ToMember::Private {
            from: "n".repeat(MAX_NAME),
            text: "t".repeat(MAX_TEXT),
        };
        assert!(private.to_string().len() <= MAX_LINE);
        check(&private.to_string(), private);
    }

    #[test]
    fn bad_lines_of_a_running_lobby_to_members() {
        check_err::<ToMember>(
            "HISTORY 07:30 bob hi",
            "ERR BAD_ARGS 07:30 is not a time like 2026-01-31T23:59:59Z",
        );
        check_err::<ToMember>(
            "HISTORY 2026-12-03T07:30:05Z bob",
            "ERR BAD_ARGS a message needs some text",
        );
        check_err::<ToMember>(
            &format!(
                "HISTORY 2026-12-03T07:30:05Z bob {}",
                "t".repeat(MAX_HISTORY_TEXT + 1)
            ),
            "ERR TEXT_TOO_LONG a replayed message is at most 962 bytes a line",
        );
        check_err::<ToMember>("PM b!b hi", BAD_NAME);
        check_err::<ToMember>("PM bob", "ERR BAD_ARGS a message needs some text");
        check_err::<ToMember>("KICKED", "ERR BAD_ARGS KICKED needs a name");
        check_err::<ToMember>(
            &format!("KICKED bob {}", "r".repeat(MAX_REASON + 1)),
            "ERR TEXT_TOO_LONG a reason is at most 200 bytes",
        );
        check_err::<ToMember>("INVITATION", "ERR BAD_ARGS INVITATION needs a name");
        check_err::<ToMember>("INVITATION dave SENT", "ERR BAD_ARGS usage: SENT <by>");
        check_err::<ToMember>("INVITATION dave SENT a b", "ERR BAD_ARGS usage: SENT <by>");
        check_err::<ToMember>(
            "INVITATION dave LOST",
            "ERR BAD_ARGS an invitation status is SENT <by>, REJECTED, BUSY, NO_ANSWER, OFFLINE or UNREACHABLE",
        );
        check_err::<ToMember>(
            "INVITATION dave BUSY now",
            "ERR BAD_ARGS an invitation status is SENT <by>, REJECTED, BUSY, NO_ANSWER, OFFLINE or UNREACHABLE",
        );
    }

    #[test]
    fn lines_of_a_running_lobby_to_the_leader() {
        check("INVITE dave", ToLeader::Invite("dave".into()));
        check(
            "PM carol psst  carol",
            ToLeader::Private {
                to: "carol".into(),
                text: "psst  carol".into(),
            },
        );
        check_loose(
            "invite  dave",
            ToLeader::Invite("dave".into()),
            "INVITE dave",
        );
        check(
            &format!("PM {} {}", "n".repeat(MAX_NAME), "t".repeat(MAX_TEXT)),
            ToLeader::Private {
                to: "n".repeat(MAX_NAME),
                text: "t".repeat(MAX_TEXT),
            },
        );
        check_err::<ToLeader>("INVITE", "ERR BAD_ARGS usage: INVITE <name>");
        check_err::<ToLeader>("INVITE a b", "ERR BAD_ARGS usage: INVITE <name>");
        check_err::<ToLeader>("INVITE b!b", BAD_NAME);
        check_err::<ToLeader>("PM carol", "ERR BAD_ARGS a message needs some text");
        check_err::<ToLeader>("PM", "ERR BAD_ARGS usage: PM <name> <text>");
        check_err::<ToLeader>("PM b!b hi", BAD_NAME);
        check_err::<ToLeader>(
            &format!("PM carol {}", "t".repeat(MAX_TEXT + 1)),
            "ERR TEXT_TOO_LONG a message is at most 987 bytes",
        );
    }
}
