//! `--trace`: prints every protocol line a binary sends or receives, for
//! teaching and debugging; and the plain printing that the server's log
//! lines use, which never panics when nobody reads the output.
//!
//! This module owns the trace format (`>>` sent, `<<` received, then the
//! other side's name or address). It must never print a password: every line
//! goes through `wire::redact` first. Every line, trace or log, is formatted
//! whole and written with one call, so lines printed at the same moment on
//! standard output and standard error do not cut into each other.

use std::fmt::Display;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use crate::{sanitize, wire};

/// Whether protocol lines are printed, and the heartbeats among them. Cheap
/// to copy into every thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trace {
    enabled: bool,
    heartbeats: bool,
}

impl Trace {
    /// `--trace`: every line but the heartbeats, which would bury the rest.
    pub fn new(enabled: bool) -> Trace {
        Trace {
            enabled,
            heartbeats: false,
        }
    }

    /// `--trace-all`: the heartbeats (`HELLO`, `OK HELLO`) too.
    pub fn with_heartbeats(self, heartbeats: bool) -> Trace {
        Trace { heartbeats, ..self }
    }

    /// What the binaries' `--trace` and `--trace-all` ask for: the second
    /// traces too, with the heartbeats.
    pub fn from_flags(trace: bool, trace_all: bool) -> Trace {
        Trace::new(trace || trace_all).with_heartbeats(trace_all)
    }

    pub fn off() -> Trace {
        Trace::new(false)
    }

    pub fn is_on(self) -> bool {
        self.enabled
    }

    /// A line this side sent to `peer`.
    pub fn sent(self, peer: impl Display, line: impl Display) {
        self.print(">>", peer, line);
    }

    /// A line this side received from `peer`.
    pub fn received(self, peer: impl Display, line: impl Display) {
        self.print("<<", peer, line);
    }

    fn print(self, arrow: &str, peer: impl Display, line: impl Display) {
        if self.enabled {
            let line = line.to_string();
            if is_heartbeat(&line) && !self.heartbeats {
                return;
            }
            // Text from the network is escaped, so a trace shows control
            // characters instead of letting them act on the terminal.
            let peer = peer.to_string();
            let text = format!(
                "{arrow} {} {}",
                sanitize::escape(&peer),
                sanitize::escape(&wire::redact(&line))
            );
            if let Some(printer) = PRINTER.get()
                && let Ok(mut printer) = printer.lock()
            {
                printer(&text);
                return;
            }
            // Trace goes to standard error so that it never mixes into what a
            // script reads from standard output.
            err(text);
        }
    }
}

/// Whether `line` is a heartbeat: the registry's `HELLO` and `OK HELLO`,
/// and the `HELLO` a lobby's two ends send when nothing else is said.
fn is_heartbeat(line: &str) -> bool {
    matches!(line.trim_end(), "HELLO" | "OK HELLO")
}

/// Where trace lines go instead of standard error, once set.
type Printer = Box<dyn FnMut(&str) + Send>;
static PRINTER: OnceLock<Mutex<Printer>> = OnceLock::new();

/// Sends every trace line of this process to `printer` from now on, instead
/// of standard error: the peer at a terminal draws them above the line
/// being typed. Only the first call counts.
pub fn print_with(printer: impl FnMut(&str) + Send + 'static) {
    let _ = PRINTER.set(Mutex::new(Box::new(printer)));
}

/// Prints a line on standard output, and carries on if nobody is reading
/// it any more: a server must not die because its log pipe closed.
pub fn out(line: impl Display) {
    write_whole(&mut std::io::stdout().lock(), line);
}

/// Prints a line on standard error, and carries on if that fails.
pub fn err(line: impl Display) {
    write_whole(&mut std::io::stderr().lock(), line);
}

/// Formats `line` and its newline first, then writes them with one call.
/// `writeln!` would write each piece of the format on its own, and a
/// thread printing on the other stream at that moment would land in the
/// middle of the line on a terminal that shows both.
pub fn write_whole(out: &mut impl Write, line: impl Display) {
    let mut text = line.to_string();
    text.push('\n');
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the calls to `write`.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn heartbeats_are_the_hello_lines_only() {
        for (line, heartbeat) in [
            ("HELLO", true),
            ("OK HELLO", true),
            ("HELLO\r", true),
            ("OK HELP REGISTER <name>", false),
            ("MSG alice HELLO", false),
            ("JOIN alice **** 5000", false),
        ] {
            assert_eq!(is_heartbeat(line), heartbeat, "{line:?}");
        }
    }

    #[test]
    fn a_line_is_written_with_one_call() {
        let mut out = Writes::default();
        write_whole(
            &mut out,
            format_args!("{} {} {}", ">>", "127.0.0.1:5000", "OK REGISTERED alice"),
        );
        assert_eq!(out.0, [b">> 127.0.0.1:5000 OK REGISTERED alice\n".to_vec()]);
    }
}
