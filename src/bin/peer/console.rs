//! The `peer` binary's keyboard and screen: the threads that read standard
//! input for the peer's `Console` and print its `ScreenLine`s.
//!
//! Piped, `plain.rs` reads and prints instead. At a terminal (standard input and output
//! both), a line editor (`rustyline`) reads the lines, with editing,
//! history and Tab completion, and everything printed, `--trace` lines included, goes through
//! its external printer, which draws it above the line being typed and then
//! redraws the prompt and the half-typed text (and, above them, the
//! progress bars: `bars.rs`).
//!
//! At a terminal the prompt says where the user is (`[alice · 3] > ` in a
//! lobby), as the peer last set it in `PromptText`; it is taken when a
//! line begins, since the editor measures it only then.
//!
//! At a terminal, a line begun before a new question was shown above it
//! (`ScreenLine::Prompt`) was meant for something else: it goes to the peer
//! as `Input::Stale`, never as the new question's answer. Every other line
//! goes as `Input::Typed`, with how many questions had been shown when
//! Enter was pressed (`desk.rs` counts them), so the peer can tell a line
//! entered in the moment after it asked a new question, before that was
//! drawn. A message sent in a lobby has its echo (`> text`) erased, as the
//! peer shows it back with the user's name.
//!
//! This module owns standard input and standard output of the peer binary;
//! it never decides what a line says (the peer does) or how it looks
//! (`screen` does).

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::Local;
use crossbeam_channel::{Receiver, Sender};
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, ConditionalEventHandler, Context, Editor, Event, EventContext, EventHandler,
    ExternalPrinter, Helper, KeyCode, KeyEvent, Modifiers, RepeatCount,
};

use p2pchat::peer::{Input, LobbyNames, PromptText, Want};
use p2pchat::progress::Progress;
use p2pchat::screen::{ScreenLine, Style};

use crate::bars::Bars;
use crate::desk::{Desk, DeskState, Phase};
use crate::rewrap;
use crate::tty::{columns, discard_typed_ahead, echo_off};
use crate::typed::{is_message, pasted_lines};

/// Whether the peer talks to a person at a terminal: standard input and
/// standard output are both terminals, and the terminal can edit a line.
pub(crate) fn at_terminal() -> bool {
    let dumb = std::env::var("TERM").is_ok_and(|term| term == "dumb");
    io::stdin().is_terminal() && io::stdout().is_terminal() && !dumb
}

/// The line editor, and a printer that draws above the line it edits.
pub(crate) struct LineEditor {
    editor: Editor<Watcher, DefaultHistory>,
    desk: Arc<Desk>,
    /// What the prompt says, as the peer last set it: where the user is.
    /// The question itself is the line printed above it.
    prompt: PromptText,
    /// The prompt the line being (or last) edited was drawn with.
    drawn: String,
}

/// The line editor's helper. It tells the desk, at every change of the
/// line being edited, what is typed (the editor asks its helper for a hint
/// each time it redraws the line, before it draws), gets a terminal that
/// re-wrapped the line ready for the redraw after a resize (`rewrap`), and
/// says what Tab completes: the commands, and who is in the lobby
/// (`p2pchat::peer::complete`).
struct Watcher {
    desk: Arc<Desk>,
    names: LobbyNames,
    /// The line as last drawn, for `rewrap`; `None` before a line is begun.
    drawn: Mutex<Option<Drawn>>,
    /// Whether the terminal re-wraps its lines on a resize.
    rewraps: bool,
    /// The prompt the line being edited was begun with.
    prompt: String,
}

/// The line being edited as the editor last drew it.
struct Drawn {
    line: String,
    columns: usize,
}

impl Watcher {
    /// A resize makes rustyline redraw the line, and it asks for a hint
    /// first: the terminal's width then differs from the one the same line
    /// was last drawn at. Before rustyline clears the rows it believes the
    /// line takes, the cursor is put where that clears the line as the
    /// terminal re-wrapped it (`rewrap`). Only the editor's thread writes
    /// to the terminal while a line is edited, and this runs on it.
    fn rewrap(&self, line: &str, pos: usize) {
        let Some(columns) = columns() else {
            return;
        };
        let mut drawn = self.drawn.lock().unwrap_or_else(PoisonError::into_inner);
        // A changed line means a key, not a resize: a resize that rustyline
        // did not redraw for left a line that fits one row at both widths.
        let fix = drawn
            .as_ref()
            .filter(|drawn| self.rewraps && drawn.line == line)
            .and_then(|drawn| {
                rewrap::before_redraw(&self.prompt, line, pos, drawn.columns, columns)
            });
        if let Some(fix) = fix {
            let mut out = io::stdout();
            let _ = out.write_all(fix.as_bytes()).and_then(|()| out.flush());
        }
        *drawn = Some(Drawn {
            line: line.to_string(),
            columns,
        });
    }
}

