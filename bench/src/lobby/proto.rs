//! How the load speaks to its target (`Proto`: the hub's lines or IRC's),
//! and the text of a message, which carries its sequence number and send
//! time. Pure functions over bytes: no I/O.

use std::io::Write;

/// How the load speaks to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proto {
    Hub,
    Irc,
}

impl Proto {
    /// True for the line that shows a receiver is in the lobby.
    pub(super) fn is_ready(self, line: &[u8]) -> bool {
        match self {
            Proto::Hub => line.starts_with(b"MEMBERS "),
            // RPL_ENDOFNAMES ends the reply to JOIN.
            Proto::Irc => contains(line, b" 366 "),
        }
    }

    /// The text of a chat line, or `None` for any other line.
    pub(super) fn text(self, line: &[u8]) -> Option<&[u8]> {
        match self {
            Proto::Hub => {
                let rest = line.strip_prefix(b"MSG ")?;
                let space = rest.iter().position(|&b| b == b' ')?;
                Some(&rest[space + 1..])
            }
            Proto::Irc => {
                let marker = b" PRIVMSG #bench :";
                let at = find(line, marker)?;
                Some(&line[at + marker.len()..])
            }
        }
    }

    /// Appends the line that sends `text`.
    pub(super) fn send_line(self, out: &mut Vec<u8>, text: &[u8]) {
        match self {
            Proto::Hub => {
                out.extend_from_slice(b"MSG ");
                out.extend_from_slice(text);
                out.push(b'\n');
            }
            Proto::Irc => {
                out.extend_from_slice(b"PRIVMSG #bench :");
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// The text of message `seq` sent at `nanos`: both numbers, padded with `x`
/// to `size` bytes.
pub(super) fn message_text(out: &mut Vec<u8>, seq: u64, nanos: u64, size: usize) {
    out.clear();
    write!(out, "{seq} {nanos} ").expect("writing to a Vec cannot fail");
    while out.len() < size {
        out.push(b'x');
    }
}

/// The sequence number and send time a message text carries.
pub(super) fn parse_text(text: &[u8]) -> Option<(u64, u64)> {
    let mut words = text.split(|&b| b == b' ');
    let seq = parse_u64(words.next()?)?;
    let nanos = parse_u64(words.next()?)?;
    Some((seq, nanos))
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_round_trips() {
        let mut text = Vec::new();
        message_text(&mut text, 42, 1_234_567, 64);
        assert_eq!(text.len(), 64);
        assert_eq!(parse_text(&text), Some((42, 1_234_567)));
        message_text(&mut text, 7, 99, 4);
        assert_eq!(text, b"7 99 ");
        assert_eq!(parse_text(b"7 x"), None);
    }

    #[test]
    fn chat_lines() {
        assert_eq!(Proto::Hub.text(b"MSG sender 1 2 xx"), Some(&b"1 2 xx"[..]));
        assert_eq!(Proto::Hub.text(b"JOINED m3"), None);
        assert_eq!(
            Proto::Irc.text(b":bsend!~bsend@localhost PRIVMSG #bench :1 2 xx"),
            Some(&b"1 2 xx"[..])
        );
        assert!(Proto::Irc.is_ready(b":irc.bench 366 r1 #bench :End of NAMES list"));
        assert!(Proto::Hub.is_ready(b"MEMBERS leader sender m1"));
    }
}
