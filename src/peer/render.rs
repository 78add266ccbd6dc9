//! One renderer for everything that happens in a lobby, for its leader and
//! its members alike: each `LobbyEvent` becomes the line the screen shows
//! and the line the chat log keeps. Its `match` has no catch-all arm, so a
//! new event cannot be forgotten.
//!
//! A plain module: it formats, and does no I/O.

use chrono::{DateTime, Local, Utc};

use crate::lobby::Notice;
use crate::screen::ScreenLine;
use crate::wire::{self, ErrorCode, InviteStatus};

/// Whether a private message was sealed to us by its sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seal {
    /// Sealed to our key and opened with the sender's: nobody else read it,
    /// and the sender wrote it.
    Verified,
    /// Plain text (a peer played by hand, or a member with no key): the
    /// leader could read it, or have written it.
    Plain,
}

/// Something that happened in a lobby, as the user hears of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LobbyEvent {
    /// We were admitted: who is there.
    Members(Vec<String>),
    Joined(String),
    Msg {
        from: String,
        text: String,
    },
    Private {
        from: String,
        text: String,
        seal: Seal,
    },
    /// A sealed private message that did not open, and why.
    Unopened {
        from: String,
        why: String,
    },
    /// A message said before we came, replayed.
    History {
        at: DateTime<Utc>,
        from: String,
        text: String,
    },
    Left(String),
    /// Its connection broke without a word; it may come back.
    Lost(String),
    /// Dropped by the hub: it stopped reading.
    Dropped(String),
    /// Dropped by the hub: nothing heard from it.
    Silent(String),
    /// Dropped by the hub: it sent a line too long.
    TooLong(String),
    /// Removed by the leader.
    Kicked {
        name: String,
        reason: Option<String>,
    },
    /// How an invitation into the lobby went, as its members hear it.
    Invitation {
        name: String,
        status: InviteStatus,
    },
    /// A member asked the leader to invite someone; the leader refused,
    /// as only it invites.
    InviteDenied {
        by: String,
        name: String,
    },
    /// A member asked the leader to invite someone.
    InviteAsked {
        by: String,
        name: String,
    },
    /// Someone in the lobby is away, with a text (maybe empty).
    Away {
        name: String,
        text: String,
    },
    /// Someone in the lobby is back.
    Back(String),
    /// The leader refused something we sent.
    LeaderSays(ErrorCode, String),
    /// The lobby is over for us, and why.
    Ended(String),
}

impl From<Notice> for LobbyEvent {
    fn from(notice: Notice) -> LobbyEvent {
        match notice {
            Notice::Joined(name) => LobbyEvent::Joined(name),
            Notice::Msg { from, text } => LobbyEvent::Msg { from, text },
            Notice::Left(name) => LobbyEvent::Left(name),
            Notice::Lost(name) => LobbyEvent::Lost(name),
            Notice::Dropped(name) => LobbyEvent::Dropped(name),
            Notice::Silent(name) => LobbyEvent::Silent(name),
            Notice::TooLong(name) => LobbyEvent::TooLong(name),
            Notice::Kicked { name, reason } => LobbyEvent::Kicked { name, reason },
            Notice::Private { from, text } => LobbyEvent::Private {
                from,
                text,
                seal: Seal::Plain,
            },
            // The leader's peer opens these before it renders them
            // (`lobby_stage.rs`); one that is left when the lobby ends is
            // only logged, unread.
            Notice::Sealed { from, .. } => LobbyEvent::Unopened {
                from,
                why: "the lobby ended before it was opened".to_string(),
            },
            // The app hands file lines to its offers before anything is
            // rendered (`leading.rs`); one left when the lobby ends
            // concerns an offer that ends with it.
            Notice::File { from, .. } => LobbyEvent::Unopened {
                from,
                why: "a file offer the lobby ended before it was read".to_string(),
            },
            Notice::InviteDenied { by, name } => LobbyEvent::InviteDenied { by, name },
            Notice::InviteAsked { by, name } => LobbyEvent::InviteAsked { by, name },
            Notice::Away { name, text } => LobbyEvent::Away { name, text },
            Notice::Back(name) => LobbyEvent::Back(name),
        }
    }
}

