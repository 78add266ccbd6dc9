//! What a line typed in a lobby asks for: a message, or one of the lobby's
//! `/commands`. Parsing only; `lobby_stage.rs` carries them out.
//!
//! A line that starts with `/` is never sent as a message unless it starts
//! with `//`, which sends the rest, so a message can begin with a slash.

use crate::wire;

use super::away_notes::AwayChange;

/// What a line typed in a lobby asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum LobbyInput<'a> {
    Nothing,
    Help,
    /// `/who` or `/members`.
    Members,
    Leave,
    /// `/invite <name>`.
    Invite(&'a str),
    /// `/msg <name> <text>`.
    Private {
        to: &'a str,
        text: &'a str,
    },
    /// `/kick <name> [reason]`.
    Kick {
        name: &'a str,
        reason: Option<&'a str>,
    },
    /// `/handover [name]`: the leader hands the lobby on.
    Handover(Option<&'a str>),
    /// `/end`: the leader ends the lobby for everyone.
    End,
    /// `/list`: the registry's online list.
    List,
    /// `/search <name>`.
    Search(&'a str),
    /// `/away [text]` (the text, maybe empty) or `/back`.
    Away(AwayChange),
    Unknown(&'a str),
    /// A known command typed wrongly: how to type it.
    Usage(&'static str),
    /// A message to send.
    Say(&'a str),
    /// `/me <action>`: the text of the message that does it (`/me waves`).
    Action(String),
    /// A message that cannot be sent, and why.
    Refused(String),
}

impl<'a> From<&'a str> for LobbyInput<'a> {
    fn from(line: &'a str) -> LobbyInput<'a> {
        let text = line.trim();
        if text.is_empty() {
            return LobbyInput::Nothing;
        }
        if let Some(message) = text.strip_prefix("//") {
            return say(&text[1..]).unless_blank(message);
        }
        let Some(command) = text.strip_prefix('/') else {
            return say(text);
        };
        let (word, rest) = match command.split_once(' ') {
            Some((word, rest)) => (word, rest.trim_start_matches(' ')),
            None => (command, ""),
        };
        LobbyInput::command(text, word, rest)
    }
}

impl<'a> LobbyInput<'a> {
    /// The command `/word rest`, typed as `text`.
    fn command(text: &'a str, word: &str, rest: &'a str) -> LobbyInput<'a> {
        let args: Vec<&str> = rest.split(' ').filter(|w| !w.is_empty()).collect();
        match (word.to_ascii_lowercase().as_str(), args.as_slice()) {
            ("help", _) => LobbyInput::Help,
            ("who" | "members", []) => LobbyInput::Members,
            ("leave", []) => LobbyInput::Leave,
            ("end", []) => LobbyInput::End,
            ("end", _) => LobbyInput::Usage("/end (it takes no arguments)"),
            ("handover", []) => LobbyInput::Handover(None),
            ("handover", [name]) => named(name, |name| LobbyInput::Handover(Some(name))),
            ("handover", _) => LobbyInput::Usage("/handover [name]"),
            ("list", []) => LobbyInput::List,
            ("search", [name]) => named(name, LobbyInput::Search),
            ("search", _) => LobbyInput::Usage("/search <name>"),
            ("away", _) => LobbyInput::Away(AwayChange::away(rest)),
            ("back", []) => LobbyInput::Away(AwayChange::Back),
            ("back", _) => LobbyInput::Usage("/back (it takes no arguments)"),
            ("invite", [name]) => named(name, LobbyInput::Invite),
            ("invite", _) => LobbyInput::Usage("/invite <name>"),
            ("me", [_, ..]) => action(rest),
            ("me", []) => LobbyInput::Usage("/me <action>"),
            ("msg", [_, _, ..]) => private(rest),
            ("msg", _) => LobbyInput::Usage("/msg <name> <text>"),
            ("kick", [name, ..]) => kick(name, &rest[name.len()..]),
            ("kick", []) => LobbyInput::Usage("/kick <name> [reason]"),
            ("who" | "members" | "leave" | "list", _) => {
                LobbyInput::Usage("/who, /members, /leave and /list take no arguments")
            }
            _ => LobbyInput::Unknown(text),
        }
    }

    /// `//` alone, or followed by blanks, is nothing to send.
    fn unless_blank(self, rest: &str) -> LobbyInput<'a> {
        if rest.trim().is_empty() {
            LobbyInput::Nothing
        } else {
            self
        }
    }
}

/// Every command a lobby takes (here, the file commands' and the app's
/// `/verify` and `/quit`), with how it is typed.
const USAGES: [(&str, &str); 20] = [
    ("help", "/help"),
    ("who", "/who"),
    ("members", "/members"),
    ("leave", "/leave"),
    ("quit", "/quit"),
    ("msg", "/msg <name> <text>"),
    ("me", "/me <action>"),
    ("invite", "/invite <name>"),
    ("kick", "/kick <name> [reason]"),
    ("handover", "/handover [name]"),
    ("list", "/list"),
    ("search", "/search <name>"),
    ("away", "/away [text]"),
    ("back", "/back"),
    ("verify", "/verify <name>"),
    ("send", "/send <name> <path>"),
    ("accept", "/accept [id]"),
    ("decline", "/decline [id]"),
    ("cancel", "/cancel [id]"),
    ("files", "/files"),
];

/// How to type the command that `/word` (an unknown one) is one slip away
/// from: a letter added, dropped or changed, or two next to each other
/// swapped. A user who typed `/mgs` reads one line of usage, not the help.
pub(super) fn near_miss(typed: &str) -> Option<&'static str> {
    let word = typed.trim_start_matches('/').split(' ').next()?;
    let word: Vec<char> = word.to_ascii_lowercase().chars().collect();
    USAGES
        .iter()
        .find(|(name, _)| one_slip(&word, &name.chars().collect::<Vec<_>>()))
        .map(|(_, usage)| *usage)
}

/// Whether `a` and `b` differ by exactly one slip of the fingers.
fn one_slip(a: &[char], b: &[char]) -> bool {
    let same = |x: &[char], y: &[char]| x.iter().zip(y).take_while(|(x, y)| x == y).count();
    let head = same(a, b);
    let (a, b) = (&a[head..], &b[head..]);
    let rev = |x: &[char]| x.iter().rev().copied().collect::<Vec<_>>();
    let tail = same(&rev(a), &rev(b));
    match (&a[..a.len() - tail], &b[..b.len() - tail]) {
        ([_], []) | ([], [_]) | ([_], [_]) => true,
        ([x1, x2], [y1, y2]) => x1 == y2 && x2 == y1,
        _ => false,
    }
}

/// A message longer than one protocol line allows is still one `Say`: it
/// is sent in several parts, each of which must pass the check.
fn say(text: &str) -> LobbyInput<'_> {
    match wire::split_text(text)
        .into_iter()
        .try_for_each(wire::check_text)
    {
        Ok(()) => LobbyInput::Say(text),
        Err(err) => LobbyInput::Refused(err.text),
    }
}

/// `/me <action>`, where `rest` holds at least one word.
fn action(rest: &str) -> LobbyInput<'_> {
    match wire::action_text(rest.trim_end_matches(' ')) {
        Ok(text) => LobbyInput::Action(text),
        Err(err) => LobbyInput::Refused(err.text),
    }
}

