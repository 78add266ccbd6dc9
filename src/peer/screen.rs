//! The app thread's side of the screen: every line escaped before it is
//! shown, and chat lines dropped, with a count, when the screen falls behind.
//!
//! The screen channel may be bounded (the binary makes it so): then a
//! standard output that nobody reads fills it, and the app must neither
//! block on it (it would stop reading the lobby, the keyboard and Ctrl-C)
//! nor queue without limit. Chat lines are in the chat log already, so the
//! ones that do not fit are counted and a summary line stands in for them;
//! the app's own lines (prompts, notices) are held, up to `HELD_LIMIT`, and
//! shown in order once there is room. This module never blocks.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};

use crate::screen::ScreenLine;

/// How many of the app's own lines are held while the screen is full; past
/// this they are dropped and counted like chat lines.
const HELD_LIMIT: usize = 1000;

/// How long the last lines may take to reach the screen as the peer exits.
const FINISH_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) struct Screen {
    tx: Sender<ScreenLine>,
    /// Lines that must be shown, waiting for room, oldest first.
    held: RefCell<VecDeque<ScreenLine>>,
    /// Lines dropped since the last summary.
    dropped: Cell<u64>,
    /// Questions (`ScreenLine::Prompt`) handed to the screen: a terminal
    /// counts the same ones as it shows them.
    asked: Cell<u64>,
}

impl Screen {
    pub(super) fn new(tx: Sender<ScreenLine>) -> Screen {
        Screen {
            tx,
            held: RefCell::new(VecDeque::new()),
            dropped: Cell::new(0),
            asked: Cell::new(0),
        }
    }

    /// Shows one of the app's own lines: held, not dropped, while the
    /// screen is behind.
    pub(super) fn say(&self, text: &str) {
        self.show(ScreenLine::Text(text.to_string()));
    }

    /// Shows one of the app's own lines, of any kind: held, not dropped,
    /// while the screen is behind.
    pub(super) fn show(&self, line: ScreenLine) {
        let line = line.escaped();
        if self.pump() && self.send(line.clone()) {
            return;
        }
        // A transfer's progress that does not fit is not kept: its next
        // report stands for it. Its end is, so that its bar goes away.
        if matches!(&line, ScreenLine::Progress(progress) if !progress.ended) {
            return;
        }
        let mut held = self.held.borrow_mut();
        if held.len() < HELD_LIMIT {
            held.push_back(line);
        } else {
            self.dropped.set(self.dropped.get() + 1);
        }
    }

    /// Shows a chat line, or counts it as not shown if the screen is behind.
    pub(super) fn chat(&self, line: ScreenLine) {
        if !(self.pump() && self.send(line.escaped())) {
            self.dropped.set(self.dropped.get() + 1);
        }
    }

    /// Delivers what waits, the summary of dropped lines first; true once
    /// nothing waits any more.
    pub(super) fn pump(&self) -> bool {
        let dropped = self.dropped.get();
        if dropped > 0 {
            let summary = summary(dropped);
            if !self.send(summary) {
                return false;
            }
            self.dropped.set(0);
        }
        let mut held = self.held.borrow_mut();
        while let Some(line) = held.pop_front() {
            if !self.send(line.clone()) {
                held.push_front(line);
                return false;
            }
        }
        true
    }

    /// Delivers what waits, blocking for up to two seconds in all, as the
    /// peer exits: a screen that takes nothing for that long is not read.
    pub(super) fn finish(&self) {
        let deadline = Instant::now() + FINISH_TIMEOUT;
        let dropped = self.dropped.replace(0);
        let summary = (dropped > 0).then(|| summary(dropped));
        let held = std::mem::take(&mut *self.held.borrow_mut());
        for line in summary.into_iter().chain(held) {
            if self.tx.send_deadline(line, deadline).is_err() {
                return;
            }
        }
    }

    /// True if nothing waits to be shown.
    pub(super) fn is_idle(&self) -> bool {
        self.dropped.get() == 0 && self.held.borrow().is_empty()
    }