/// Whose screen the event is shown on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role<'a> {
    Leader,
    /// A member of `leader`'s lobby.
    Member {
        leader: &'a str,
    },
}

impl Role<'_> {
    /// Who leads the lobby, as this role says it.
    fn who_leads(&self) -> &str {
        match self {
            Role::Leader => "you",
            Role::Member { leader } => leader,
        }
    }
}

/// How a line reaches the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Shown {
    /// A chat line: in the log already, so the screen may drop it.
    Chat(ScreenLine),
    /// A line the screen must show.
    Own(ScreenLine),
}

/// An event as the screen shows it and as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lines {
    pub(super) screen: Option<Shown>,
    pub(super) log: Option<String>,
}

fn notice(shown: String, logged: String) -> Lines {
    Lines {
        screen: Some(Shown::Own(ScreenLine::Notice(shown))),
        log: Some(logged),
    }
}

/// The screen line and the log line of `event`, seen in `role`: one call
/// per event, grouped by family (who is there, what is said, invitations,
/// the end).
pub(super) fn lines(event: &LobbyEvent, role: Role<'_>) -> Lines {
    let by = role.who_leads();
    match event {
        LobbyEvent::Members(names) => members(names, by),
        LobbyEvent::Joined(name) => joined(name, role),
        LobbyEvent::Left(name) => gone(name, "", "left"),
        LobbyEvent::Lost(name) => notice(
            format!("Peer ('{name}') is offline (its connection was lost; it may come back)"),
            format!("* {name}'s connection was lost"),
        ),
        LobbyEvent::Dropped(name) => gone(
            name,
            " (too slow: it stopped reading and was dropped)",
            "dropped: it stopped reading",
        ),
        LobbyEvent::Silent(name) => gone(
            name,
            " (silent: nothing heard from it for too long)",
            "dropped: nothing heard from it",
        ),
        LobbyEvent::TooLong(name) => gone(
            name,
            " (it sent a line too long)",
            "dropped: it sent a line too long",
        ),
        LobbyEvent::Kicked { name, reason } => kicked(name, reason.as_deref(), by),
        LobbyEvent::Msg { from, text } => said(from, text),
        LobbyEvent::Private { from, text, seal } => private(from, text, *seal),
        LobbyEvent::History { at, from, text } => history(*at, from, text),
        LobbyEvent::Invitation { name, status } => invited(by, name, status),
        LobbyEvent::InviteDenied { by, name } => invite_denied(by, name),
        LobbyEvent::InviteAsked { by, name } => {
            let asked = format!("{by} asked to invite {name}");
            notice(asked.clone(), format!("* {asked}"))
        }
        LobbyEvent::Away { name, text } if text.is_empty() => {
            notice(format!("{name} is away"), format!("* {name} is away"))
        }
        LobbyEvent::Away { name, text } => notice(
            format!("{name} is away: {text}"),
            format!("* {name} is away: {text}"),
        ),
        LobbyEvent::Back(name) => notice(format!("{name} is back"), format!("* {name} is back")),
        LobbyEvent::LeaderSays(_, text) => leader_says(text),
        LobbyEvent::Unopened { from, why } => unopened(from, why),
        LobbyEvent::Ended(why) => notice(
            format!("The lobby has ended ({why})."),
            format!("* lobby ended: {why}"),
        ),
    }
}

/// We were admitted into `by`'s lobby: who is there.
fn members(names: &[String], by: &str) -> Lines {
    notice(
        format!(
            "You are in {by}'s lobby with: {}. {}",
            names.join(", "),
            super::LOBBY_HINT
        ),
        format!("* members: {}", names.join(" ")),
    )
}

fn joined(name: &str, role: Role<'_>) -> Lines {
    let shown = match role {
        Role::Leader => format!("Client ('{name}') connected"),
        Role::Member { .. } => format!("Peer ('{name}') joined the lobby"),
    };
    notice(shown, format!("* {name} joined"))
}

/// A member is gone: `shown` says why on the screen, `logged` in the log.
fn gone(name: &str, shown: &str, logged: &str) -> Lines {
    notice(
        format!("Peer ('{name}') is offline{shown}"),
        format!("* {name} {logged}"),
    )
}

