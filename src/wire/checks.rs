//! The limits of the protocol and the checks of its free-form fields: names,
//! passwords, message texts, tickets; the decoding of one line's bytes; and
//! `redact`, which hides passwords in any line before it is printed.

use std::borrow::Cow;
use std::fmt;

use super::{ErrorCode, ParseError};

/// The longest line either side accepts, in bytes, without its line ending.
pub const MAX_LINE: usize = 1024;
/// The longest user name, in characters (names are ASCII, so also bytes).
pub const MAX_NAME: usize = 32;
/// The shortest and longest password, in characters.
pub const MIN_PASSWORD: usize = 4;
pub const MAX_PASSWORD: usize = 128;
/// The longest chat message text: a relayed `MSG <from> <text>` line must fit
/// in `MAX_LINE` whatever the sender's name is.
pub const MAX_TEXT: usize = MAX_LINE - "MSG ".len() - MAX_NAME - 1;

/// The longest invitation ticket either side accepts.
pub const MAX_TICKET: usize = 64;

/// Why a run of bytes is not a protocol line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineError {
    /// More than `MAX_LINE` bytes came before the newline.
    TooLong,
    /// The bytes are not UTF-8.
    BadEncoding,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::TooLong => write!(f, "line is longer than {MAX_LINE} bytes"),
            LineError::BadEncoding => f.write_str("line is not valid UTF-8"),
        }
    }
}

/// Turns the bytes of one line (without its `\n`) into text: drops a trailing
/// `\r` as telnet sends it, then checks the length and the encoding.
pub fn decode_line(raw: &[u8]) -> Result<&str, LineError> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.len() > MAX_LINE {
        return Err(LineError::TooLong);
    }
    std::str::from_utf8(raw).map_err(|_| LineError::BadEncoding)
}

/// Checks a user name: 1 to 32 characters of `A-Z a-z 0-9 _ . -`, not
/// starting with a dot, and not a name Windows reserves for a device. A name
/// becomes a folder and a file name of the chat logs, so `..` or `CON` must
/// never be one.
pub fn check_name(name: &str) -> Result<(), ParseError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(ok_char) {
        return Err(ParseError::new(
            ErrorCode::BadName,
            format!("a name is 1 to {MAX_NAME} characters of A-Z a-z 0-9 _ . -"),
        ));
    }
    if name.starts_with('.') {
        return Err(ParseError::new(
            ErrorCode::BadName,
            "a name must not start with a dot",
        ));
    }
    if is_reserved_on_windows(name) {
        return Err(ParseError::new(
            ErrorCode::BadName,
            format!("{name} is a device name on Windows; pick another"),
        ));
    }
    Ok(())
}

/// `CON`, `PRN`, `AUX`, `NUL`, `COM1`..`COM9`, `LPT1`..`LPT9`, in any case,
/// alone or before a dot: Windows opens the device, not a file, by that name.
fn is_reserved_on_windows(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).to_ascii_uppercase();
    match stem.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => {
            let (prefix, digit) = stem.split_at(stem.len().min(3));
            matches!(prefix, "COM" | "LPT")
                && digit.len() == 1
                && digit.as_bytes()[0].is_ascii_digit()
                && digit != "0"
        }
    }
}

/// Checks a password: 4 to 128 printable characters, no spaces.
pub fn check_password(password: &str) -> Result<(), ParseError> {
    let count = password.chars().count();
    let printable = password
        .chars()
        .all(|c| !c.is_control() && !c.is_whitespace());
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&count) || !printable {
        return Err(ParseError::new(
            ErrorCode::BadPassword,
            format!(
                "a password is {MIN_PASSWORD} to {MAX_PASSWORD} printable characters without spaces"
            ),
        ));
    }
    Ok(())
}

/// Checks the text of a chat message: not blank, no line breaks, no control
/// characters (a tab aside) and no bidirectional formatting characters,
/// short enough to be relayed. A control character could move the cursor
/// or retitle a terminal, and a bidi override could make one name read as
/// another: either way a member could pass as someone else.
pub fn check_text(text: &str) -> Result<(), ParseError> {
    if text.trim().is_empty() {
        return Err(ParseError::new(
            ErrorCode::BadArgs,
            "a message needs some text",
        ));
    }
    // Plain ASCII holds neither line breaks nor unsafe characters, and is
    // told by its bytes, which costs far less than its characters.
    let plain = crate::sanitize::is_plain_ascii(text);
    if text.starts_with(' ') || (!plain && text.contains(['\r', '\n'])) {
        return Err(ParseError::new(
            ErrorCode::BadArgs,
            "message text must not start with a space or hold a line break",
        ));
    }
    if !plain && let Some(c) = text.chars().find(|&c| crate::sanitize::is_unsafe(c)) {
        return Err(ParseError::new(
            ErrorCode::BadText,
            format!(
                "message text must not hold control or bidi characters (U+{:04X})",
                c as u32
            ),
        ));
    }
    if text.len() > MAX_TEXT {
        return Err(ParseError::new(
            ErrorCode::TextTooLong,
            format!("a message is at most {MAX_TEXT} bytes"),
        ));
    }
    Ok(())
}

