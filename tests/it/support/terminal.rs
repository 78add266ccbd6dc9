//! The `peer` binary in a pseudo-terminal, read as a person would read its
//! screen: everything it writes goes through a terminal emulator (`vt100`),
//! and a test waits until the screen shows what it expects.

use std::fs::File;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::PEER_WAIT;

pub const ROWS: u16 = 50;
pub const COLS: u16 = 100;

/// What is typed on `row` if it is a line being edited: the text after
/// its prompt, which is `> ` at a menu, and says where the user is in a
/// lobby (`[alice · 2] > `) and when away (`(away) > `). `None` for any
/// other row.
pub fn typed(row: &str) -> Option<&str> {
    let mut rest = row.trim_end();
    if rest.starts_with('[') {
        rest = &rest[rest.find("] ")? + 2..];
    }
    rest = rest.strip_prefix("(away) ").unwrap_or(rest);
    if rest == ">" {
        return Some("");
    }
    rest.strip_prefix("> ")
}

/// Whether the last of `rows` that holds `text` has no line typed below
/// it: the question it asks is not answered yet.
fn newest_unanswered(rows: &[String], text: &str) -> bool {
    rows.iter()
        .rposition(|r| r.contains(text))
        .is_some_and(|at| rows[at + 1..].iter().all(|r| typed(r).is_none()))
}

/// What the peer has drawn so far.
struct Drawn {
    screen: vt100::Parser,
    /// Everything written, escapes and all, to count lines printed.
    raw: String,
}

/// A `peer` process whose standard input, output and error are a
/// pseudo-terminal. Dropping it kills the process.
pub struct TerminalPeer {
    child: Child,
    keyboard: File,
    drawn: Arc<Mutex<Drawn>>,
    /// A message each time more output arrived; closed when the peer closed
    /// the terminal.
    more: Receiver<()>,
}

/// A new pseudo-terminal of `ROWS` by `COLS`: its controller and its device.
fn open_pty() -> (OwnedFd, OwnedFd) {
    let (mut controller, mut device) = (0, 0);
    let size = libc::winsize {
        ws_row: ROWS,
        ws_col: COLS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the integers we pass and
    // reads the window size; the names are not asked for.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut device,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty failed");
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(device),
        )
    }
}

impl TerminalPeer {
    /// Starts `peer --server <registry> --log-dir <logs>` plus `extra` in
    /// a pseudo-terminal of its own, as a terminal emulator would.
    pub fn start(registry: SocketAddr, logs: &Path, extra: &[&str]) -> TerminalPeer {
        let mut command = Command::new(env!("CARGO_BIN_EXE_peer"));
        command
            .args(["--server", &registry.to_string(), "--log-dir"])
            .arg(logs)
            .args(super::process::plaintext_unless_data_dir(extra))
            .args(extra);
        TerminalPeer::spawn(command)
    }

    /// Starts `command`, a `peer` with its options (in a network namespace,
    /// say), in a pseudo-terminal of its own.
    pub fn spawn(mut command: Command) -> TerminalPeer {
        let (controller, device) = open_pty();
        // vt100, like xterm, does not re-wrap lines when the window is
        // resized: say so as xterm does, and not that tmux is the terminal,
        // should the tests run inside one.
        command
            .env("TERM", "xterm-256color")
            .env("XTERM_VERSION", "XTerm(390)")
            .env_remove("TMUX")
            .env_remove("NO_COLOR")
            .stdin(Stdio::from(device.try_clone().unwrap()))
            .stdout(Stdio::from(device.try_clone().unwrap()))
            .stderr(Stdio::from(device));
        // SAFETY: between fork and exec only async-signal-safe calls: a new
        // session, whose controlling terminal becomes the pseudo-terminal on
        // standard input (the password reader opens /dev/tty).
        unsafe {
            command.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = command.spawn().expect("the peer binary starts");
        let keyboard = File::from(controller.try_clone().unwrap());
        let drawn = Arc::new(Mutex::new(Drawn {
            screen: vt100::Parser::new(ROWS.try_into().unwrap(), COLS.try_into().unwrap(), 1000),
            raw: String::new(),
        }));
        let (tx, more) = crossbeam_channel::unbounded();
        let reader_drawn = drawn.clone();
        let mut answers = File::from(controller.try_clone().unwrap());
        let mut output = File::from(controller);
        thread::spawn(move || {
            let mut buf = [0; 4096];
            // Reading ends with an error once the peer has closed the
            // terminal: that is how a pseudo-terminal says end of output.
            while let Ok(n @ 1..) = output.read(&mut buf) {
                let mut drawn = reader_drawn.lock().unwrap();
                drawn.screen.process(&buf[..n]);
                let text = String::from_utf8_lossy(&buf[..n]);
                drawn.raw.push_str(&text);
                // The line editor asks where the cursor is; a terminal answers.
                if text.contains("\x1b[6n") {
                    let (row, col) = drawn.screen.screen().cursor_position();
                    let _ = write!(answers, "\x1b[{};{}R", row + 1, col + 1);
                }
                drop(drawn);
                if tx.send(()).is_err() {
                    return;
                }
            }
        });
        TerminalPeer {
            child,
            keyboard,
            drawn,
            more,
        }
    }

    /// Makes the window `rows` by `columns`, as a person dragging its
    /// border would: the terminal emulator first, then the kernel, which
    /// tells the peer with SIGWINCH.
    pub fn resize(&mut self, rows: u16, columns: u16) {
        use std::os::fd::AsRawFd;
        self.drawn
            .lock()
            .unwrap()
            .screen
            .set_size(rows.try_into().unwrap(), columns.try_into().unwrap());
        let size = libc::winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ only reads the winsize we pass.
        let rc = unsafe { libc::ioctl(self.keyboard.as_raw_fd(), libc::TIOCSWINSZ, &size) };
        assert_eq!(rc, 0, "TIOCSWINSZ failed");
    }

    /// Sends `signal` to the peer, as `kill` would.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill only sends a signal, to a child we have not reaped.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
    }

