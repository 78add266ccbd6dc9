//! Where the line editor is, shared by the keyboard thread and the
//! printers (`Desk`): whether a line is being edited, what is typed on it,
//! and the questions (`ScreenLine::Prompt`) shown, so that a line entered
//! goes to the peer with how many questions it had seen.
//!
//! It only keeps state and wakes whoever waits on it; it never reads the
//! keyboard or writes to the terminal (`console` does both).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use p2pchat::peer::Input;

use crate::bars::Bars;

/// Where the line editor is, for the printers. While it edits a line, a
/// line to print must go through it, to be drawn above the line being
/// typed; when it edits none, straight to the terminal. In between, once
/// Enter is pressed, neither: the editor lets go of the terminal before it
/// moves past the accepted line, and a line written then would be glued to
/// the end of it. Once the peer exits the editor has ended: it edits no
/// line again, and lines go straight to the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Idle,
    Editing,
    Closing,
    Ended,
}

pub(crate) struct Desk {
    state: Mutex<DeskState>,
    pub(crate) changed: Condvar,
    /// Held by a printer from making its text until the editor has it:
    /// texts reach the screen in the order the bars' state saw them made.
    pub(crate) order: Mutex<()>,
}

pub(crate) struct DeskState {
    pub(crate) phase: Phase,
    /// Prints on their way through the editor.
    pub(crate) printing: usize,
    /// What is typed on the line being edited.
    pub(crate) line: String,
    /// The editor has drawn the line it edits, so it takes signals: its
    /// own handler is in place.
    pub(crate) armed: bool,
    /// The peer is exiting: the editor ends the line it edits, and begins
    /// none.
    pub(crate) ending: bool,
    /// A question was shown while something was typed: the line being
    /// edited was begun for something else.
    stale: bool,
    /// The questions shown so far: printed, or handed to the editor to
    /// draw above the line it edits.
    shown: u64,
    /// The questions shown when Enter ended the line being edited.
    seen: Option<u64>,
    /// The progress bars, kept above the prompt.
    pub(crate) bars: Bars,
}

/// How long Enter waits for a print on its way through the editor. The
/// editor takes a print in between keys, so one that waits for it cannot
/// finish until Enter is handled: Enter waits only long enough for a print
/// to be past the point where it chose its way.
const CLOSE_WAIT: Duration = Duration::from_millis(50);

impl Desk {
    pub(crate) fn new() -> Desk {
        Desk {
            state: Mutex::new(DeskState {
                phase: Phase::Idle,
                printing: 0,
                line: String::new(),
                armed: false,
                ending: false,
                stale: false,
                shown: 0,
                seen: None,
                bars: Bars::default(),
            }),
            changed: Condvar::new(),
            order: Mutex::new(()),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, DeskState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set(&self, phase: Phase) {
        self.lock().phase = phase;
        self.changed.notify_all();
    }

    /// A line is begun: nothing typed, nothing seen yet. False if the peer
    /// is exiting, and no line is to be begun.
    pub(crate) fn begin(&self) -> bool {
        let mut state = self.lock();
        if state.ending {
            return false;
        }
        state.line.clear();
        state.armed = false;
        state.stale = false;
        state.seen = None;
        state.phase = Phase::Editing;
        true
    }

    /// Enter was pressed: the line has seen the questions shown until now,
    /// and printers wait until the editor has let go.
    pub(crate) fn close(&self) {
        let mut state = self.lock();
        state.phase = Phase::Closing;
        state.seen = Some(state.shown);
        let _ = self
            .changed
            .wait_timeout_while(state, CLOSE_WAIT, |state| state.printing > 0);
    }

    /// The line the editor returned, for the peer: `Stale` if a question
    /// came while it was typed; else `Typed`, with the questions it had
    /// seen at Enter (or now, if it ended by another key), so that the
    /// peer can tell one meant for a question it has since replaced.
    pub(crate) fn entered(&self, line: String) -> Input {
        let mut state = self.lock();
        if std::mem::take(&mut state.stale) {
            return Input::Stale(line);
        }
        let seen = state.seen.take().unwrap_or(state.shown);
        Input::Typed { line, seen }
    }
}

impl DeskState {
    /// A question is shown, printed now or handed to the editor: a line
    /// being edited with something typed on it was begun for something
    /// else. Called as the printer chooses its way, never while Enter is
    /// being handled (printers wait then).
    pub(crate) fn asked(&mut self) {
        self.shown += 1;
        if self.phase == Phase::Editing && !self.line.is_empty() {
            self.stale = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(line: &str, seen: u64) -> Input {
        Input::Typed {
            line: line.to_string(),
            seen,
        }
    }

    #[test]
    fn a_line_carries_the_questions_shown_before_its_enter() {
        let desk = Desk::new();
        // The first question, printed before any line is begun.
        desk.lock().asked();
        assert!(desk.begin());
        desk.close();
        assert_eq!(desk.entered("1".into()), typed("1", 1));

        // The next question is drawn only after Enter (the stage changed
        // in between): the line had seen one question, not two, and the
        // peer, which asked two, takes it as stale.
        assert!(desk.begin());
        desk.lock().line.push('1');
        desk.close();
        desk.lock().asked();
        assert_eq!(desk.entered("1".into()), typed("1", 1));

        // Begun after it: it has seen both.
        assert!(desk.begin());
        desk.close();
        assert_eq!(desk.entered("2".into()), typed("2", 2));
    }

    #[test]
    fn a_question_shown_while_a_line_is_typed_makes_it_stale() {
        let desk = Desk::new();
        assert!(desk.begin());
        // Shown above an empty line: the line is typed after it.
        desk.lock().asked();
        desk.lock().line.push_str("hel");
        desk.lock().asked();
        desk.close();
        assert_eq!(desk.entered("hello".into()), Input::Stale("hello".into()));
        // A line that ends without Enter has seen what was shown by then.
        assert!(desk.begin());
        assert_eq!(desk.entered("x".into()), typed("x", 2));
    }

    #[test]
    fn no_line_is_begun_once_the_peer_is_ending() {
        let desk = Desk::new();
        desk.lock().ending = true;
        assert!(!desk.begin());
    }
}
