//! What the lines of a running lobby's commands carry: the status of an
//! invitation sent while the chat goes on (`INVITATION`), why someone left
//! (`LEFT`), and the time stamp and pieces of a message replayed to a late
//! joiner (`HISTORY`).
//!
//! Like the rest of `wire`, this does no I/O and keeps no clock: the caller
//! hands in the time.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

use super::{ErrorCode, MAX_LINE, MAX_NAME, ParseError, check_text, parse_name, split_word};

/// How a `HISTORY` line writes its time: UTC to the second, 20 characters.
const STAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";
const STAMP_LEN: usize = "2026-01-01T00:00:00Z".len();

/// The longest text one `HISTORY <time> <from> <text>` line carries, so the
/// line fits in `MAX_LINE` whatever the sender's name. It is shorter than
/// `MAX_TEXT`, so a long message is replayed in two pieces
/// (`history_pieces`).
pub const MAX_HISTORY_TEXT: usize = MAX_LINE - "HISTORY ".len() - STAMP_LEN - 1 - MAX_NAME - 1;

/// The longest reason a kick may give, in bytes: short enough that
/// `KICKED <name> <reason>` fits in a line whatever the name.
pub const MAX_REASON: usize = 200;

/// Checks a kick's reason: message text of at most `MAX_REASON` bytes.
pub fn check_reason(why: &str) -> Result<(), ParseError> {
    check_text(why)?;
    if why.len() > MAX_REASON {
        return Err(ParseError::new(
            ErrorCode::TextTooLong,
            format!("a reason is at most {MAX_REASON} bytes"),
        ));
    }
    Ok(())
}

/// The longest away text (`/away lunch`), in bytes: a short note beside a
/// name in a list, never a message.
pub const MAX_AWAY: usize = 120;

/// Checks an away text: empty (away without a word), or message text of at
/// most `MAX_AWAY` bytes, so no control or bidi character reaches anyone's
/// screen through a list or a notice.
pub fn check_away(text: &str) -> Result<(), ParseError> {
    if text.is_empty() {
        return Ok(());
    }
    check_text(text)?;
    if text.len() > MAX_AWAY {
        return Err(ParseError::new(
            ErrorCode::TextTooLong,
            format!("an away text is at most {MAX_AWAY} bytes"),
        ));
    }
    Ok(())
}

/// What a message's text begins with when it is an action (`/me waves`,
/// shown as `* bob waves`): a marked `MSG`, so a peer that knows no actions
/// still shows it readably (`[bob] /me waves`), and the history, the
/// numbering and succession carry it as they carry any message.
pub const ACTION_MARK: &str = "/me ";

/// The longest action, in bytes: with its mark it fits one `HISTORY` line,
/// so a late joiner sees it whole, and as an action.
pub const MAX_ACTION: usize = MAX_HISTORY_TEXT - ACTION_MARK.len();

/// The text of the `MSG` that does `action`: checked as any message's text
/// is, and at most `MAX_ACTION` bytes.
pub fn action_text(action: &str) -> Result<String, ParseError> {
    check_text(action)?;
    if action.len() > MAX_ACTION {
        return Err(ParseError::new(
            ErrorCode::TextTooLong,
            format!("an action is at most {MAX_ACTION} bytes"),
        ));
    }
    Ok(format!("{ACTION_MARK}{action}"))
}

/// The action a message's text does, if it is one.
pub fn action_of(text: &str) -> Option<&str> {
    let action = text.strip_prefix(ACTION_MARK)?.trim_start_matches(' ');
    (!action.is_empty()).then_some(action)
}

/// `time` as a `HISTORY` line stamps it, to the second.
pub fn stamp(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(0)
}

/// Parses the time word of a `HISTORY` line.
pub fn parse_stamp(word: &str) -> Result<DateTime<Utc>, ParseError> {
    NaiveDateTime::parse_from_str(word, STAMP_FORMAT)
        .map(|time| time.and_utc())
        .map_err(|_| {
            ParseError::new(
                ErrorCode::BadArgs,
                format!("{word} is not a time like 2026-01-31T23:59:59Z"),
            )
        })
}