impl Hinter for Watcher {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<String> {
        self.rewrap(line, pos);
        let mut state = self.desk.lock();
        state.line.clear();
        state.line.push_str(line);
        state.armed = true;
        self.desk.changed.notify_all();
        None
    }
}

impl Completer for Watcher {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        Ok(p2pchat::peer::complete(line, pos, &self.names.get()))
    }
}

impl Highlighter for Watcher {}

impl Validator for Watcher {}

impl Helper for Watcher {}

/// Prints above the line being edited; a line printed while nothing is
/// being edited is simply written out.
pub(crate) struct AbovePrinter {
    printer: Box<dyn ExternalPrinter + Send>,
    desk: Arc<Desk>,
}

/// A key that ends the line being edited: it tells the desk first, then
/// does what the key does.
struct Ending {
    desk: Arc<Desk>,
    cmd: Cmd,
}

impl ConditionalEventHandler for Ending {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, _: &EventContext<'_>) -> Option<Cmd> {
        self.desk.close();
        Some(self.cmd.clone())
    }
}

impl LineEditor {
    /// A line editor on the terminal, with a printer for the screen thread,
    /// one for `--trace` lines, and the means to end it when the peer exits.
    pub(crate) fn start(names: LobbyNames, prompt: PromptText) -> io::Result<TerminalConsole> {
        let mut editor = Editor::<Watcher, DefaultHistory>::new().map_err(io::Error::other)?;
        let desk = Arc::new(Desk::new());
        editor.set_helper(Some(Watcher {
            desk: desk.clone(),
            names,
            drawn: Mutex::new(None),
            rewraps: rewrap::terminal_rewraps(),
            prompt: String::new(),
        }));
        for (key, cmd) in [
            (KeyEvent(KeyCode::Enter, Modifiers::NONE), Cmd::AcceptLine),
            (KeyEvent::ctrl('J'), Cmd::AcceptLine),
            (KeyEvent::ctrl('C'), Cmd::Interrupt),
        ] {
            let ending = Ending {
                desk: desk.clone(),
                cmd,
            };
            editor.bind_sequence(key, EventHandler::Conditional(Box::new(ending)));
        }
        let mut printer = || {
            editor
                .create_external_printer()
                .map(|printer| AbovePrinter {
                    printer: Box::new(printer),
                    desk: desk.clone(),
                })
                .map_err(io::Error::other)
        };
        let (screen, trace) = (printer()?, printer()?);
        let end = EditorEnd {
            printer: printer()?.printer,
            desk: desk.clone(),
        };
        Ok(TerminalConsole {
            editor: LineEditor {
                editor,
                desk,
                prompt,
                drawn: String::new(),
            },
            screen,
            trace,
            end,
        })
    }

    /// Reads a line each time the peer asks for one: passwords without echo
    /// (`rpassword`, on the line below the question), everything else with
    /// the editor, whose history holds what was typed in this session.
    /// Ctrl-C and Ctrl-D on an empty line end the input, as they always did;
    /// the editor gives the terminal back as it found it either way.
    pub(crate) fn read(mut self, wants: &Receiver<Want>, input: &Sender<Input>) {
        echo_off();
        for want in wants {
            let next = match want {
                // A password is never shown back, so never taken as stale:
                // it goes as it comes, as a pipe's line does.
                Want::Secret => match rpassword::read_password() {
                    Ok(line) => Input::Line(line),
                    Err(_) => Input::Eof,
                },
                Want::Line => self.read_line(),
                Want::Afresh => {
                    discard_typed_ahead();
                    self.read_line()
                }
                Want::Chat => {
                    let line = self.read_line();
                    if let Input::Typed { line: text, .. } = &line
                        && is_message(text)
                    {
                        erase_echo(&self.desk, &self.drawn, text);
                    }
                    line
                }
            };
            // Until the next read, what is typed is kept unseen: the editor
            // shows it when it reads it, and a password typed ahead of its
            // question is never on screen.
            echo_off();
            let last = matches!(next, Input::Eof | Input::Interrupt);
            for next in pasted_lines(next) {
                if input.send(next).is_err() {
                    return;
                }
            }
            if last {
                break;
            }
        }
    }

