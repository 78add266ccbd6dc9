//! The hub's notices to the leader's user interface, on a bounded channel
//! of that lobby's own. The hub never waits for it (the user interface may
//! be waiting for the hub): what does not fit waits here, and while any
//! waits, the hub reads no member's line, so a flood is held back in TCP.

use std::collections::VecDeque;

use crossbeam_channel::{Sender, TrySendError};

use super::super::Notice;

pub(super) struct Notices {
    to_app: Sender<Notice>,
    /// Notices the user interface has no room for yet, oldest first. This
    /// holds at most what one batch of events made.
    waiting: VecDeque<Notice>,
}

impl Notices {
    pub(super) fn new(to_app: Sender<Notice>) -> Notices {
        Notices {
            to_app,
            waiting: VecDeque::new(),
        }
    }

    /// Queues a notice and delivers what fits.
    pub(super) fn push(&mut self, notice: Notice) {
        self.waiting.push_back(notice);
        self.deliver();
    }

    /// True while notices wait for room: the hub then reads no member.
    pub(super) fn behind(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Hands waiting notices to the user interface as far as it has room;
    /// true once none wait.
    pub(super) fn deliver(&mut self) -> bool {
        while let Some(notice) = self.waiting.pop_front() {
            match self.to_app.try_send(notice) {
                Ok(()) => {}
                Err(TrySendError::Full(notice)) => {
                    self.waiting.push_front(notice);
                    return false;
                }
                // A leader without a user interface still runs the lobby.
                Err(TrySendError::Disconnected(_)) => self.waiting.clear(),
            }
        }
        true
    }

    /// What is left once the lobby ends, after a last delivery: the notices
    /// the user interface never had room for, so they still reach its log.
    pub(super) fn rest(mut self) -> Vec<Notice> {
        self.deliver();
        self.waiting.into()
    }
}
