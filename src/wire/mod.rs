//! The wire protocol: every line the registry and the peers exchange, as typed
//! values that parse from a `&str` and format back with `Display`. This module
//! owns the grammar of the protocol. It must never do I/O: it does not import
//! `std::net` sockets or `std::io`, so every rule here can be tested with
//! plain strings. Framing bytes into lines is `decode_line`'s job; reading
//! those bytes from a socket belongs to `line.rs`. This file holds what the
//! grammars share: the `ERR` codes, `ParseError`, and word splitting.

mod chat;
mod checks;
mod files;
mod key;
mod lobby;
mod registry;
mod succession;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

pub use chat::{BusyReason, CloseReason, MAX_SEALED_TEXT, ToLeader, ToMember};
pub use checks::{
    LineError, MAX_LINE, MAX_NAME, MAX_PASSWORD, MAX_TEXT, MAX_TICKET, MIN_PASSWORD, check_name,
    check_password, check_text, check_ticket, decode_line, redact, split_text,
};
pub use files::{
    Checksum, Fetch, FileLine, FileOffer, MAX_FILE_NAME, OfferId, Sending, check_file_name,
};
pub use key::{KEY_HALF_LEN, KeyWord};
pub use lobby::{
    ACTION_MARK, InviteStatus, LeftReason, MAX_ACTION, MAX_AWAY, MAX_HISTORY_TEXT, MAX_REASON,
    action_of, action_text, check_away, check_reason, history_pieces, parse_stamp, stamp,
};
pub use registry::{AttemptLimit, ByeReason, Contact, HELP_TEXT, Reply, Request};
pub use succession::{Rejoin, Succession, TOKEN_LEN, ToSeat};

/// The codes of every `ERR <CODE> <text>` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    NameTaken,
    BadName,
    BadPassword,
    BadCredentials,
    BadPort,
    AlreadyJoined,
    NotJoined,
    UnknownCommand,
    BadArgs,
    BadEncoding,
    LineTooLong,
    Offline,
    NotFound,
    TextTooLong,
    BadText,
    TooManyAttempts,
    ServerFull,
    BadTicket,
    TooManyInvites,
    Internal,
    NotInLobby,
    LeaderOnly,
    AlreadyInLobby,
    AlreadyInvited,
    NotLeader,
    BadKey,
}

const ERROR_CODES: &[(ErrorCode, &str)] = &[
    (ErrorCode::NameTaken, "NAME_TAKEN"),
    (ErrorCode::BadName, "BAD_NAME"),
    (ErrorCode::BadPassword, "BAD_PASSWORD"),
    (ErrorCode::BadCredentials, "BAD_CREDENTIALS"),
    (ErrorCode::BadPort, "BAD_PORT"),
    (ErrorCode::AlreadyJoined, "ALREADY_JOINED"),
    (ErrorCode::NotJoined, "NOT_JOINED"),
    (ErrorCode::UnknownCommand, "UNKNOWN_COMMAND"),
    (ErrorCode::BadArgs, "BAD_ARGS"),
    (ErrorCode::BadEncoding, "BAD_ENCODING"),
    (ErrorCode::LineTooLong, "LINE_TOO_LONG"),
    (ErrorCode::Offline, "OFFLINE"),
    (ErrorCode::NotFound, "NOT_FOUND"),
    (ErrorCode::TextTooLong, "TEXT_TOO_LONG"),
    (ErrorCode::BadText, "BAD_TEXT"),
    (ErrorCode::TooManyAttempts, "TOO_MANY_ATTEMPTS"),
    (ErrorCode::ServerFull, "SERVER_FULL"),
    (ErrorCode::BadTicket, "BAD_TICKET"),
    (ErrorCode::TooManyInvites, "TOO_MANY_INVITES"),
    (ErrorCode::Internal, "INTERNAL"),
    (ErrorCode::NotInLobby, "NOT_IN_LOBBY"),
    (ErrorCode::LeaderOnly, "LEADER_ONLY"),
    (ErrorCode::AlreadyInLobby, "ALREADY_IN_LOBBY"),
    (ErrorCode::AlreadyInvited, "ALREADY_INVITED"),
    (ErrorCode::NotLeader, "NOT_LEADER"),
    (ErrorCode::BadKey, "BAD_KEY"),
];

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        ERROR_CODES
            .iter()
            .find(|(code, _)| *code == self)
            .map(|(_, word)| *word)
            .expect("every error code has a word in ERROR_CODES")
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        ERROR_CODES
            .iter()
            .find(|(_, word)| word.eq_ignore_ascii_case(s))
            .map(|(code, _)| *code)
            .ok_or_else(|| ParseError::new(ErrorCode::BadArgs, format!("unknown error code {s}")))
    }
}

/// Why a line could not be parsed. It carries the code and text of the
/// `ERR` reply the other side should get, so a handler can answer it as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text} ({code})")]
pub struct ParseError {
    pub code: ErrorCode,
    pub text: String,
}

impl ParseError {
    pub fn new(code: ErrorCode, text: impl Into<String>) -> ParseError {
        ParseError {
            code,
            text: text.into(),
        }
    }
}

/// Splits a line into its keyword and the words after it.
pub(super) fn words(line: &str) -> (&str, Vec<&str>) {
    let (keyword, rest) = split_word(line);
    (keyword, all_words(rest))
}

