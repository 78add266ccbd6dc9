//! Text from the network made safe to show: control characters and the
//! Unicode controls that reorder text are escaped, never printed raw.
//!
//! The protocol refuses such characters already; this is the second line of
//! defence, applied by every printer (screen, chat log, trace), so that a
//! line that slipped past a check, or came from an older peer, still cannot
//! move the cursor, clear a line, retitle the terminal or make one name
//! look like another. This module does no I/O.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal or a log as it is: C0 and C1
/// control characters, DEL, and the bidirectional formatting characters
/// that can make text read differently from how it is stored. A tab is
/// the one control character left alone: it only moves to the next column
/// stop, and people type it in messages.
pub fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// True if `text` is printable ASCII and tabs, which hold no unsafe
/// character: what almost every line is. It looks at bytes, not
/// characters, since every line a peer shows, logs or relays is checked,
/// many times over in a flood.
pub fn is_plain_ascii(text: &str) -> bool {
    // Plain comparisons in a loop, with no range or iterator calls: the
    // tests run an unoptimised build, which calls those for every byte.
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let b = bytes[at];
        if (b < b' ' && b != b'\t') || b > b'~' {
            return false;
        }
        at += 1;
    }
    true
}

/// `text` with every unsafe character written as `\u{XX}`, so that what a
/// reader sees is what was sent, and nothing is hidden or acted on. Text
/// without such characters is returned as it is, without a copy.
pub fn escape(text: &str) -> Cow<'_, str> {
    if is_plain_ascii(text) || !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        assert_eq!(escape(input), expected, "escape({input:?})");
    }

    #[test]
    fn plain_text_is_untouched() {
        check("hello alice", "hello alice");
        check("Günaydın, çağrı! 👋", "Günaydın, çağrı! 👋");
        check("", "");
        assert!(matches!(escape("no copy"), Cow::Borrowed(_)));
    }

    /// The shortcut for plain ASCII agrees with the rule, character by
    /// character, over every ASCII character and a few others.
    #[test]
    fn plain_ascii_is_exactly_what_holds_nothing_unsafe_in_ascii() {
        for c in (0u8..=127)
            .map(char::from)
            .chain(['é', '\u{85}', '\u{202e}'])
        {
            let text = format!("a{c}b");
            let plain = c.is_ascii() && !is_unsafe(c);
            assert_eq!(is_plain_ascii(&text), plain, "{c:?}");
        }
    }

    #[test]
    fn controls_are_escaped() {
        check("\x08\x08[alice] hi", "\\u{8}\\u{8}[alice] hi");
        check("\x1b]0;title\x07", "\\u{1b}]0;title\\u{7}");
        check("\x1b[2K", "\\u{1b}[2K");
        check("a\tb\rc\nd", "a\tb\\u{d}c\\u{a}d");
        check("\x7f", "\\u{7f}");
        check("\u{85}\u{9b}", "\\u{85}\\u{9b}");
    }

    #[test]
    fn bidi_overrides_are_escaped() {
        check("abc\u{202E}def", "abc\\u{202e}def");
        check("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}");
        check("\u{200F}", "\\u{200f}");
    }
}