pub(super) fn format_stamp(time: &DateTime<Utc>) -> impl fmt::Display + '_ {
    time.format(STAMP_FORMAT)
}

/// Splits a message's text into pieces of at most `MAX_HISTORY_TEXT` bytes,
/// at character boundaries, none starting with a space (the parser would
/// take such a space for a separator and lose it).
pub fn history_pieces(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while rest.len() > MAX_HISTORY_TEXT {
        let mut cut = MAX_HISTORY_TEXT;
        while cut > 0 && (!rest.is_char_boundary(cut) || rest[cut..].starts_with(' ')) {
            cut -= 1;
        }
        if cut == 0 {
            // Only spaces after the first character: nothing a parser could
            // take apart, and nothing a reader would miss.
            break;
        }
        pieces.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    pieces.push(rest);
    pieces
}

/// What became of an invitation sent into a running lobby, as every member
/// is told in `INVITATION <name> <status>`. An accepted one is told by
/// `JOINED <name>` instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteStatus {
    /// `SENT <by>`: a chat request went out, because `<by>` asked (the
    /// leader's own name when the leader typed `/invite`).
    Sent { by: String },
    /// `REJECTED`: the user said no.
    Rejected,
    /// `BUSY`: the user is in another lobby or answering another request.
    Busy,
    /// `NO_ANSWER`: no answer within the leader's invite timeout.
    NoAnswer,
    /// `OFFLINE`: the registry says the user is not online (or not a user).
    Offline,
    /// `UNREACHABLE`: the user's peer could not be reached.
    Unreachable,
}

const STATUS_WORDS: [(InviteStatus, &str); 5] = [
    (InviteStatus::Rejected, "REJECTED"),
    (InviteStatus::Busy, "BUSY"),
    (InviteStatus::NoAnswer, "NO_ANSWER"),
    (InviteStatus::Offline, "OFFLINE"),
    (InviteStatus::Unreachable, "UNREACHABLE"),
];

impl fmt::Display for InviteStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InviteStatus::Sent { by } => write!(f, "SENT {by}"),
            other => {
                let word = STATUS_WORDS
                    .iter()
                    .find(|(status, _)| status == other)
                    .map(|(_, word)| *word)
                    .expect("every status but SENT has a word");
                f.write_str(word)
            }
        }
    }
}

impl FromStr for InviteStatus {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (word, rest) = split_word(s);
        if word.eq_ignore_ascii_case("SENT") {
            return match split_word(rest) {
                (by, "") if !by.is_empty() => Ok(InviteStatus::Sent {
                    by: parse_name(by)?,
                }),
                _ => Err(ParseError::new(ErrorCode::BadArgs, "usage: SENT <by>")),
            };
        }
        let status = STATUS_WORDS
            .iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(word))
            .map(|(status, _)| status.clone());
        match status {
            Some(status) if rest.is_empty() => Ok(status),
            _ => Err(ParseError::new(
                ErrorCode::BadArgs,
                "an invitation status is SENT <by>, REJECTED, BUSY, NO_ANSWER, OFFLINE or UNREACHABLE",
            )),
        }
    }
}

/// Why someone is no longer in the lobby: the word after the name in
/// `LEFT <name> <reason>`. Only the leader sends it, to every member, and
/// a member keeps nothing of it but a name gone from its list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftReason {
    /// `LEFT`: it chose to leave (a member's `LEAVE`, a leader's `/leave`).
    /// An older leader's `LEFT <name>`, without a reason, reads as this.
    Left,
    /// `LOST`: its connection broke; it may come back (`REJOIN`).
    Lost,
    /// `SILENT`: nothing came from it for the leader's lobby timeout.
    Silent,
    /// `SLOW`: it stopped reading, and what waited for it passed the limit.
    Slow,
    /// `TOO_LONG`: it sent a line longer than a line may be.
    TooLong,
    /// `KICKED`: the leader removed it; the `KICKED` line before says why.
    Kicked,
}

