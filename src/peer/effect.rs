//! What the app's core hands its driver to carry out, as values: the lines
//! to show, the requests for the registry, the workers to start. The core
//! pushes them onto its `Effects` as it handles an input; the driver
//! (`driver.rs`) takes them after each input and does the I/O.
//!
//! A plain module: it holds values and does no I/O.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::screen::ScreenLine;
use crate::wire::Contact;

use super::msg::RegistryAsk;

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