fn kicked(name: &str, reason: Option<&str>, by: &str) -> Lines {
    let why = reason.map_or(String::new(), |r| format!(": {r}"));
    notice(
        format!("Peer ('{name}') is offline (removed by {by}{why})"),
        format!("* {name} removed by {by}{why}"),
    )
}

/// A message, or an action (`/me waves`), which the screen shows as
/// `* bob waves`, as IRC clients do, and the log keeps as `[bob] * waves`.
fn said(from: &str, text: &str) -> Lines {
    Lines {
        screen: Some(Shown::Chat(said_screen(from, text))),
        log: Some(said_line(from, text)),
    }
}

/// What `from` said as the screen shows it: a chat line, or an action.
pub(super) fn said_screen(from: &str, text: &str) -> ScreenLine {
    match wire::action_of(text) {
        Some(action) => ScreenLine::Action {
            from: from.to_string(),
            text: action.to_string(),
        },
        None => ScreenLine::Chat {
            from: from.to_string(),
            text: text.to_string(),
        },
    }
}

/// How the chat log keeps what `from` said: `[bob] hi`, or `[bob] * waves`.
/// Every line someone said starts with their name in brackets, so no
/// message or action can pass for one of p2pchat's own lines, which start
/// with `* ` (`* bob left`: an action `/me left` is `[bob] * left`).
pub(super) fn said_line(from: &str, text: &str) -> String {
    match wire::action_of(text) {
        Some(action) => format!("[{from}] * {action}"),
        None => format!("[{from}] {text}"),
    }
}

/// How the screen shows a line said earlier: `[bob] hi`, or `* bob waves`.
fn shown_said(from: &str, text: &str) -> String {
    match wire::action_of(text) {
        Some(action) => format!("* {from} {action}"),
        None => format!("[{from}] {text}"),
    }
}

fn private(from: &str, text: &str, seal: Seal) -> Lines {
    let line = match seal {
        Seal::Verified => format!("[{from} -> you] (verified) {text}"),
        Seal::Plain => format!("[{from} -> you] {text} (not sealed: the leader could read it)"),
    };
    Lines {
        screen: Some(Shown::Chat(ScreenLine::Private(line.clone()))),
        log: Some(line),
    }
}

/// A sealed private message that did not open: said, never shown as text.
fn unopened(from: &str, why: &str) -> Lines {
    let line = format!("[{from} -> you] (a sealed message that did not open: {why})");
    Lines {
        screen: Some(Shown::Chat(ScreenLine::Private(line.clone()))),
        log: Some(line),
    }
}

/// A message said before we came, with the time it was said.
fn history(at: DateTime<Utc>, from: &str, text: &str) -> Lines {
    let at = at.with_timezone(&Local);
    let said = said_line(from, text);
    Lines {
        screen: Some(Shown::Own(ScreenLine::Text(format!(
            "{} {}",
            at.format("%H:%M"),
            shown_said(from, text)
        )))),
        log: Some(format!(
            "* history, said {}: {said}",
            at.format("%Y-%m-%d %H:%M:%S")
        )),
    }
}

/// How an invitation went, as the lobby hears it.
fn invited(leader: &str, name: &str, status: &InviteStatus) -> Lines {
    let shown = invitation(leader, name, status);
    notice(shown.clone(), format!("* {shown}"))
}

/// The leader refused what we sent: shown in its words, not logged. The
/// code is for programs; the user reads the text.
fn leader_says(text: &str) -> Lines {
    let shown = format!("The leader says: {}.", text.trim_end_matches('.'));
    Lines {
        screen: Some(Shown::Own(ScreenLine::Text(shown))),
        log: None,
    }
}

fn invite_denied(by: &str, name: &str) -> Lines {
    notice(
        format!(
            "{by} asked to invite {name}; only you invite in this lobby (type /invite {name} to do it)"
        ),
        format!("* {by} asked to invite {name}; refused: only the leader invites"),
    )
}

