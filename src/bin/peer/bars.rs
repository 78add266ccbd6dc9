//! The progress bars a terminal shows: a block of rows, one per transfer
//! running, kept just above the prompt and redrawn in place.
//!
//! The block sits on the rows right above the one the cursor starts a
//! line on: above the prompt while a line is edited (the line editor has
//! cleared its rows before it prints anything above them), above the empty
//! row otherwise. Every text written to the terminal above the prompt is
//! made here, then: it moves up over the block, clears to the end of the
//! screen, writes the lines printed, then the block as it is now, so that
//! printed lines scroll up above it and the editor redraws the prompt and
//! the half-typed line below it. When Enter leaves the typed line between
//! the block and the cursor, `lift` puts the block back under it.
//!
//! This module makes text and keeps the block's state; it writes nothing
//! (`console` does, under its lock) and decides nothing about what a row
//! says (`p2pchat::progress` does).

use std::time::Instant;

use p2pchat::progress::{Meter, Progress};
use unicode_width::UnicodeWidthStr;

/// The block of bars, and how many rows of it are on screen.
#[derive(Debug, Default)]
pub(crate) struct Bars {
    bars: Vec<Bar>,
    /// Rows the block takes on screen now, right above the cursor's row.
    drawn: usize,
}

#[derive(Debug)]
struct Bar {
    key: String,
    label: String,
    meter: Meter,
}

/// Up `rows` rows (none for none), to the start of the row, and clear
/// everything from there down.
fn clear_up(rows: usize) -> String {
    match rows {
        0 => "\r\x1b[J".to_string(),
        rows => format!("\x1b[{rows}A\r\x1b[J"),
    }
}

/// Ends a text that must leave the cursor where it is, for a line editor
/// that adds a line feed to a text without one: up a row, then the line
/// feed back down.
const STAY: &str = "\x1b[A\n";

impl Bars {
    /// Takes a transfer's report at `now`: a new transfer's bar is added
    /// under the others, an ended one's removed.
    pub(crate) fn take(&mut self, progress: &Progress, now: Instant) {
        let at = self.bars.iter().position(|bar| bar.key == progress.key);
        match (at, progress.ended) {
            (Some(at), true) => {
                self.bars.remove(at);
            }
            (None, true) => {}
            (Some(at), false) => self.bars[at].meter.update(progress.done, now),
            (None, false) => self.bars.push(Bar {
                key: progress.key.clone(),
                label: progress.label.clone(),
                meter: Meter::new(progress.done, progress.total, now),
            }),
        }
    }

    /// Whether nothing is drawn and nothing is to be: then a line is
    /// printed as it always was.
    pub(crate) fn is_idle(&self) -> bool {
        self.bars.is_empty() && self.drawn == 0
    }

    /// The text that replaces the block on screen with `lines`, then the
    /// block as it is now, for a terminal `columns` wide (none: unknown,
    /// and no block is drawn). The cursor is at the start of the row under
    /// the block, and ends at the start of the row under the new block.
    pub(crate) fn redraw(&mut self, lines: &[&str], columns: Option<usize>) -> String {
        let mut text = clear_up(self.drawn);
        for line in lines {
            text.push_str(line);
            text.push('\n');
        }
        self.draw_block(&mut text, columns);
        if !text.ends_with('\n') {
            text.push_str(STAY);
        }
        text
    }

    /// The text that puts the block back right above the cursor after
    /// Enter left `echo_rows` rows of typed line below it: the block and
    /// those rows are cleared, `echo` (the prompt and the line, if it is
    /// to stay) written again, then the block.
    pub(crate) fn lift(
        &mut self,
        echo_rows: usize,
        echo: Option<&str>,
        columns: Option<usize>,
    ) -> String {
        let mut text = clear_up(self.drawn + echo_rows);
        if let Some(echo) = echo {
            text.push_str(echo);
            text.push('\n');
        }
        self.draw_block(&mut text, columns);
        text
    }

    /// The text that erases the echo of `line` after `prompt`, which the
    /// editor left on the rows just above the cursor when Enter was
    /// pressed (as many as they took at the terminal's width), and under
    /// the bars (`after_enter` put them back under it); none if the width
    /// is not known.
    pub(crate) fn erase_echo(
        &mut self,
        prompt: &str,
        line: &str,
        columns: Option<usize>,
    ) -> Option<String> {
        let width = columns?;
        Some(self.lift(echo_rows(prompt, line, width), None, columns))
    }

