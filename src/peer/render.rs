//! One renderer for everything that happens in a lobby, for its leader and
//! its members alike: each `LobbyEvent` becomes the line the screen shows
//! and the line the chat log keeps. Its `match` has no catch-all arm, so a
//! new event cannot be forgotten.
//!
//! A plain module: it formats, and does no I/O.

use chrono::{DateTime, Local, Utc};

use crate::lobby::Notice;
use crate::screen::ScreenLine;
use crate::wire::{ErrorCode, InviteStatus};

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
    },
    /// A message said before we came, replayed.
    History {
        at: DateTime<Utc>,
        from: String,
        text: String,
    },
    Left(String),
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
            Notice::Dropped(name) => LobbyEvent::Dropped(name),
            Notice::Silent(name) => LobbyEvent::Silent(name),
            Notice::TooLong(name) => LobbyEvent::TooLong(name),
            Notice::Kicked { name, reason } => LobbyEvent::Kicked { name, reason },
            Notice::Private { from, text } => LobbyEvent::Private { from, text },
            Notice::InviteDenied { by, name } => LobbyEvent::InviteDenied { by, name },
            Notice::InviteAsked { by, name } => LobbyEvent::InviteAsked { by, name },
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

/// The screen line and the log line of `event`, seen in `role`.
pub(super) fn lines(event: &LobbyEvent, role: Role<'_>) -> Lines {
    let by = match role {
        Role::Leader => "you",
        Role::Member { leader } => leader,
    };
    match event {
        LobbyEvent::Members(names) => notice(
            format!(
                "You are in {by}'s lobby with: {}. {}",
                names.join(", "),
                super::LOBBY_HELP
            ),
            format!("* members: {}", names.join(" ")),
        ),
        LobbyEvent::Joined(name) => {
            let shown = match role {
                Role::Leader => format!("Client ('{name}') connected"),
                Role::Member { .. } => format!("Peer ('{name}') joined the lobby"),
            };
            notice(shown, format!("* {name} joined"))
        }
        LobbyEvent::Msg { from, text } => Lines {
            screen: Some(Shown::Chat(ScreenLine::Chat {
                from: from.clone(),
                text: text.clone(),
            })),
            log: Some(format!("[{from}] {text}")),
        },
        LobbyEvent::Private { from, text } => {
            let line = format!("[{from} -> you] {text}");
            Lines {
                screen: Some(Shown::Chat(ScreenLine::Text(line.clone()))),
                log: Some(line),
            }
        }
        LobbyEvent::History { at, from, text } => {
            let at = at.with_timezone(&Local);
            Lines {
                screen: Some(Shown::Own(ScreenLine::Text(format!(
                    "{} [{from}] {text}",
                    at.format("%H:%M")
                )))),
                log: Some(format!(
                    "* history, said {}: [{from}] {text}",
                    at.format("%Y-%m-%d %H:%M:%S")
                )),
            }
        }
        LobbyEvent::Left(name) => notice(
            format!("Peer ('{name}') is offline"),
            format!("* {name} left"),
        ),
        LobbyEvent::Dropped(name) => notice(
            format!("Peer ('{name}') is offline (too slow: it stopped reading and was dropped)"),
            format!("* {name} dropped: it stopped reading"),
        ),
        LobbyEvent::Silent(name) => notice(
            format!("Peer ('{name}') is offline (silent: nothing heard from it for too long)"),
            format!("* {name} dropped: nothing heard from it"),
        ),
        LobbyEvent::TooLong(name) => notice(
            format!("Peer ('{name}') is offline (it sent a line too long)"),
            format!("* {name} dropped: it sent a line too long"),
        ),
        LobbyEvent::Kicked { name, reason } => {
            let why = reason
                .as_deref()
                .map_or(String::new(), |r| format!(": {r}"));
            notice(
                format!("Peer ('{name}') is offline (removed by {by}{why})"),
                format!("* {name} removed by {by}{why}"),
            )
        }
        LobbyEvent::Invitation { name, status } => {
            let shown = invitation(by, name, status);
            notice(shown.clone(), format!("* {shown}"))
        }
        LobbyEvent::InviteDenied { by, name } => notice(
            format!(
                "{by} asked to invite {name}; only you invite in this lobby (type /invite {name} to do it)"
            ),
            format!("* {by} asked to invite {name}; refused: only the leader invites"),
        ),
        LobbyEvent::InviteAsked { by, name } => notice(
            format!("{by} asked to invite {name}"),
            format!("* {by} asked to invite {name}"),
        ),
        LobbyEvent::LeaderSays(code, text) => Lines {
            screen: Some(Shown::Own(ScreenLine::Text(format!(
                "The leader says: {text} ({code})"
            )))),
            log: None,
        },
        LobbyEvent::Ended(why) => notice(
            format!("The lobby has ended ({why})."),
            format!("* lobby ended: {why}"),
        ),
    }
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
            Some("The leader says: no (BAD_ARGS)"),
            None,
        );
        check(
            LobbyEvent::Ended("the leader left".into()),
            member,
            Some("The lobby has ended (the leader left)."),
            Some("* lobby ended: the leader left"),
        );
    }
}
