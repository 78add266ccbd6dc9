//! The lines a peer shows its user, as typed values, and how each is drawn:
//! a chat line's name in a colour of its own, notices dimmed, an optional
//! `HH:MM` stamp before chat lines.
//!
//! This module owns the look of the screen; it does no I/O and never decides
//! whether the output is a terminal (the binary does, and says so in `Style`).
//! Text is escaped (`sanitize::escape`) here, so nothing from the network
//! reaches a terminal raw, whatever line it came in.

use std::fmt;

use chrono::NaiveTime;

use crate::sanitize;

/// One line for the user's screen. Most lines are `Text`; a `String` becomes
/// one, so `say(format!(..))` needs no wrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScreenLine {
    /// A prompt, a menu's answer: shown as it is.
    Text(String),
    /// A chat message from `from`, shown as `[from] text`.
    Chat { from: String, text: String },
    /// What the system says about the lobby or the registry link (who came
    /// and went, a lobby ended, a reconnection): dimmed at a terminal.
    Notice(String),
    /// A `--trace` line: dimmed at a terminal.
    Trace(String),
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
            ScreenLine::Notice(text) => ScreenLine::Notice(escape(text)),
            ScreenLine::Trace(text) => ScreenLine::Trace(escape(text)),
            ScreenLine::Chat { from, text } => ScreenLine::Chat {
                from: escape(from),
                text: escape(text),
            },
        }
    }
}

/// The plain form, as piped output and the tests see it.
impl fmt::Display for ScreenLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScreenLine::Text(text) | ScreenLine::Notice(text) | ScreenLine::Trace(text) => {
                f.write_str(text)
            }
            ScreenLine::Chat { from, text } => write!(f, "[{from}] {text}"),
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
    /// `HH:MM` before each chat line.
    pub timestamps: bool,
}

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";

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
            ScreenLine::Text(text) => sanitize::escape(text).into_owned(),
            ScreenLine::Notice(text) | ScreenLine::Trace(text) => {
                let text = sanitize::escape(text);
                if self.color {
                    format!("{DIM}{text}{RESET}")
                } else {
                    text.into_owned()
                }
            }
            ScreenLine::Chat { from, text } => {
                let stamp = if self.timestamps {
                    now.format("%H:%M ").to_string()
                } else {
                    String::new()
                };
                let (from, text) = (sanitize::escape(from), sanitize::escape(text));
                if self.color {
                    let color = name_color(&from);
                    format!("{stamp}[\x1b[{color}m{from}{RESET}] {text}")
                } else {
                    format!("{stamp}[{from}] {text}")
                }
            }
        }
    }
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
            color: false,
            timestamps: true,
        };
        check(stamped, chat("alice", "hi"), "09:05 [alice] hi");
        check(stamped, "Password:".into(), "Password:");
        check(stamped, ScreenLine::Notice("x".into()), "x");
    }

    #[test]
    fn colours_name_the_speaker_and_dim_notices() {
        let color = Style {
            color: true,
            timestamps: false,
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