    fn read_line(&mut self) -> Input {
        loop {
            if !self.desk.begin() {
                return Input::Eof;
            }
            // A new line is drawn afresh, at the width of the moment.
            if let Some(helper) = self.editor.helper_mut() {
                *helper
                    .drawn
                    .get_mut()
                    .unwrap_or_else(PoisonError::into_inner) = None;
            }
            // The prompt is taken when a line begins: rustyline measures
            // it once, at `readline` (`State::new` keeps its size for the
            // whole line), so a prompt that changed width while a line is
            // edited would put the cursor in the wrong column. News that
            // changes it (someone joins) shows from the next line on.
            self.drawn = self.prompt.get();
            if let Some(helper) = self.editor.helper_mut() {
                helper.prompt.clone_from(&self.drawn);
            }
            let line = self.editor.readline(self.drawn.as_str());
            // Ended for the peer's exit: the line is left clean before the
            // phase changes, since `EditorEnd::finish` waits only while the
            // editor edits, and the process may exit as soon as it returns.
            if matches!(line, Err(ReadlineError::Interrupted)) && self.desk.lock().ending {
                self.leave_line();
                return Input::Eof;
            }
            if let Ok(line) = &line {
                lift_bars(&self.desk, &self.drawn, line);
            }
            self.desk.set(Phase::Idle);
            match line {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = self.editor.add_history_entry(line.as_str());
                    }
                    return self.desk.entered(line);
                }
                Err(ReadlineError::Interrupted) => return Input::Interrupt,
                // A resized window is redrawn; the line goes on.
                Err(ReadlineError::Signal(_)) => continue,
                Err(_) => return Input::Eof,
            }
        }
    }
}

impl LineEditor {
    /// The editor's last act when the peer exits mid-line: rustyline has
    /// left the prompt and the typed text on the screen with a line feed
    /// after them; they are erased, so that no `> ` stays at the start of
    /// the shell's prompt, and what was typed is said, as it was not sent.
    fn leave_line(&self) {
        let line = std::mem::take(&mut self.desk.lock().line);
        erase_echo(&self.desk, &self.drawn, &line);
        if !line.trim().is_empty() {
            print_line(&format!("Not sent: {line}"));
        }
        self.desk.set(Phase::Ended);
    }
}

/// The line editor and its printers, at a terminal.
pub(crate) struct TerminalConsole {
    pub(crate) editor: LineEditor,
    /// For the screen thread.
    pub(crate) screen: AbovePrinter,
    /// For `--trace` lines.
    pub(crate) trace: AbovePrinter,
    /// Ends the editor when the peer exits.
    pub(crate) end: EditorEnd,
}

/// Ends the line editor when the peer exits, so that its last act is to
/// leave the line clean. The editor alone draws the line it edits, and
/// redraws it after every line printed above it: whatever else erased it
/// could be drawn over again.
pub(crate) struct EditorEnd {
    printer: Box<dyn ExternalPrinter + Send>,
    desk: Arc<Desk>,
}

/// What `EditorEnd` prints through the editor to learn that the editor has
/// taken every line printed before: it draws nothing (up one row, then the
/// line feed back down), and no line feed is added to one that ends in one.
const INVISIBLE: &str = "\x1b[A\n";

impl EditorEnd {
    /// Ends the editor, once the screen thread has printed its last line:
    /// a line being edited is ended by the editor itself, woken by SIGINT
    /// as Ctrl-C would (which rustyline takes while it edits), and no line
    /// is begun after. Waits at most `wait` for it.
    pub(crate) fn finish(mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        let mut state = self.desk.lock();
        state.ending = true;
        // Until the editor can take the signal, or has let go of the line.
        let busy = |state: &mut DeskState| {
            (state.phase == Phase::Editing && !state.armed) || state.phase == Phase::Closing
        };
        state = self.wait(state, deadline, busy);
        if state.phase != Phase::Editing {
            return;
        }
        drop(state);
        // The editor takes a printed line before a key and after a signal:
        // once this one is on its way, every line before it has been taken
        // and drawn, so that the signal cannot overtake one.
        let _ = self.printer.print(INVISIBLE.to_string());
        #[cfg(unix)]
        // SAFETY: raise only sends a signal to this process.
        unsafe {
            libc::raise(libc::SIGINT);
        }
        let state = self.desk.lock();
        drop(self.wait(state, deadline, |state| state.phase == Phase::Editing));
    }

