//! What the app's core hands its driver to carry out, as values: the lines
//! to show, the requests for the registry, the workers to start. The core
//! pushes them onto its `Effects` as it handles an input; the driver
//! (`driver.rs`) takes them after each input and does the I/O.
//!
//! A plain module: it holds values and does no I/O.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use chrono::{DateTime, Utc};

use crate::client::LinkNotice;
use crate::lobby::Notice;
use crate::screen::ScreenLine;
use crate::wire::Contact;

use super::msg::{Event, FromLeader, RegistryAsk};
use super::render::{self, Lines, LobbyEvent, Role, Shown};

/// One input for the core: what the user typed, what a worker, the
/// current lobby or the registry link said, or a timer that came due.
pub(super) enum Incoming {
    Line(String),
    /// A worker's event, a registry reply among them.
    Event(Event),
    /// A line (or the end) from the leader of the lobby we are a member of.
    Feed(FromLeader),
    /// A notice of the lobby hub we lead.
    Notice(Notice),
    Link(LinkNotice),
    /// The count of a repeated warning is due.
    Repeats,
    /// A chat log could not be kept (fed back at once by the driver).
    LogFailed(LogFailure),
}

/// The time an input is handled at: the core reads no clock.
#[derive(Debug, Clone, Copy)]
pub(super) struct Now {
    /// For timers and deadlines.
    pub(super) at: Instant,
    /// For what is stamped with the date (the messages a member keeps).
    pub(super) utc: DateTime<Utc>,
}

/// One thing the driver is to do.
#[derive(Debug)]
pub(super) enum Effect {
    /// One of the app's own lines: held, never dropped, while the screen
    /// is behind.
    Show(ScreenLine),
    /// A chat line, which is in the chat log already: the screen may drop
    /// it, and then says how many it dropped.
    Chat(ScreenLine),
    /// A request for the registry worker; the reply comes back as an input.
    ToRegistry(RegistryAsk),
    /// A worker thread to start.
    Start(Worker),
    /// `/verify <name>`: the driver shows the safety code from the keys it
    /// holds.
    Verify(String),
    /// Opens chat log `log`, of `me` in `leader`'s lobby; if it cannot be
    /// created, `Incoming::LogFailed` comes back at once.
    OpenLog {
        log: LogId,
        me: String,
        leader: String,
    },
    /// Appends `line` to chat log `log`, if it is open; if it cannot be
    /// written, the log is closed and `Incoming::LogFailed` comes back at
    /// once.
    Log { log: LogId, line: String },
}

/// A chat log the driver keeps open for the core: the lobby's, which goes
/// on under a new lobby id when the lobby changes leader. The driver closes
/// every log but the one the current stage writes (`App::log_in_use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct LogId(pub(super) u64);

/// Why a chat log could not be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LogFailure {
    /// It could not be created in the folder `dir`.
    Create { dir: String, why: String },
    /// It could not be written at `path`; it is closed.
    Write { path: String, why: String },
}

/// A worker thread the core wants started.
#[derive(Debug)]
pub(super) enum Worker {
    /// Sends `contact` a chat request into lobby `lobby` with `ticket`;
    /// it gives up when `cancel` is set.
    Inviter {
        lobby: u64,
        me: String,
        contact: Contact,
        ticket: String,
        cancel: Arc<AtomicBool>,
    },
}

/// The effects of the input being handled, in order.
#[derive(Debug, Default)]
pub(super) struct Effects(RefCell<Vec<Effect>>);

impl Effects {
    pub(super) fn push(&self, effect: Effect) {
        self.0.borrow_mut().push(effect);
    }

    /// One of the app's own lines, of any kind.
    pub(super) fn show(&self, line: ScreenLine) {
        self.push(Effect::Show(line));
    }

    /// A chat line, which the screen may drop.
    pub(super) fn chat(&self, line: ScreenLine) {
        self.push(Effect::Chat(line));
    }

    /// Appends `line` to the chat log `log`, if there is one.
    pub(super) fn log(&self, log: Option<LogId>, line: impl Into<String>) {
        if let Some(log) = log {
            self.push(Effect::Log {
                log,
                line: line.into(),
            });
        }
    }

    /// Shows and logs `event` as `role` sees it, through the one renderer.
    pub(super) fn event(&self, log: Option<LogId>, event: &LobbyEvent, role: Role<'_>) {
        let Lines {
            screen: shown,
            log: logged,
        } = render::lines(event, role);
        if let Some(logged) = logged {
            self.log(log, logged);
        }
        match shown {
            Some(Shown::Chat(line)) => self.chat(line),
            Some(Shown::Own(line)) => self.show(line),
            None => {}
        }
    }

    /// Everything pushed since the last call, oldest first.
    pub(super) fn take(&self) -> Vec<Effect> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}
