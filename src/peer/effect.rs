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

    /// Everything pushed since the last call, oldest first.
    pub(super) fn take(&self) -> Vec<Effect> {
        std::mem::take(&mut *self.0.borrow_mut())
    }
}
