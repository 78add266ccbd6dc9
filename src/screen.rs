//! The lines a peer shows its user, as typed values, and how each is drawn:
//! a chat line's name in a colour of its own, notices dimmed, an optional
//! `HH:MM` stamp before what people say (chat lines, private messages,
//! one's own), a line that names the user highlighted with the bell.
//!
//! This module owns the look of the screen; it does no I/O and never decides
//! whether the output is a terminal (the binary does, and says so in `Style`).
//! Text is escaped (`sanitize::escape`) here, so nothing from the network
//! reaches a terminal raw, whatever line it came in.

use std::fmt;

use chrono::NaiveTime;

use crate::progress::Progress;
use crate::sanitize;

/// One line for the user's screen. Most lines are `Text`; a `String` becomes
/// one, so `say(format!(..))` needs no wrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenLine {
    /// A prompt, a menu's answer: shown as it is.
    Text(String),
    /// A chat message from `from`, shown as `[from] text`; our own too,
    /// as the others see it.
    Chat { from: String, text: String },
    /// A chat message from `from` that names the user: highlighted, with
    /// the terminal's bell, at a terminal; as a `Chat` line otherwise.
    Mention { from: String, text: String },
    /// An action (`/me waves`) by `from`, shown as `* from text`, stamped
    /// and with the name coloured as chat lines are, so it reads as said
    /// by someone, not as one of p2pchat's own lines.
    Action { from: String, text: String },
    /// A private message, either way, as one line: stamped as chat lines are.
    Private(String),
    /// The question the user's next line answers (a menu, a chat request):
    /// shown as it is. A line the user began before it was shown was meant
    /// for something else, and is not taken as its answer.
    Prompt(String),
    /// What the system says about the lobby or the registry link (who came
    /// and went, a lobby ended, a reconnection): dimmed at a terminal.
    Notice(String),
    /// A `--trace` line: dimmed at a terminal.
    Trace(String),
    /// A transfer's progress, for a bar a terminal redraws in place: sent
    /// only to a terminal, which keeps one row per transfer running.
    Progress(Progress),
}

impl From<String> for ScreenLine {
    fn from(text: String) -> ScreenLine {
        ScreenLine::Text(text)
    }
}

impl From<&str> for ScreenLine {
    fn from(text: &str) -> ScreenLine {
        ScreenLine::Text(text.to_string())
    }
}

impl ScreenLine {
    /// The line with its text escaped (`sanitize::escape`).
    pub fn escaped(self) -> ScreenLine {
        let escape = |text: String| sanitize::escape(&text).into_owned();
        match self {
            ScreenLine::Text(text) => ScreenLine::Text(escape(text)),
            ScreenLine::Private(text) => ScreenLine::Private(escape(text)),
            ScreenLine::Prompt(text) => ScreenLine::Prompt(escape(text)),
            ScreenLine::Notice(text) => ScreenLine::Notice(escape(text)),
            ScreenLine::Trace(text) => ScreenLine::Trace(escape(text)),
            ScreenLine::Chat { from, text } => ScreenLine::Chat {
                from: escape(from),
                text: escape(text),
            },
            ScreenLine::Mention { from, text } => ScreenLine::Mention {
                from: escape(from),
                text: escape(text),
            },
            ScreenLine::Action { from, text } => ScreenLine::Action {
                from: escape(from),
                text: escape(text),
            },
            ScreenLine::Progress(progress) => ScreenLine::Progress(Progress {
                label: escape(progress.label),
                ..progress
            }),
        }
    }
}

/// The plain form, as piped output and the tests see it.
impl fmt::Display for ScreenLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScreenLine::Text(text)
            | ScreenLine::Notice(text)
            | ScreenLine::Trace(text)
            | ScreenLine::Private(text)
            | ScreenLine::Prompt(text) => f.write_str(text),
            ScreenLine::Chat { from, text } | ScreenLine::Mention { from, text } => {
                write!(f, "[{from}] {text}")
            }
            ScreenLine::Action { from, text } => write!(f, "* {from} {text}"),
            ScreenLine::Progress(p) if p.ended => write!(f, "{}: ended", p.label),
            ScreenLine::Progress(p) => write!(f, "{}: {} of {} bytes", p.label, p.done, p.total),
        }
    }
}

/// Whether to colour the output, as `--color` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colour when the output is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Decides for an output that is (or is not) a terminal, given the value
    /// of `NO_COLOR`. As no-color.org asks, an empty `NO_COLOR` counts as
    /// unset, and an explicit `--color always` wins over it.
    pub fn wants_color(self, terminal: bool, no_color: Option<&str>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => terminal && no_color.is_none_or(str::is_empty),
        }
    }
}