    /// How many questions have been handed to the screen. One held back
    /// for a full screen counts once it is handed on, and one dropped
    /// never: a terminal counts only those it is given.
    pub(super) fn asked(&self) -> u64 {
        self.asked.get()
    }

    /// False if the line did not fit; a screen that is gone takes every
    /// line, as there is nobody left to show it to.
    fn send(&self, line: ScreenLine) -> bool {
        let asks = matches!(line, ScreenLine::Prompt(_));
        let sent = !matches!(self.tx.try_send(line), Err(TrySendError::Full(_)));
        if sent && asks {
            self.asked.set(self.asked.get() + 1);
        }
        sent
    }
}

/// The line that stands in for `dropped` lines not shown.
fn summary(dropped: u64) -> ScreenLine {
    ScreenLine::Notice(format!("[… {dropped} lines not shown; all are in the log]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Progress reports while the screen is behind are not held, so they
    /// cannot crowd out what must be shown; a transfer's end is held.
    #[test]
    fn progress_that_does_not_fit_is_not_held_but_its_end_is() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let screen = Screen::new(tx);
        let report = |done, ended| {
            ScreenLine::Progress(crate::progress::Progress {
                key: "k".into(),
                label: "↓ a from bob".into(),
                done,
                total: 10,
                ended,
            })
        };
        screen.show(report(1, false));
        for done in 2..5000 {
            screen.show(report(done, false));
        }
        assert!(screen.is_idle());
        screen.show(report(10, true));
        screen.say("Saved a from bob");
        assert!(!screen.is_idle());
        let first: Vec<ScreenLine> = rx.try_iter().collect();
        assert_eq!(first, [report(1, false)]);
        assert!(!screen.pump());
        assert_eq!(rx.try_recv().ok(), Some(report(10, true)));
        assert!(screen.pump());
        assert_eq!(rx.try_recv().ok(), Some("Saved a from bob".into()));
    }

    #[test]
    fn chat_lines_that_do_not_fit_become_one_summary() {
        let (tx, rx) = crossbeam_channel::bounded(2);
        let screen = Screen::new(tx);
        let chat = |text: &str| ScreenLine::Chat {
            from: "bob".into(),
            text: text.into(),
        };
        screen.chat(chat("one"));
        screen.chat(chat("two \x1b[2K"));
        for _ in 0..1234 {
            screen.chat(chat("flood"));
        }
        screen.say("Peer ('bob') is offline");
        assert!(!screen.is_idle());
        let got: Vec<String> = rx.try_iter().map(|l| l.to_string()).collect();
        assert_eq!(got, ["[bob] one", "[bob] two \\u{1b}[2K"]);
        assert!(screen.pump());
        assert!(screen.is_idle());
        let got: Vec<String> = rx.try_iter().map(|l| l.to_string()).collect();
        assert_eq!(
            got,
            [
                "[… 1234 lines not shown; all are in the log]",
                "Peer ('bob') is offline"
            ]
        );
        screen.chat(chat("after"));
        assert_eq!(rx.try_recv().unwrap().to_string(), "[bob] after");
    }

    #[test]
    fn a_question_counts_as_asked_once_it_is_handed_to_the_screen() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let screen = Screen::new(tx);
        let ask = |text: &str| ScreenLine::Prompt(text.into());
        screen.show(ask("Menu:"));
        assert_eq!(screen.asked(), 1);
        // Held while the screen is full: not on screen, so not asked yet.
        screen.show(ask("User name:"));
        screen.say("not a question");
        assert_eq!(screen.asked(), 1);
        assert_eq!(rx.try_recv().unwrap(), ask("Menu:"));
        assert!(!screen.pump());
        assert_eq!(screen.asked(), 2);
        assert_eq!(rx.try_recv().unwrap(), ask("User name:"));
        assert!(screen.pump());
        assert_eq!(screen.asked(), 2);
    }
}