    /// The visible rows, and the cursor's row and column.
    pub fn screen(&self) -> (Vec<String>, u16, u16) {
        let drawn = self.drawn.lock().unwrap();
        let screen = drawn.screen.screen();
        let (row, col) = screen.cursor_position();
        (screen.rows(0, screen.size().1.get()).collect(), row, col)
    }

    /// The colour of the character at `row`, `col`, and whether it is dim.
    pub fn look_at(&self, row: usize, col: u16) -> (vt100::Color, bool) {
        let drawn = self.drawn.lock().unwrap();
        let row = u16::try_from(row).unwrap();
        let cell = drawn.screen.screen().cell(row, col).expect("on the screen");
        (cell.fgcolor(), cell.dim())
    }

    /// The row the cursor is on: the line being typed.
    pub fn input_line(&self) -> String {
        let (rows, row, _) = self.screen();
        rows[usize::from(row)].trim_end().to_string()
    }

    /// How many times `text` has been written, escapes and all.
    pub fn raw_count(&self, text: &str) -> usize {
        self.drawn.lock().unwrap().raw.matches(text).count()
    }

    /// Whether the terminal echoes what is typed, as it should whenever no
    /// password is being read.
    pub fn echoes(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut termios = std::mem::MaybeUninit::<libc::termios>::uninit();
        // SAFETY: tcgetattr fills the termios we own when it returns 0; the
        // controller shares its settings with the terminal's device.
        let rc = unsafe { libc::tcgetattr(self.keyboard.as_raw_fd(), termios.as_mut_ptr()) };
        assert_eq!(rc, 0, "tcgetattr failed");
        // SAFETY: filled just above.
        let termios = unsafe { termios.assume_init() };
        termios.c_lflag & libc::ECHO != 0
    }

    /// Waits for the peer to close the terminal and exit; fails the test
    /// if it has not within `PEER_WAIT`.
    #[track_caller]
    pub fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PEER_WAIT;
        loop {
            match self.more.recv_deadline(deadline) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Disconnected) => return self.child.wait().unwrap(),
                Err(RecvTimeoutError::Timeout) => panic!("the peer did not exit"),
            }
        }
    }
}

/// A `peer` at a terminal, whichever terminal it is (`TerminalPeer`'s
/// emulator, or tmux): keys typed, and waits for what it shows.
pub trait AtTerminal {
    /// Types `keys` as they are: `\r` is Enter.
    fn press(&mut self, keys: &str);

    /// Waits until `done` holds for what the peer has drawn: the visible
    /// rows with the cursor's row, and everything written as text.
    #[track_caller]
    fn wait_until(&self, what: &str, done: impl Fn(&[String], usize, &str) -> bool);

    /// Waits until `text` has been printed `count` times in all.
    #[track_caller]
    fn sees_times(&self, text: &str, count: usize) {
        self.wait_until(&format!("{text:?} {count} times"), |_, _, raw| {
            raw.matches(text).count() >= count
        });
    }

    /// Waits until the row right above the line being typed holds `above`,
    /// and the line being typed is `line`, whole: a line printed above a
    /// half-typed one that the editor drew again below it.
    #[track_caller]
    fn sees_above_typed(&self, above: &str, line: &str) {
        self.wait_until(
            &format!("{above:?} right above {line:?}"),
            |rows, row, _| {
                row > 0 && rows[row - 1].contains(above) && typed(&rows[row]) == Some(line)
            },
        );
    }

    /// Waits until the newest line on screen that holds `text` has the
    /// cursor on an empty prompt below it, with no line typed in between
    /// (`typed`): ready for a line that answers it. An older copy of the
    /// same question, answered already (the menu is asked again and again),
    /// does not count: a line typed before the newest question is drawn is
    /// no answer to it, and the peer says so.
    #[track_caller]
    fn prompted_after(&self, text: &str) {
        self.wait_until(&format!("{text:?} then the prompt"), |rows, row, _| {
            typed(&rows[row]) == Some("") && newest_unanswered(&rows[..row], text)
        });
    }

    /// Types `line` and Enter at the prompt that follows the newest `text`.
    #[track_caller]
    fn answer(&mut self, text: &str, line: &str) {
        self.prompted_after(text);
        self.press(&format!("{line}\r"));
    }
}

impl AtTerminal for TerminalPeer {
    fn press(&mut self, keys: &str) {
        self.keyboard.write_all(keys.as_bytes()).unwrap();
        self.keyboard.flush().unwrap();
    }

    #[track_caller]
    fn wait_until(&self, what: &str, done: impl Fn(&[String], usize, &str) -> bool) {
        let deadline = Instant::now() + PEER_WAIT;
        loop {
            {
                let drawn = self.drawn.lock().unwrap();
                let screen = drawn.screen.screen();
                let rows: Vec<String> = screen.rows(0, screen.size().1.get()).collect();
                let row = usize::from(screen.cursor_position().0);
                if done(&rows, row, &drawn.raw) {
                    return;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.more.recv_timeout(left).is_err() {
                let (rows, ..) = self.screen();
                panic!(
                    "the peer never showed {what}; the screen is:\n{}",
                    rows.join("\n")
                );
            }
        }
    }
}

impl Drop for TerminalPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