/// How lines are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// Names in colour, notices dimmed (ANSI escapes).
    pub color: bool,
    /// `HH:MM` before each line someone said.
    pub timestamps: bool,
    /// The terminal's bell on a line that names the user.
    pub bell: bool,
}

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
/// Bold and reverse video: a line that names the user.
const HIGHLIGHT: &str = "\x1b[1;7m";
const BELL: &str = "\x07";

/// Foreground colours for names: the six plain ones and their bright forms,
/// all readable on dark and light backgrounds alike.
const NAME_COLORS: [u8; 12] = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

/// The colour of `name`: the same in every run, on every peer and for every
/// spelling of the name's case (names are case-insensitive), so that a
/// person is recognised by colour across lobbies. FNV-1a, because it is
/// stable, unlike the standard library's hasher.
pub fn name_color(name: &str) -> u8 {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte.to_ascii_lowercase())).wrapping_mul(0x0100_0193)
    });
    NAME_COLORS[hash as usize % NAME_COLORS.len()]
}

impl Style {
    /// `line` as it is drawn at `now`, without a line ending.
    pub fn render(self, line: &ScreenLine, now: NaiveTime) -> String {
        match line {
            ScreenLine::Text(text) | ScreenLine::Prompt(text) => {
                sanitize::escape(text).into_owned()
            }
            ScreenLine::Notice(text) | ScreenLine::Trace(text) => {
                let text = sanitize::escape(text);
                if self.color {
                    format!("{DIM}{text}{RESET}")
                } else {
                    text.into_owned()
                }
            }
            ScreenLine::Private(text) => format!("{}{}", self.stamp(now), sanitize::escape(text)),
            ScreenLine::Chat { from, text } => self.chat(from, &sanitize::escape(text), now),
            ScreenLine::Action { from, text } => self.action(from, &sanitize::escape(text), now),
            // A terminal draws a bar from it (`progress::Meter::row`); this
            // is its plain form, for what prints it as a line.
            ScreenLine::Progress(_) => sanitize::escape(&line.to_string()).into_owned(),
            ScreenLine::Mention { from, text } => {
                let text = sanitize::escape(text);
                let mut line = match self.color {
                    true => self.chat(from, &format!("{HIGHLIGHT}{text}{RESET}"), now),
                    false => self.chat(from, &text, now),
                };
                if self.bell {
                    line.push_str(BELL);
                }
                line
            }
        }
    }

    /// `HH:MM ` at `now`, if lines are stamped.
    fn stamp(self, now: NaiveTime) -> String {
        match self.timestamps {
            true => now.format("%H:%M ").to_string(),
            false => String::new(),
        }
    }

    /// An action by `from`, whose `text` is escaped already.
    fn action(self, from: &str, text: &str, now: NaiveTime) -> String {
        format!("{}* {} {text}", self.stamp(now), self.name(from))
    }

    /// A chat line from `from`, whose `text` is escaped already.
    fn chat(self, from: &str, text: &str, now: NaiveTime) -> String {
        format!("{}[{}] {text}", self.stamp(now), self.name(from))
    }

    /// A sender's name, escaped, in its own colour where colour is on.
    fn name(self, from: &str) -> String {
        let from = sanitize::escape(from);
        if self.color {
            format!("\x1b[{}m{from}{RESET}", name_color(&from))
        } else {
            from.into_owned()
        }
    }
}