/// Whether `c` separates words: a space, a tab, or any other Unicode white
/// space that is not a control character (a no-break space pasted from a
/// document, say). So a line spelled that way is read as the person meant
/// it rather than as one long keyword that an error would echo. A `\r` or
/// other control character is no blank: it stays part of its word.
pub(super) fn is_blank(c: char) -> bool {
    c == '\t' || (c.is_whitespace() && !c.is_control())
}

/// The words of `s`, however many blanks stand between them.
pub(super) fn all_words(s: &str) -> Vec<&str> {
    if s.is_ascii() {
        // In ASCII the blanks are a space and a tab, told by their bytes:
        // every line is split so, and a byte costs less than a character.
        return s
            .as_bytes()
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|w| !w.is_empty())
            .map(|w| std::str::from_utf8(w).expect("a piece of ASCII is UTF-8"))
            .collect();
    }
    s.split(is_blank).filter(|w| !w.is_empty()).collect()
}

/// Splits off the first word of `s` (at any blank) and returns it with the
/// rest, which starts after the spaces that follow the word. Any other
/// blank at the start of the rest is kept: it may begin a message's text.
pub(super) fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches(is_blank);
    match s.split_once(is_blank) {
        Some((word, rest)) => (word, rest.trim_start_matches(' ')),
        None => (s, ""),
    }
}

/// A word that an error or the trace may repeat back: a keyword of the
/// protocol in any case (`msg`), or a short word of capital letters and
/// underscores. Anything else may be a password typed in the wrong place,
/// so it is never echoed.
pub(super) fn echoable(word: &str) -> Option<&str> {
    let short = (1..=MAX_ECHOED_KEYWORD).contains(&word.len());
    let plain = word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    (short && (plain || checks::is_keyword(word))).then_some(word)
}

/// The longest keyword an error repeats back.
const MAX_ECHOED_KEYWORD: usize = 16;

pub(super) fn parse_port(word: &str) -> Result<u16, ParseError> {
    match word.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(ParseError::new(
            ErrorCode::BadPort,
            "the port must be a number from 1 to 65535",
        )),
    }
}

pub(super) fn parse_ip(word: &str) -> Result<IpAddr, ParseError> {
    word.parse()
        .map_err(|_| ParseError::new(ErrorCode::BadArgs, format!("{word} is not an IP address")))
}

pub(super) fn parse_name(word: &str) -> Result<String, ParseError> {
    check_name(word)?;
    Ok(word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    /// ASCII is split by its bytes, anything else by its characters: both
    /// find the same words.
    #[test]
    fn words_are_the_same_split_either_way() {
        for text in ["", "  a\tb  c ", "a\u{a0}b c", "x\u{0b}y z", "\ta  b\t"] {
            let by_chars: Vec<&str> = text.split(is_blank).filter(|w| !w.is_empty()).collect();
            assert_eq!(all_words(text), by_chars, "{text:?}");
        }
    }

    /// `line` parses to `expected`, `expected` formats back to `line`, and
    /// the formatted line parses to `expected` again.
    #[track_caller]
    pub(super) fn check<T>(line: &str, expected: T)
    where
        T: FromStr<Err = ParseError> + fmt::Display + fmt::Debug + PartialEq,
    {
        assert_eq!(line.parse::<T>(), Ok(expected), "parsing {line:?}");
        let expected: T = line.parse().unwrap();
        assert_eq!(expected.to_string(), line, "formatting {expected:?}");
        assert_eq!(
            expected.to_string().parse::<T>(),
            Ok(expected),
            "round trip"
        );
    }

    /// `line` is not canonical (case, spacing) but parses to `expected`,
    /// which formats to `canonical`.
    #[track_caller]
    pub(super) fn check_loose<T>(line: &str, expected: T, canonical: &str)
    where
        T: FromStr<Err = ParseError> + fmt::Display + fmt::Debug + PartialEq,
    {
        assert_eq!(line.parse::<T>(), Ok(expected), "parsing {line:?}");
        let parsed: T = line.parse().unwrap();
        assert_eq!(parsed.to_string(), canonical, "formatting {parsed:?}");
    }

    /// `line` does not parse, and the `ERR` reply its error makes is
    /// `expected`.
    #[track_caller]
    pub(super) fn check_err<T>(line: &str, expected: &str)
    where
        T: FromStr<Err = ParseError> + fmt::Debug,
    {
        match line.parse::<T>() {
            Ok(value) => panic!("{line:?} parsed to {value:?}, expected {expected:?}"),
            Err(err) => assert_eq!(Reply::from(err).to_string(), expected, "parsing {line:?}"),
        }
    }

    pub(super) fn contact(name: &str, ip: &str, port: u16) -> Contact {
        Contact {
            name: name.into(),
            ip: ip.parse().unwrap(),
            port,
            key: None,
            away: None,
        }
    }

    pub(super) const BAD_NAME: &str =
        "ERR BAD_NAME a name is 1 to 32 characters of A-Z a-z 0-9 _ . -";
    pub(super) const BAD_PASSWORD: &str =
        "ERR BAD_PASSWORD a password is 4 to 128 printable characters without spaces";

    #[test]
    fn parse_error_display() {
        let err = ParseError::new(ErrorCode::BadPort, "0 is not a port");
        assert_eq!(err.to_string(), "0 is not a port (BAD_PORT)");
        assert_eq!(Reply::from(err).to_string(), "ERR BAD_PORT 0 is not a port");
    }
}