const LEFT_WORDS: [(LeftReason, &str); 6] = [
    (LeftReason::Left, "LEFT"),
    (LeftReason::Lost, "LOST"),
    (LeftReason::Silent, "SILENT"),
    (LeftReason::Slow, "SLOW"),
    (LeftReason::TooLong, "TOO_LONG"),
    (LeftReason::Kicked, "KICKED"),
];

impl fmt::Display for LeftReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = LEFT_WORDS
            .iter()
            .find(|(reason, _)| reason == self)
            .map(|(_, word)| *word)
            .expect("every reason has a word");
        f.write_str(word)
    }
}

impl FromStr for LeftReason {
    type Err = ParseError;
    fn from_str(word: &str) -> Result<Self, ParseError> {
        LEFT_WORDS
            .iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(word))
            .map(|(reason, _)| *reason)
            .ok_or_else(|| {
                ParseError::new(
                    ErrorCode::BadArgs,
                    "a reason for LEFT is LEFT, LOST, SILENT, SLOW, TOO_LONG or KICKED",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MAX_TEXT;

    #[test]
    fn stamps_are_to_the_second_in_utc() {
        let time = parse_stamp("2026-12-03T07:30:05Z").unwrap();
        assert_eq!(format_stamp(&time).to_string(), "2026-12-03T07:30:05Z");
        for bad in ["2026-12-03 07:30:05", "2026-12-03T07:30:05", "07:30", ""] {
            assert_eq!(
                parse_stamp(bad).unwrap_err().code,
                ErrorCode::BadArgs,
                "{bad:?}"
            );
        }
        let precise = time + chrono::Duration::milliseconds(250);
        assert_eq!(stamp(precise), time);
    }

    #[test]
    fn long_texts_are_replayed_in_pieces_that_keep_every_byte() {
        for text in [
            "short".to_string(),
            "t".repeat(MAX_HISTORY_TEXT),
            "t".repeat(MAX_TEXT),
            "ğ".repeat(MAX_TEXT / 2),
            format!("{}{}", "a".repeat(MAX_HISTORY_TEXT), " b".repeat(10)),
            format!("{}{}", "a".repeat(MAX_HISTORY_TEXT - 1), "  b"),
        ] {
            let pieces = history_pieces(&text);
            assert_eq!(pieces.concat(), text);
            assert!(pieces.iter().all(|p| p.len() <= MAX_HISTORY_TEXT));
            assert!(pieces.iter().all(|p| !p.starts_with(' ')), "{pieces:?}");
            assert_eq!(pieces.len(), text.len().div_ceil(MAX_HISTORY_TEXT).max(1));
        }
    }

    #[test]
    fn an_action_is_a_marked_message_that_fits_one_history_line() {
        assert_eq!(action_text("waves").unwrap(), "/me waves");
        assert_eq!(action_of("/me waves"), Some("waves"));
        assert_eq!(action_of("/me   waves  "), Some("waves  "));
        assert_eq!(action_of("/me "), None);
        assert_eq!(action_of("/meow"), None);
        assert_eq!(action_of("waves"), None);
        let longest = "w".repeat(MAX_ACTION);
        let text = action_text(&longest).unwrap();
        assert_eq!(history_pieces(&text), [text.as_str()]);
        let err = action_text(&format!("{longest}w")).unwrap_err();
        assert_eq!(err.code, ErrorCode::TextTooLong);
        assert_eq!(action_text(" waves").unwrap_err().code, ErrorCode::BadArgs);
        assert_eq!(action_text("a\u{7}b").unwrap_err().code, ErrorCode::BadText);
    }

    #[test]
    fn every_reason_for_leaving_reads_back_in_any_case_and_no_other_word_does() {
        for (reason, word) in LEFT_WORDS {
            assert_eq!(reason.to_string(), word);
            assert_eq!(word.parse::<LeftReason>().unwrap(), reason);
            assert_eq!(word.to_lowercase().parse::<LeftReason>().unwrap(), reason);
        }
        for bad in ["", "GONE", "LEFT_", "kicked by alice"] {
            let err = bad.parse::<LeftReason>().unwrap_err();
            assert_eq!(err.code, ErrorCode::BadArgs, "{bad:?}");
        }
    }
}