/// How a typed message too long for one `MSG` line is sent: as several
/// texts of at most `MAX_TEXT` bytes each, in order, with nothing left out.
/// A letter is never cut in two (ç and ş take two bytes, an emoji four),
/// and a cut goes after a space where one is in the second half of a piece,
/// so that words stay whole. Spaces that would start a piece are dropped,
/// since a text may not start with a space. A text that fits is one piece.
pub fn split_text(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text.trim_start_matches(' ');
    while rest.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        if let Some(space) = rest[..end].rfind(' ')
            && space >= end / 2
        {
            end = space + 1;
        }
        pieces.push(&rest[..end]);
        rest = rest[end..].trim_start_matches(' ');
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// Checks an invitation ticket: 1 to 64 letters and digits.
pub fn check_ticket(ticket: &str) -> Result<(), ParseError> {
    if ticket.is_empty()
        || ticket.len() > MAX_TICKET
        || !ticket.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(ParseError::new(
            ErrorCode::BadTicket,
            format!("a ticket is 1 to {MAX_TICKET} letters and digits"),
        ));
    }
    Ok(())
}

/// The lines that carry a secret, and where: the keyword, how many words
/// its arguments are, the first of them that is secret, whether the
/// last one (a number) is shown, and whether a public key may follow it.
struct Secretive {
    keyword: &'static str,
    words: usize,
    secret_from: usize,
    shows_last: bool,
    key_last: bool,
}

const SECRETIVE: &[Secretive] = &[
    // REGISTER <name> <password>
    Secretive {
        keyword: "REGISTER",
        words: 2,
        secret_from: 1,
        shows_last: false,
        key_last: false,
    },
    // JOIN <name> <password> <port> [key]
    Secretive {
        keyword: "JOIN",
        words: 3,
        secret_from: 1,
        shows_last: true,
        key_last: true,
    },
    // No line of a lobby's succession is here: `CREDENTIAL` and `REJOIN`
    // carry no secret, and a `PROOF` or a `REJOIN`'s signature is bound to
    // nonces that are never used again, so showing them gives nothing away.
];

/// Every keyword of the registry, invitation and lobby protocols. A line
/// that starts with another word may be a mistyped `JOIN` holding a
/// password, so `redact` shows nothing after it.
pub(super) const KEYWORDS: &[&str] = &[
    "REGISTER",
    "NAME",
    "JOIN",
    "HELLO",
    "LIST",
    "SEARCH",
    "INVITE",
    "CHECK",
    "LOGOUT",
    "HELP",
    "AWAY",
    "BACK",
    "OK",
    "ERR",
    "BYE",
    "USER",
    "CHAT_REQUEST",
    "REJECT",
    "BUSY",
    "MEMBERS",
    "JOINED",
    "MSG",
    "LEFT",
    "CLOSED",
    "HISTORY",
    "PM",
    "KICKED",
    "INVITATION",
    "LEAVE",
    "CREDENTIAL",
    "SEAT",
    "SEQ",
    "HANDOVER",
    "REJOIN",
    "PROVE",
    "PROOF",
];

