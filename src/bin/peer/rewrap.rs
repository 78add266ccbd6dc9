//! The line being typed after the terminal changed width: where the line
//! editor believes it is, where a terminal that re-wraps its lines put it,
//! and what to write so that the editor's redraw erases that line and
//! nothing above it (issue #23).
//!
//! rustyline redraws on a resize by going up as many rows as the line took
//! at the old width and clearing them. Most terminals today (tmux, VTE,
//! kitty, iTerm2, Windows Terminal) re-wrap a wrapped line to the new width
//! first: widened, the line takes fewer rows, and "up and clear" erases the
//! chat lines above it; narrowed, it takes more, and the rows left over keep
//! a stale copy of it. Before that redraw, this module's `before_redraw`
//! moves to the first row of the line as the terminal shows it now, clears
//! from there down, and leaves as many blank rows as the editor will clear.
//!
//! A terminal that does not re-wrap (xterm, the Linux console) is left to
//! rustyline, which suits it; which kind it is, is told by the environment
//! (`rewraps`). Where that guess is wrong the cost is on the screen only:
//! a stale part of the typed line on a widened xterm, and, narrowed, the
//! chat line right above the typed one (still in the chat log).
//!
//! This module only computes; it writes nothing, and knows no editor type.

use unicode_width::UnicodeWidthChar;

/// Where a position sits in a wrapped text: its row and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    row: usize,
    col: usize,
}

/// Where `text` ends when drawn from the left edge at `columns` wide, as
/// rustyline computes it: a character that does not fit goes to the next
/// row whole, and `filled` says whether a row filled to its last column puts
/// the position at the start of the next row (rustyline's layout) or leaves
/// it at the end of that row (a terminal's cursor, which waits there).
fn place(text: &str, columns: usize, filled: bool) -> Place {
    let mut at = Place { row: 0, col: 0 };
    for c in text.chars() {
        let width = c.width().unwrap_or(0);
        at.col += width;
        if at.col > columns {
            at.row += 1;
            at.col = width;
        }
    }
    if filled && at.col == columns {
        at.row += 1;
        at.col = 0;
    }
    at
}

/// The rows of the line being typed, counted from its first: the one the
/// cursor is on, and the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rows {
    cursor: usize,
    end: usize,
}

/// What to write, before the editor redraws `prompt` and `line` (the cursor
/// at byte `pos`) for a terminal that went from `old` to `new` columns and
/// re-wrapped the line, so that the editor's "go up and clear" erases the
/// line and nothing else. `None` when the line takes the same rows as the
/// editor believes, so its own redraw is right.
pub(crate) fn before_redraw(
    prompt: &str,
    line: &str,
    pos: usize,
    old: usize,
    new: usize,
) -> Option<String> {
    if old == 0 || new == 0 || old == new {
        return None;
    }
    let head = format!("{prompt}{}", line.get(..pos).unwrap_or(line));
    let whole = format!("{prompt}{line}");
    // Where rustyline believes the cursor and the end are: its layout at
    // the old width.
    let believed = Rows {
        cursor: place(&head, old, true).row,
        end: place(&whole, old, true).row,
    };
    // Where they are now. A line that filled its last row exactly made
    // rustyline write a line feed of its own, and a terminal re-wraps only
    // the rows that ran over, so the empty row after it stays a row.
    let hard_break = place(&whole, old, true).col == 0 && believed.end > 0;
    let end = place(&whole, new, false).row + usize::from(hard_break);
    let cursor = if hard_break && pos >= line.len() {
        end
    } else {
        // Counted without moving to the next row for a filled one: should
        // the terminal keep the cursor there, going up one row too few
        // leaves a stale row, where one too many would erase a chat line.
        place(&head, new, false).row
    };
    let now = Rows { cursor, end };
    if now == believed {
        return None;
    }
    let mut out = String::new();
    // Up to the first row of the line as it is wrapped now; clear it and
    // everything below (nothing is drawn below the line being typed).
    if now.cursor > 0 {
        out.push_str(&format!("\x1b[{}A", now.cursor));
    }
    out.push_str("\r\x1b[J");
    // rustyline goes down to where it believes the end is, then up as many
    // rows as it believes the line takes, clearing each: give it that many
    // blank rows. Line feeds, not "cursor down", so that at the bottom of
    // the screen they scroll rather than stop (which would send it up past
    // the line). They may leave blank rows at the bottom, which the next
    // line printed fills.
    out.push_str(&"\n".repeat(believed.end));
    let back = believed.end - believed.cursor;
    if back > 0 {
        out.push_str(&format!("\x1b[{back}A"));
    }
    Some(out)
}

