//! `--trace`: prints every protocol line a binary sends or receives, for
//! teaching and debugging; and the plain printing that the server's log
//! lines use, which never panics when nobody reads the output.
//!
//! This module owns the trace format (`>>` sent, `<<` received, then the
//! other side's name or address). It must never print a password: every line
//! goes through `wire::redact` first.

use std::fmt::Display;

use crate::{sanitize, wire};

/// Whether protocol lines are printed. Cheap to copy into every thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trace {
    enabled: bool,
}

impl Trace {
    pub fn new(enabled: bool) -> Trace {
        Trace { enabled }
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
            // Trace goes to standard error so that it never mixes into what a
            // script reads from standard output.
            // Text from the network is escaped, so a trace shows control
            // characters instead of letting them act on the terminal.
            let peer = peer.to_string();
            err(format_args!(
                "{arrow} {} {}",
                sanitize::escape(&peer),
                sanitize::escape(&wire::redact(&line))
            ));
        }
    }
}

/// Prints a line on standard output, and carries on if nobody is reading
/// it any more: a server must not die because its log pipe closed.
pub fn out(line: impl Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// Prints a line on standard error, and carries on if that fails.
pub fn err(line: impl Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