/// How an invitation into `leader`'s lobby went, in words.
fn invitation(leader: &str, name: &str, status: &InviteStatus) -> String {
    match status {
        InviteStatus::Sent { by } if by == leader => format!("{leader} invited {name}"),
        InviteStatus::Sent { by } => {
            format!("{by} asked to invite {name}; {leader} sent the chat request")
        }
        InviteStatus::Rejected => format!("{name} rejected the invitation"),
        InviteStatus::Busy => format!("{name} is busy and was not invited"),
        InviteStatus::NoAnswer => format!("{name} did not answer the invitation"),
        InviteStatus::Offline => format!("{name} is offline and was not invited"),
        InviteStatus::Unreachable => format!("{name} could not be reached"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(event: LobbyEvent, role: Role<'_>, screen: Option<&str>, log: Option<&str>) {
        let got = lines(&event, role);
        let shown = got.screen.map(|s| match s {
            Shown::Chat(line) | Shown::Own(line) => line.to_string(),
        });
        assert_eq!(shown.as_deref(), screen, "{event:?} on screen");
        assert_eq!(got.log.as_deref(), log, "{event:?} in the log");
    }

    #[test]
    fn one_event_reads_alike_for_leader_and_member_but_for_who_acts() {
        let member = Role::Member { leader: "alice" };
        let joined = || LobbyEvent::Joined("carol".into());
        check(
            joined(),
            Role::Leader,
            Some("Client ('carol') connected"),
            Some("* carol joined"),
        );
        check(
            joined(),
            member,
            Some("Peer ('carol') joined the lobby"),
            Some("* carol joined"),
        );
        let kicked = || LobbyEvent::Kicked {
            name: "bob".into(),
            reason: Some("spam".into()),
        };
        check(
            kicked(),
            Role::Leader,
            Some("Peer ('bob') is offline (removed by you: spam)"),
            Some("* bob removed by you: spam"),
        );
        check(
            kicked(),
            member,
            Some("Peer ('bob') is offline (removed by alice: spam)"),
            Some("* bob removed by alice: spam"),
        );
        let msg = LobbyEvent::Msg {
            from: "bob".into(),
            text: "hi".into(),
        };
        check(msg, member, Some("[bob] hi"), Some("[bob] hi"));
        check(
            LobbyEvent::Invitation {
                name: "dave".into(),
                status: InviteStatus::Sent { by: "bob".into() },
            },
            member,
            Some("bob asked to invite dave; alice sent the chat request"),
            Some("* bob asked to invite dave; alice sent the chat request"),
        );
        check(
            LobbyEvent::LeaderSays(ErrorCode::BadArgs, "no".into()),
            member,
            Some("The leader says: no."),
            None,
        );
        check(
            LobbyEvent::Ended("the leader left".into()),
            member,
            Some("The lobby has ended (the leader left)."),
            Some("* lobby ended: the leader left"),
        );
    }

    #[test]
    fn an_action_reads_as_star_name_action_live_and_replayed() {
        let member = Role::Member { leader: "alice" };
        let waves = || LobbyEvent::Msg {
            from: "bob".into(),
            text: "/me waves".into(),
        };
        check(waves(), member, Some("* bob waves"), Some("[bob] * waves"));
        check(
            waves(),
            Role::Leader,
            Some("* bob waves"),
            Some("[bob] * waves"),
        );
        // An action never reads as one of p2pchat's own log lines.
        let left = LobbyEvent::Msg {
            from: "mallory".into(),
            text: "/me left".into(),
        };
        check(
            left,
            member,
            Some("* mallory left"),
            Some("[mallory] * left"),
        );
        // Only the mark with a space and an action after it makes an action.
        let meow = LobbyEvent::Msg {
            from: "bob".into(),
            text: "/meow".into(),
        };
        check(meow, member, Some("[bob] /meow"), Some("[bob] /meow"));
        let at = crate::wire::parse_stamp("2026-12-03T07:30:05Z").unwrap();
        let replayed = LobbyEvent::History {
            at,
            from: "bob".into(),
            text: "/me waves".into(),
        };
        let got = lines(&replayed, member);
        let Some(Shown::Own(ScreenLine::Text(shown))) = got.screen else {
            panic!("{got:?}");
        };
        assert!(shown.ends_with(" * bob waves"), "{shown}");
        assert!(got.log.unwrap().ends_with(": [bob] * waves"));
    }
}