/// Whether the terminal re-wraps its lines when its width changes, from
/// what its environment says: tmux does (`TMUX`, checked first, since a
/// tmux started in xterm inherits xterm's variables); xterm (which sets
/// `XTERM_VERSION`) and the Linux console (`TERM=linux`) do not; all others
/// are taken to, as most terminals in use do.
pub(crate) fn rewraps(tmux: bool, xterm_version: bool, term: Option<&str>) -> bool {
    tmux || !(xterm_version || term == Some("linux"))
}

/// `rewraps` for the environment the peer runs in.
pub(crate) fn terminal_rewraps() -> bool {
    let set = |name| std::env::var_os(name).is_some_and(|value| !value.is_empty());
    let term = std::env::var("TERM").ok();
    rewraps(set("TMUX"), set("XTERM_VERSION"), term.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(line: &str, pos: usize, old: usize, new: usize, expected: Option<&str>) {
        assert_eq!(
            before_redraw("> ", line, pos, old, new).as_deref(),
            expected,
            "{line:?} at {pos}, {old} -> {new} columns"
        );
    }

    #[test]
    fn the_line_is_cleared_from_its_first_row_as_wrapped_now() {
        let long = "x".repeat(70); // 72 columns with the prompt
        // Widened from 50 to 120: two rows become one. The cursor is on the
        // only row; one blank row for the one rustyline goes up.
        check(&long, 70, 50, 120, Some("\r\x1b[J\n"));
        // The cursor at the start: rustyline believes it on the first row,
        // goes down one, then up two: so come back up one.
        check(&long, 0, 50, 120, Some("\r\x1b[J\n\x1b[1A"));
        // Narrowed from 120 to 50: one row becomes two; the cursor, at the
        // end, is on the second.
        check(&long, 70, 120, 50, Some("\x1b[1A\r\x1b[J"));
        check(&long, 0, 120, 50, Some("\r\x1b[J"));
        // Three rows at 30 columns, one at 100.
        check(&long, 70, 30, 100, Some("\r\x1b[J\n\n"));
        // A line that fits both widths, or takes as many rows in both: the
        // editor's own redraw is right.
        check("hello", 5, 50, 120, None);
        check("hello", 5, 120, 50, None);
        check(&long, 70, 50, 60, None);
        check(&long, 70, 50, 50, None);
        check(&long, 70, 0, 50, None);
    }

    #[test]
    fn a_line_that_filled_its_last_row_keeps_its_own_empty_row() {
        // 50 columns exactly: rustyline ended the row with a line feed, and
        // the cursor sits alone on the row below, which stays a row.
        let full = "y".repeat(48);
        check(&full, 48, 50, 120, None);
        // 100 columns on two full rows at 50: the two join, the empty row
        // after them stays.
        let two = "y".repeat(98);
        check(&two, 98, 50, 120, Some("\x1b[1A\r\x1b[J\n\n"));
        // Narrowed so that the line fills its last row exactly: the cursor
        // is counted on that row, not below it.
        check(&full, 48, 120, 25, Some("\x1b[1A\r\x1b[J"));
    }

    #[test]
    fn wide_characters_wrap_whole() {
        // 2 + 2 * 30 = 62 columns: at 61 the last emoji goes to a row of
        // its own; at 62 it fits (and fills the row).
        let emoji = "🌳".repeat(30);
        assert_eq!(place(&format!("> {emoji}"), 61, true).row, 1);
        assert_eq!(place(&format!("> {emoji}"), 62, false).row, 0);
        check(&emoji, emoji.len(), 61, 200, Some("\r\x1b[J\n"));
    }

    #[test]
    fn only_xterm_and_the_linux_console_are_taken_not_to_rewrap() {
        assert!(rewraps(false, false, Some("xterm-256color")));
        assert!(rewraps(false, false, None));
        assert!(rewraps(true, false, Some("tmux-256color")));
        assert!(!rewraps(false, true, Some("xterm-256color")));
        assert!(!rewraps(false, false, Some("linux")));
        // tmux started from an xterm: tmux is the terminal.
        assert!(rewraps(true, true, Some("screen")));
    }
}