/// Whether `word` is a keyword of the protocol, in any case.
pub(super) fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// A copy of a line that is safe to print: a password or a lobby secret
/// becomes `****`. A `REGISTER` or `JOIN` shows only its name and a JOIN's
/// port and key.
/// A line with fewer words than its request needs may have lost its name
/// rather than its secret (`JOIN hunter22secret`), so every word after its
/// keyword is hidden. A line whose first word is no keyword at all
/// (`JOINX alice s3cret 5000`, or a password typed alone) shows nothing
/// but that word, and not even it unless it could be a keyword
/// (`super::echoable`). Works on any line, parsed or not.
pub fn redact(line: &str) -> Cow<'_, str> {
    let spans = word_spans(line);
    let Some((&(kw_start, kw_end), args)) = spans.split_first() else {
        return Cow::Borrowed(line);
    };
    let keyword = &line[kw_start..kw_end];
    if !is_keyword(keyword) {
        return redact_unknown(line, kw_start, keyword, !args.is_empty());
    }
    let Some(rule) = SECRETIVE
        .iter()
        .find(|rule| keyword.eq_ignore_ascii_case(rule.keyword))
    else {
        return Cow::Borrowed(line);
    };
    let args = without_public_key(line, rule, args);
    let (Some(&(first, _)), Some(&(_, last_end))) = (args.first(), args.last()) else {
        return Cow::Borrowed(line);
    };
    let hide = |from: usize, to: usize| Cow::Owned(format!("{}****{}", &line[..from], &line[to..]));
    if args.len() < rule.words {
        return hide(first, last_end);
    }
    let secret_start = args[rule.secret_from].0;
    let last = &line[args[args.len() - 1].0..last_end];
    if rule.shows_last && last.bytes().all(|b| b.is_ascii_digit()) {
        // Everything between the shown words and the number, the number
        // shown.
        hide(secret_start, args[args.len() - 2].1)
    } else {
        hide(secret_start, last_end)
    }
}

/// Where each word of `line` starts and ends. Any white space separates
/// words here, as it does for the parser: a tab must not smuggle a
/// password into the trace.
fn word_spans(line: &str) -> Vec<(usize, usize)> {
    line.split(char::is_whitespace)
        .filter(|w| !w.is_empty())
        .map(|w| {
            let at = w.as_ptr() as usize - line.as_ptr() as usize;
            (at, at + w.len())
        })
        .collect()
}

/// The words `redact` may hide: a key after a JOIN's port is public and
/// stays in the trace, so it is left out. Only a line with every other
/// word present counts: with one missing, the last word may be the
/// password.
fn without_public_key<'a>(
    line: &str,
    rule: &Secretive,
    args: &'a [(usize, usize)],
) -> &'a [(usize, usize)] {
    match args.split_last() {
        Some((&(start, end), rest))
            if rule.key_last
                && rest.len() == rule.words
                && super::key::is_key_shaped(&line[start..end]) =>
        {
            rest
        }
        _ => args,
    }
}