/// Whether `text` names `me`: the name as a word of its own, in any case,
/// so that `bob` is named in "hi Bob!" and "@bob", not in "bobcat".
pub fn names(text: &str, me: &str) -> bool {
    if me.is_empty() {
        return false;
    }
    let word = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '-');
    text.split(|c: char| !word(c))
        .map(|w| w.trim_end_matches('.'))
        .any(|w| w.eq_ignore_ascii_case(me))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(from: &str, text: &str) -> ScreenLine {
        ScreenLine::Chat {
            from: from.into(),
            text: text.into(),
        }
    }

    #[track_caller]
    fn check(style: Style, line: ScreenLine, expected: &str) {
        let now = NaiveTime::from_hms_opt(9, 5, 59).unwrap();
        assert_eq!(style.render(&line, now), expected, "{line:?}");
    }

    #[test]
    fn plain_lines_read_as_they_always_did() {
        let plain = Style::default();
        check(plain, "Password:".into(), "Password:");
        check(plain, chat("alice", "hi bob"), "[alice] hi bob");
        check(
            plain,
            ScreenLine::Notice("Peer ('bob') is offline".into()),
            "Peer ('bob') is offline",
        );
        assert_eq!(chat("alice", "hi").to_string(), "[alice] hi");
        // Text from the network is escaped wherever it shows up.
        check(
            plain,
            chat("mallory", "\x08\x08[alice] hi"),
            "[mallory] \\u{8}\\u{8}[alice] hi",
        );
    }

    #[test]
    fn timestamps_go_before_chat_lines_only() {
        let stamped = Style {
            timestamps: true,
            ..Style::default()
        };
        check(stamped, chat("alice", "hi"), "09:05 [alice] hi");
        // An action is said too, and its name is coloured as a chat line's:
        // it never reads as one of p2pchat's own lines.
        let waves = || ScreenLine::Action {
            from: "bob".into(),
            text: "waves \x1b[2J".into(),
        };
        check(stamped, waves(), "09:05 * bob waves \\u{1b}[2J");
        let color = Style {
            color: true,
            ..Style::default()
        };
        let colored = format!("* \x1b[{}mbob\x1b[0m waves \\u{{1b}}[2J", name_color("bob"));
        check(color, waves(), &colored);
        check(stamped, "Password:".into(), "Password:");
        check(stamped, ScreenLine::Notice("x".into()), "x");
        check(stamped, ScreenLine::Prompt("Menu:".into()), "Menu:");
        // Private messages, either way, are said too.
        check(
            stamped,
            ScreenLine::Private("[alice -> you] (verified) psst".into()),
            "09:05 [alice -> you] (verified) psst",
        );
        let mention = ScreenLine::Mention {
            from: "alice".into(),
            text: "hi bob".into(),
        };
        check(stamped, mention, "09:05 [alice] hi bob");
    }

    #[test]
    fn colours_name_the_speaker_and_dim_notices() {
        let color = Style {
            color: true,
            ..Style::default()
        };
        let c = name_color("alice");
        check(
            color,
            chat("alice", "hi"),
            &format!("[\x1b[{c}malice\x1b[0m] hi"),
        );
        check(color, ScreenLine::Notice("bye".into()), "\x1b[2mbye\x1b[0m");
        check(
            color,
            ScreenLine::Trace(">> x".into()),
            "\x1b[2m>> x\x1b[0m",
        );
        check(color, "Password:".into(), "Password:");
    }

    #[test]
    fn a_line_that_names_the_user_is_highlighted_and_rings_at_a_terminal() {
        let mention = || ScreenLine::Mention {
            from: "alice".into(),
            text: "hi bob \x07".into(),
        };
        // Piped: the plain chat line, no bell, no escapes.
        check(Style::default(), mention(), "[alice] hi bob \\u{7}");
        let c = name_color("alice");
        let terminal = Style {
            color: true,
            bell: true,
            ..Style::default()
        };
        check(
            terminal,
            mention(),
            &format!("[\x1b[{c}malice\x1b[0m] \x1b[1;7mhi bob \\u{{7}}\x1b[0m\x07"),
        );
        // --no-bell: highlighted, silent.
        let silent = Style {
            bell: false,
            ..terminal
        };
        check(
            silent,
            mention(),
            &format!("[\x1b[{c}malice\x1b[0m] \x1b[1;7mhi bob \\u{{7}}\x1b[0m"),
        );
    }

    #[test]
    fn a_name_is_named_as_a_word_of_its_own() {
        for (text, named) in [
            ("hi bob", true),
            ("Bob, look", true),
            ("@BOB: now", true),
            ("thanks bob.", true),
            ("bobcat", false),
            ("bob_2 is here", false),
            ("", false),
        ] {
            assert_eq!(names(text, "bob"), named, "{text:?}");
        }
        assert!(names("ask b.o-b now", "b.o-b"));
        assert!(!names("anything", ""));
    }

    #[test]
    fn a_name_keeps_its_colour() {
        assert_eq!(name_color("alice"), name_color("ALICE"));
        assert!(NAME_COLORS.contains(&name_color("bob")));
        let names = ["alice", "bob", "carol", "dave", "erin", "frank"];
        let colors: std::collections::HashSet<u8> = names.iter().map(|n| name_color(n)).collect();
        assert!(colors.len() >= 3, "names spread over colours: {colors:?}");
    }

    #[test]
    fn color_choice() {
        use ColorChoice::*;
        for (choice, terminal, no_color, expected) in [
            (Auto, true, None, true),
            (Auto, true, Some(""), true),
            (Auto, true, Some("1"), false),
            (Auto, false, None, false),
            (Always, false, Some("1"), true),
            (Never, true, None, false),
        ] {
            assert_eq!(
                choice.wants_color(terminal, no_color),
                expected,
                "{choice:?} {terminal} {no_color:?}"
            );
        }
    }
}