    /// The text that puts the bars back right above the cursor after Enter
    /// left `line` (after `prompt`) under them; none if there are none.
    pub(crate) fn after_enter(
        &mut self,
        prompt: &str,
        line: &str,
        columns: Option<usize>,
    ) -> Option<String> {
        if self.is_idle() {
            return None;
        }
        // A paste of several lines is not measured: the bars are drawn
        // anew under it and their old rows stay where they are.
        Some(match columns.filter(|_| !line.contains('\n')) {
            Some(width) => {
                let echo = format!("{prompt}{line}");
                self.lift(echo_rows(prompt, line, width), Some(&echo), columns)
            }
            None => {
                self.drawn = 0;
                self.redraw(&[], columns)
            }
        })
    }

    /// Adds the block's rows to `text`: one short of the terminal's width
    /// each, since a row that fills the last column leaves the cursor in a
    /// state terminals disagree on.
    fn draw_block(&mut self, text: &mut String, columns: Option<usize>) {
        self.drawn = 0;
        let Some(width) = columns.map(|columns| columns.saturating_sub(1)) else {
            return;
        };
        if self.bars.is_empty() {
            return;
        }
        // Rows measure to fit; should a terminal draw one wider anyway,
        // it is cut at the edge rather than wrapped onto a row the block
        // does not count (auto-wrap off, then on again).
        // The text still ends in a line feed, as the editor wants.
        text.push_str(WRAP_OFF);
        for (at, bar) in self.bars.iter().enumerate() {
            text.push_str(&bar.meter.row(&bar.label, width));
            if at + 1 == self.bars.len() {
                text.push_str(WRAP_ON);
            }
            text.push('\n');
            self.drawn += 1;
        }
    }
}

/// DECAWM: a terminal's auto-wrap, turned off around the block's rows.
const WRAP_OFF: &str = "\x1b[?7l";
const WRAP_ON: &str = "\x1b[?7h";

/// How many rows `prompt` and `line` took when Enter was pressed, at a
/// terminal `columns` wide.
fn echo_rows(prompt: &str, line: &str, columns: usize) -> usize {
    (prompt.width() + line.width()) / columns.max(1) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(key: &str, done: u64, ended: bool) -> Progress {
        Progress {
            key: key.into(),
            label: format!("↓ {key} from bob"),
            done,
            total: 100,
            ended,
        }
    }

    /// The block's `rows`, with auto-wrap off while they are drawn.
    fn block(rows: &[&str]) -> String {
        format!("{WRAP_OFF}{}{WRAP_ON}\n", rows.join("\n"))
    }

    #[test]
    fn the_block_is_redrawn_in_place_under_the_lines_printed() {
        let now = Instant::now();
        let mut bars = Bars::default();
        assert!(bars.is_idle());
        // Nothing drawn yet: nothing to move over.
        bars.take(&report("a", 10, false), now);
        let row =
            |key: &str, done| Meter::new(done, 100, now).row(&format!("↓ {key} from bob"), 59);
        let a = row("a", 10);
        let text = bars.redraw(&[], Some(60));
        assert_eq!(text, format!("\r\x1b[J{}", block(&[&a])));
        // A line printed goes above the block, which is drawn again.
        bars.take(&report("b", 0, false), now);
        let text = bars.redraw(&["[alice] hi"], Some(60));
        let b = row("b", 0);
        assert!(b.contains("[--------------]    0%"), "{b}");
        assert_eq!(
            text,
            format!("\x1b[1A\r\x1b[J[alice] hi\n{}", block(&[&a, &b]))
        );
        // Enter left two rows of typed line under the block.
        let text = bars.lift(2, Some("> hello"), Some(60));
        assert_eq!(
            text,
            format!("\x1b[4A\r\x1b[J> hello\n{}", block(&[&a, &b]))
        );
        // Ended bars go; the last leaves the cursor where it is.
        bars.take(&report("a", 0, true), now);
        let text = bars.redraw(&[], Some(60));
        assert_eq!(text, format!("\x1b[2A\r\x1b[J{}", block(&[&b])));
        bars.take(&report("b", 0, true), now);
        assert!(!bars.is_idle());
        assert_eq!(bars.redraw(&[], Some(60)), format!("\x1b[1A\r\x1b[J{STAY}"));
        assert!(bars.is_idle());
        // With no width known no block is drawn.
        bars.take(&report("c", 0, false), now);
        assert_eq!(bars.redraw(&["x"], None), "\r\x1b[Jx\n");
    }
}