/// `/msg <to> <text>`, where `rest` holds at least two words.
fn private(rest: &str) -> LobbyInput<'_> {
    let Some((to, text)) = rest.split_once(' ') else {
        return LobbyInput::Usage("/msg <name> <text>");
    };
    let text = text.trim_start_matches(' ');
    match (wire::check_name(to), wire::check_text(text)) {
        (Err(err), _) | (_, Err(err)) => LobbyInput::Refused(err.text),
        (Ok(()), Ok(())) => LobbyInput::Private { to, text },
    }
}

/// `/kick <name> [reason]`; `reason` is what follows the name.
fn kick<'a>(name: &'a str, reason: &'a str) -> LobbyInput<'a> {
    let reason = reason.trim_start_matches(' ');
    let reason = (!reason.is_empty()).then_some(reason);
    match reason.map(wire::check_reason) {
        Some(Err(err)) => LobbyInput::Refused(err.text),
        _ => named(name, |name| LobbyInput::Kick { name, reason }),
    }
}

fn named<'a>(name: &'a str, input: impl FnOnce(&'a str) -> LobbyInput<'a>) -> LobbyInput<'a> {
    match wire::check_name(name) {
        Ok(()) => input(name),
        Err(err) => LobbyInput::Refused(err.text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(line: &str, expected: LobbyInput<'_>) {
        assert_eq!(LobbyInput::from(line), expected, "{line:?}");
    }

    #[test]
    fn an_unknown_command_one_slip_from_a_known_one_gets_its_usage() {
        #[track_caller]
        fn near(typed: &str, expected: Option<&str>) {
            assert_eq!(near_miss(typed), expected, "{typed:?}");
        }
        near("/mgs bob hi", Some("/msg <name> <text>"));
        near("/ms bob hi", Some("/msg <name> <text>"));
        near("/msgg", Some("/msg <name> <text>"));
        near("/mxg", Some("/msg <name> <text>"));
        near("/INIVTE", Some("/invite <name>"));
        near("/hlep", Some("/help"));
        near("/wo", Some("/who"));
        near("/sned bob a.txt", Some("/send <name> <path>"));
        near("/dance", None);
        near("/", None);
        near("/xyz", None);
        near("/handovers x", Some("/handover [name]"));
        near("/hnadvoer", None);
    }

    #[test]
    fn messages_and_slashes() {
        check("hello", LobbyInput::Say("hello"));
        check("  hello  ", LobbyInput::Say("hello"));
        check("", LobbyInput::Nothing);
        check("   ", LobbyInput::Nothing);
        check(
            "//etc/passwd is a file",
            LobbyInput::Say("/etc/passwd is a file"),
        );
        check("// two", LobbyInput::Say("/ two"));
        check("//", LobbyInput::Nothing);
        check("/etc/passwd", LobbyInput::Unknown("/etc/passwd"));
        check("/dance now", LobbyInput::Unknown("/dance now"));
        check("/", LobbyInput::Unknown("/"));
    }

    #[test]
    fn commands() {
        check("/help", LobbyInput::Help);
        check("/HELP me", LobbyInput::Help);
        check("/who", LobbyInput::Members);
        check("/members", LobbyInput::Members);
        check("/leave", LobbyInput::Leave);
        check("/END", LobbyInput::End);
        check("/list", LobbyInput::List);
        check("/search bob", LobbyInput::Search("bob"));
        check("/away", LobbyInput::Away(AwayChange::away("")));
        check(
            "/away  out to lunch ",
            LobbyInput::Away(AwayChange::Away("out to lunch".into())),
        );
        check("/back", LobbyInput::Away(AwayChange::Back));
        check(
            "/back now",
            LobbyInput::Usage("/back (it takes no arguments)"),
        );
        check("/invite  dave ", LobbyInput::Invite("dave"));
        check(
            "/msg carol see  you later",
            LobbyInput::Private {
                to: "carol",
                text: "see  you later",
            },
        );
        check("/me  waves ", LobbyInput::Action("/me waves".into()));
        check(
            "/ME waves at  bob",
            LobbyInput::Action("/me waves at  bob".into()),
        );
        check("/me", LobbyInput::Usage("/me <action>"));
        check(
            &format!("/me {}", "w".repeat(wire::MAX_ACTION + 1)),
            LobbyInput::Refused(format!("an action is at most {} bytes", wire::MAX_ACTION)),
        );
        check(
            "/kick bob",
            LobbyInput::Kick {
                name: "bob",
                reason: None,
            },
        );
        check(
            "/kick bob  too many  capitals",
            LobbyInput::Kick {
                name: "bob",
                reason: Some("too many  capitals"),
            },
        );
    }

    #[test]
    fn commands_typed_wrongly() {
        check("/invite", LobbyInput::Usage("/invite <name>"));
        check("/invite a b", LobbyInput::Usage("/invite <name>"));
        check("/msg carol", LobbyInput::Usage("/msg <name> <text>"));
        check("/msg", LobbyInput::Usage("/msg <name> <text>"));
        check("/kick", LobbyInput::Usage("/kick <name> [reason]"));
        check("/search", LobbyInput::Usage("/search <name>"));
        check(
            "/end now",
            LobbyInput::Usage("/end (it takes no arguments)"),
        );
        check(
            "/who is here",
            LobbyInput::Usage("/who, /members, /leave and /list take no arguments"),
        );
        let bad_name = "a name is 1 to 32 characters of A-Z a-z 0-9 _ . -".to_string();
        check("/invite b!b", LobbyInput::Refused(bad_name.clone()));
        check("/msg b!b hi", LobbyInput::Refused(bad_name.clone()));
        check("/kick b!b", LobbyInput::Refused(bad_name));
    }
}