    /// Waits until `busy` no longer holds, or `deadline` has passed.
    fn wait<'a>(
        &self,
        mut state: MutexGuard<'a, DeskState>,
        deadline: Instant,
        busy: impl Fn(&mut DeskState) -> bool,
    ) -> MutexGuard<'a, DeskState> {
        let left = deadline.saturating_duration_since(Instant::now());
        (state, _) = self
            .desk
            .changed
            .wait_timeout_while(state, left, busy)
            .unwrap_or_else(PoisonError::into_inner);
        state
    }
}

/// Erases the echo of `line` after `prompt`, which the editor left
/// above the cursor when Enter was pressed (`Bars::erase_echo`).
fn erase_echo(desk: &Desk, prompt: &str, line: &str) {
    if let Some(text) = desk.lock().bars.erase_echo(prompt, line, columns()) {
        write_out(&text);
    }
}

/// Puts the progress bars back under the typed `line` that Enter left
/// below them (`Bars::after_enter`). Done before printers may write
/// straight to the terminal, which they do below the bars.
fn lift_bars(desk: &Desk, prompt: &str, line: &str) {
    if let Some(text) = desk.lock().bars.after_enter(prompt, line, columns()) {
        write_out(&text);
    }
}

impl AbovePrinter {
    /// Prints `text` as one line: above the line being typed while one is
    /// edited, and as it is otherwise.
    pub(crate) fn print(&mut self, text: &str) {
        self.print_line(text, false);
    }

    /// Prints `text` as `print` does; if it `asks` a question while
    /// something is typed, the line being typed was begun for something else.
    fn print_line(&mut self, text: &str, asks: bool) {
        self.print_with(asks, |bars| match bars.is_idle() {
            // The editor adds a line ending only to a line without one.
            true => format!("{text}\n"),
            false => bars.redraw(&[text], columns()),
        });
    }

    /// A transfer's progress: its bar is redrawn in place.
    fn print_progress(&mut self, progress: &Progress) {
        self.print_with(false, |bars| {
            bars.take(progress, Instant::now());
            bars.redraw(&[], columns())
        });
    }

    /// Writes the text `make` makes from the progress bars as they are:
    /// through the editor while it edits a line, straight out otherwise.
    fn print_with(&mut self, asks: bool, make: impl FnOnce(&mut Bars) -> String) {
        let order = self
            .desk
            .order
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut state = self.desk.lock();
        loop {
            match state.phase {
                Phase::Idle | Phase::Ended => {
                    if asks {
                        state.asked();
                    }
                    return write_out(&make(&mut state.bars));
                }
                Phase::Closing => {
                    state = self
                        .desk
                        .changed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                Phase::Editing => break,
            }
        }
        if asks {
            state.asked();
        }
        let text = make(&mut state.bars);
        state.printing += 1;
        drop(state);
        let printed = self.printer.print(text.clone());
        drop(order);
        self.desk.lock().printing -= 1;
        self.desk.changed.notify_all();
        if printed.is_err() {
            write_out(&text);
        }
    }

    /// Prints every line the peer shows, until it drops its end.
    pub(crate) fn print_all(mut self, lines: &Receiver<ScreenLine>, style: Style) {
        for line in lines {
            if let ScreenLine::Progress(progress) = &line {
                self.print_progress(progress);
                continue;
            }
            let asks = matches!(line, ScreenLine::Prompt(_));
            self.print_line(&style.render(&line, Local::now().time()), asks);
        }
    }
}

/// Writes `text` to standard output, and carries on if nobody reads it.
fn write_out(text: &str) {
    let mut out = io::stdout();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// Writes one line to standard output, and carries on if nobody reads it.
fn print_line(text: &str) {
    write_out(&format!("{text}\n"));
}