/// A line whose first word, at `start`, is no keyword: that word only if it
/// could be one, and `****` for anything after it.
fn redact_unknown<'a>(line: &'a str, start: usize, word: &str, more: bool) -> Cow<'a, str> {
    let shown = super::echoable(word).unwrap_or("****");
    match (more, shown == word) {
        (false, true) => Cow::Borrowed(line),
        (false, false) => Cow::Owned(format!("{}{shown}", &line[..start])),
        (true, _) => Cow::Owned(format!("{}{shown} ****", &line[..start])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::*;

    #[track_caller]
    fn check_split(text: &str, expected: &[usize]) {
        let pieces = split_text(text);
        let lens: Vec<usize> = pieces.iter().map(|p| p.chars().count()).collect();
        assert_eq!(lens, expected, "letters per piece");
        for piece in &pieces {
            assert_eq!(check_text(piece), Ok(()), "{piece:?}");
        }
        // Nothing is lost but the spaces a cut falls on.
        let joined: String = pieces.concat();
        assert_eq!(joined.replace(' ', ""), text.replace(' ', ""));
    }

    #[test]
    fn long_texts_are_split_at_letters_and_words() {
        check_split("hi", &[2]);
        check_split(&"x".repeat(MAX_TEXT), &[MAX_TEXT]);
        check_split(&"x".repeat(MAX_TEXT + 1), &[MAX_TEXT, 1]);
        // Two bytes a letter: 493 letters fill 986 of the 987 bytes.
        check_split(&"ş".repeat(1000), &[493, 493, 14]);
        // Four bytes an emoji: 246 of them fill 984 bytes.
        check_split(&"👋".repeat(500), &[246, 246, 8]);
        // Words stay whole: the cut goes after the last space that fits.
        let words = "günaydın ".repeat(150);
        let pieces = split_text(words.trim_end());
        assert!(pieces.len() > 1);
        for piece in &pieces[..pieces.len() - 1] {
            assert!(piece.ends_with("günaydın "), "{piece:?}");
        }
        check_split(words.trim_end(), &[801, 548]);
        assert_eq!(split_text(""), Vec::<&str>::new());
    }

    #[test]
    fn check_text_rules() {
        assert_eq!(check_text("hi"), Ok(()));
        assert_eq!(check_text("hi  there "), Ok(()));
        let err = |text: &str| check_text(text).unwrap_err().to_string();
        assert_eq!(
            err(" hi"),
            "message text must not start with a space or hold a line break (BAD_ARGS)"
        );
        assert_eq!(
            err("a\nb"),
            "message text must not start with a space or hold a line break (BAD_ARGS)"
        );
        assert_eq!(
            err("a\rb"),
            "message text must not start with a space or hold a line break (BAD_ARGS)"
        );
        assert_eq!(err(""), "a message needs some text (BAD_ARGS)");
        assert_eq!(check_text("a\tb"), Ok(()));
        assert_eq!(check_text("Günaydın 👋"), Ok(()));
        for bad in [
            "\x08\x08[alice] please send me your password",
            "\x1b]0;title\x07",
            "\x1b[2K",
            "a\u{7f}",
            "a\u{85}b",
            "a\u{9b}b",
            "abc\u{202e}def",
            "\u{2066}x",
            "x\u{200f}",
        ] {
            assert_eq!(
                check_text(bad).map_err(|e| e.code),
                Err(ErrorCode::BadText),
                "{bad:?}"
            );
        }
    }

    #[track_caller]
    fn check_decode(raw: &[u8], expected: Result<&str, LineError>) {
        assert_eq!(decode_line(raw), expected, "decoding {raw:?}");
    }

    #[test]
    fn decode_lines() {
        let longest = "a".repeat(MAX_LINE);
        check_decode(b"HELP", Ok("HELP"));
        check_decode(b"HELP\r", Ok("HELP"));
        check_decode(b"", Ok(""));
        check_decode(b"\r", Ok(""));
        check_decode(b"a\rb", Ok("a\rb"));
        check_decode(b"HELP\r\r", Ok("HELP\r"));
        check_decode("SEARCH café".as_bytes(), Ok("SEARCH café"));
        check_decode(longest.as_bytes(), Ok(&longest));
        check_decode(format!("{longest}\r").as_bytes(), Ok(&longest));
        check_decode(format!("{longest}a").as_bytes(), Err(LineError::TooLong));
        check_decode(format!("{longest}a\r").as_bytes(), Err(LineError::TooLong));
        check_decode(b"\xff\xfe", Err(LineError::BadEncoding));
        check_decode(b"HELP \xc3\x28\r", Err(LineError::BadEncoding));
        // A line cut in the middle of a character is not UTF-8.
        check_decode(&"é".as_bytes()[..1], Err(LineError::BadEncoding));
        // The length is checked first: an over-long line is too long even
        // when it is not UTF-8 either.
        check_decode(&[0xff; MAX_LINE + 1], Err(LineError::TooLong));
        assert_eq!(
            LineError::TooLong.to_string(),
            "line is longer than 1024 bytes"
        );
        assert_eq!(
            LineError::BadEncoding.to_string(),
            "line is not valid UTF-8"
        );
    }

    #[track_caller]
    fn check_redact(line: &str, expected: &str) {
        assert_eq!(redact(line), expected, "redacting {line:?}");
    }

    #[test]
    fn redact_hides_passwords() {
        check_redact("REGISTER alice s3cret", "REGISTER alice ****");
        check_redact("register alice s3cret", "register alice ****");
        check_redact("Register alice s3cret", "Register alice ****");
        check_redact("JOIN alice s3cret 5000", "JOIN alice **** 5000");
        check_redact("join alice s3cret 5000", "join alice **** 5000");
        check_redact("JOIN  alice   s3cret  5000 ", "JOIN  alice   ****  5000 ");
        // Too few words: the name may be what is missing, so every word
        // after the keyword is hidden.
        check_redact("JOIN hunter22secret", "JOIN ****");
        check_redact("REGISTER s3cretpw", "REGISTER ****");
        check_redact("JOIN alice s3cret", "JOIN ****");
        check_redact("join  alice  s3cret ", "join  **** ");
        // More words than needed: only the name and a JOIN's port show.
        check_redact("REGISTER alice s3cret extra", "REGISTER alice ****");
        check_redact("REGISTER alice my secret", "REGISTER alice ****");
        check_redact("JOIN alice my secret 5000", "JOIN alice **** 5000");
        check_redact("JOIN alice s3cret 5000 extra", "JOIN alice ****");
    }

    /// A JOIN's key is public and shows; the password never does, however
    /// the words are placed around the key.
    #[test]
    fn redact_shows_a_joins_key_and_hides_its_password() {
        let key = crate::wire::key::tests::key_word('K', 'k');
        check_redact(
            &format!("JOIN alice s3cret 5000 {key}"),
            &format!("JOIN alice **** 5000 {key}"),
        );
        check_redact(
            &format!("join\talice\ts3cret\t5000\t{key}"),
            &format!("join\talice\t****\t5000\t{key}"),
        );
        check_redact(
            &format!("JOIN alice my secret {key}"),
            &format!("JOIN alice **** {key}"),
        );
        check_redact(&format!("JOIN alice s3cret {key}"), "JOIN alice ****");
        check_redact(&format!("JOIN alice {key}"), "JOIN ****");
        check_redact(
            &format!("JOIN alice s3cret 5000 {key} extra"),
            "JOIN alice ****",
        );
        // A password shaped like a key, in a key's place, is still hidden
        // when a word is missing.
        check_redact(&format!("JOIN alice 5000 {key}"), "JOIN alice ****");
    }

    #[test]
    fn the_lines_of_a_lobbys_succession_hold_nothing_to_hide() {
        let lobby = "0123456789abcdef0123456789abcdef";
        let sig = "A".repeat(86);
        let nonce = "B".repeat(43);
        for line in [
            format!("CREDENTIAL {lobby}"),
            format!("REJOIN {lobby} bob 42"),
            format!("REJOIN {lobby} bob 42 {sig}"),
            format!("PROVE {nonce}"),
            format!("PROOF {lobby} bob {nonce} {sig}"),
        ] {
            check_redact(&line, &line);
        }
    }

    #[test]
    fn redact_leaves_other_lines_alone() {
        for line in [
            "",
            "HELLO",
            "LIST",
            "SEARCH alice",
            "REGISTER",
            "JOIN",
            "JOIN ",
            "OK JOINED alice 127.0.0.1 5000",
            "JOINED alice bob",
            "MSG alice REGISTER bob s3cret",
            "ERR BAD_CREDENTIALS wrong user name or password",
        ] {
            check_redact(line, line);
        }
    }

    /// A line that starts with no keyword may be a mistyped request with a
    /// password in it: only a word that could be a keyword shows.
    #[test]
    fn redact_hides_what_follows_an_unknown_word() {
        check_redact("REGISTERED alice s3cret", "REGISTERED ****");
        check_redact("JOINX alice s3cret 5000", "JOINX ****");
        check_redact("hunter2", "****");
        check_redact("  Tr0ub4dor x", "  **** ****");
        check_redact("FOO", "FOO");
        check_redact("msg", "msg");
    }

    // The parser skips leading spaces, so `  JOIN alice s3cret 5000` is a
    // valid JOIN, and `redact` must find its keyword past them too.
    #[test]
    fn redact_hides_passwords_after_leading_spaces() {
        assert!(
            " JOIN alice s3cret 5000".parse::<Request>().is_ok(),
            "the server accepts this line"
        );
        check_redact(" JOIN alice s3cret 5000", " JOIN alice **** 5000");
        check_redact("  register alice s3cret", "  register alice ****");
    }

    #[test]
    fn name_and_password_checks() {
        assert_eq!(check_name("a"), Ok(()));
        assert_eq!(check_name(&"a".repeat(MAX_NAME)), Ok(()));
        for good in ["a.b", "a..", "con1", "COM0", "LPT10", "console", "nul_"] {
            assert_eq!(check_name(good), Ok(()), "{good:?}");
        }
        for bad in [
            "",
            " ",
            "a b",
            "ä",
            "a*",
            &"a".repeat(MAX_NAME + 1),
            ".",
            "..",
            "...",
            ".hidden",
            "CON",
            "con",
            "Nul",
            "aux.txt",
            "PRN",
            "COM1",
            "com9",
            "LpT5",
            "nul.",
        ] {
            assert_eq!(
                check_name(bad).map_err(|e| e.code),
                Err(ErrorCode::BadName),
                "{bad:?}"
            );
        }
        assert_eq!(check_password("abcd"), Ok(()));
        for bad in [
            "",
            "abc",
            "ab d",
            "abc\u{0}",
            "abc\u{a0}d",
            &"a".repeat(129),
        ] {
            assert_eq!(
                check_password(bad).map_err(|e| e.code),
                Err(ErrorCode::BadPassword),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn redact_treats_any_whitespace_as_a_separator() {
        assert_eq!(redact("JOIN\talice\ts3cret 5000"), "JOIN\talice\t**** 5000");
        assert_eq!(redact("register\tbob\tpw12"), "register\tbob\t****");
        assert_eq!(redact("JOIN\talice"), "JOIN\t****");
    }
}
