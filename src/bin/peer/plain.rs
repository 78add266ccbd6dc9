//! The `peer` binary's keyboard and screen when they are pipes: a line
//! read each time the peer asks for one, and every line printed as it
//! comes, exactly as a script expects (`console` is the terminal's side).

use std::io::{self, BufRead, IsTerminal, Write};
use std::iter;

use chrono::Local;
use crossbeam_channel::{Receiver, Sender};

use p2pchat::peer::{Input, Want};
use p2pchat::screen::{ScreenLine, Style};

/// Reads one line from standard input each time the peer asks for one,
/// without echo for passwords when standard input is a terminal; ends with
/// `Input::Eof` at the end of the input. Today's plain reader, for pipes.
pub(crate) fn read_plain(wants: &Receiver<Want>, input: &Sender<Input>) {
    let stdin = io::stdin();
    let terminal = stdin.is_terminal();
    for want in wants {
        let line = if want == Want::Secret && terminal {
            rpassword::read_password().map(Some)
        } else {
            // Bytes that are not UTF-8 become U+FFFD rather than ending the input.
            let mut bytes = Vec::new();
            stdin
                .lock()
                .read_until(b'\n', &mut bytes)
                .map(|n| (n > 0).then(|| String::from_utf8_lossy(&bytes).into_owned()))
        };
        let next = match line {
            Ok(Some(line)) => Input::Line(line),
            Ok(None) | Err(_) => Input::Eof,
        };
        let end = next == Input::Eof;
        if input.send(next).is_err() || end {
            return;
        }
    }
}

/// Prints every line as it comes, for pipes, in the plain form unless
/// `style` says otherwise: a line and those already waiting behind it in
/// one write, so a flood costs a write per burst rather than per line.
/// Returns when the peer drops its end of the channel, or when nobody
/// reads standard output any more.
pub(crate) fn print_plain(lines: &Receiver<ScreenLine>, style: Style) {
    let mut out = io::stdout();
    let mut burst = String::new();
    while let Ok(first) = lines.recv() {
        let now = Local::now().time();
        burst.clear();
        for line in iter::once(first).chain(lines.try_iter().take(BURST)) {
            burst.push_str(&style.render(&line, now));
            burst.push('\n');
        }
        // If standard output is gone there is no one to show this to; the
        // peer goes on and exits normally. Whole lines go in one write, so
        // a trace line on standard error cannot land inside one.
        if out
            .write_all(burst.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
    }
}

/// The most lines `print_plain` writes at once, after the first.
const BURST: usize = 256;
