//! The `peer` binary in tmux: a real terminal that re-wraps its lines when
//! its window changes width, as most terminals people use do (`vt100`, the
//! emulator of `TerminalPeer`, does not). A test reads the window and its
//! scrollback as a person would, and waits for them to show what it
//! expects, woken by every piece of output the peer writes.
//!
//! Each `TmuxPeer` has a tmux server of its own, on a socket in a temporary
//! directory, killed when it is dropped. Where tmux is not installed,
//! `TmuxPeer::start` says so in one line starting with `skipped:` and the
//! test checks nothing, unless `P2PCHAT_TMUX=required` (set by `.ci/run`,
//! which installs it).

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};
use tempfile::TempDir;

use super::{AtTerminal, PEER_WAIT};

/// The tmux session (and window) the peer runs in.
const SESSION: &str = "peer";

/// A `peer` process in a tmux window of its own. Dropping it kills the
/// tmux server, and the peer with it.
pub struct TmuxPeer {
    /// Holds the server's socket and the pipe of the peer's output.
    dir: TempDir,
    /// Everything the peer wrote, escapes and all.
    written: Arc<Mutex<String>>,
    /// A message after more output arrived (one waiting is enough);
    /// disconnected once the reader thread has ended.
    more: Receiver<()>,
    /// The thread that reads the pipe, joined on drop.
    reader: Option<JoinHandle<()>>,
}

impl TmuxPeer {
    /// Starts `peer --server <registry> --log-dir <logs>` plus `extra` in a
    /// tmux window `columns` by `rows`; `None`, after saying so, where tmux
    /// is not installed, unless it is required.
    pub fn start(
        test: &str,
        registry: SocketAddr,
        logs: &Path,
        extra: &[&str],
        (columns, rows): (u16, u16),
    ) -> Option<TmuxPeer> {
        if Command::new("tmux").arg("-V").output().is_err() {
            assert!(
                std::env::var("P2PCHAT_TMUX").as_deref() != Ok("required"),
                "{test}: tmux is not installed, and P2PCHAT_TMUX=required says this test must run"
            );
            eprintln!("skipped: {test}: tmux is not installed (apt-get install tmux)");
            return None;
        }
        let dir = super::temp_dir();
        let (written, more, reader) = read_pipe(&dir.path().join("output"));
        let peer = TmuxPeer {
            dir,
            written,
            more,
            reader: Some(reader),
        };
        let registry = registry.to_string();
        let logs = logs.to_str().expect("a temporary path is UTF-8");
        let (columns, rows) = (columns.to_string(), rows.to_string());
        let mut args = vec![
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            &columns,
            "-y",
            &rows,
            "--",
            env!("CARGO_BIN_EXE_peer"),
            "--server",
            &registry,
            "--log-dir",
            logs,
        ];
        args.extend(super::process::plaintext_unless_data_dir(extra));
        args.extend(extra);
        peer.tmux(&args);
        // Every byte the peer writes from now on also goes down the pipe,
        // which wakes `wait_until`; what it wrote before is on the screen.
        let pipe = format!("cat > '{}'", peer.dir.path().join("output").display());
        peer.tmux(&["pipe-pane", "-O", "-t", SESSION, &pipe]);
        Some(peer)
    }

    /// Runs a tmux command on this peer's server; returns what it printed.
    #[track_caller]
    fn tmux(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .arg("-S")
            .arg(self.socket())
            .args(["-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    /// Makes the window `columns` wide, as a person dragging its border
    /// would: tmux re-wraps its lines and tells the peer with SIGWINCH.
    pub fn resize(&self, columns: u16) {
        self.tmux(&["resize-window", "-t", SESSION, "-x", &columns.to_string()]);
    }

    /// The window's rows and the scrollback above them, oldest first, as
    /// tmux shows them: a line longer than the window on several rows.
    pub fn scrollback(&self) -> Vec<String> {
        let text = self.tmux(&["capture-pane", "-p", "-t", SESSION, "-S", "-"]);
        text.lines().map(|row| row.trim_end().to_string()).collect()
    }

    /// How many times `text` has been written, escapes and all.
    pub fn written_count(&self, text: &str) -> usize {
        self.written.lock().unwrap().matches(text).count()
    }
}

/// Makes a named pipe at `path` and reads it in a thread: what is written
/// to it, a message each time more was, and the thread.
fn read_pipe(path: &Path) -> (Arc<Mutex<String>>, Receiver<()>, JoinHandle<()>) {
    let name = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo only reads the name, a C string we own.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo");
    let written = Arc::new(Mutex::new(String::new()));
    let (tx, more) = bounded(1);
    let path = path.to_path_buf();
    let reader_written = written.clone();
    let reader = thread::spawn(move || {
        // Opening waits for tmux to open the other end.
        let Ok(mut pipe) = File::open(path) else {
            return;
        };
        let mut buf = [0; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            reader_written.lock().unwrap().push_str(&text);
            // One message waiting wakes the test, however much came.
            let _ = tx.try_send(());
        }
    });
    (written, more, reader)
}

impl AtTerminal for TmuxPeer {
    fn press(&mut self, keys: &str) {
        // Enter as tmux names it; the rest as literal keys.
        for (i, part) in keys.split('\r').enumerate() {
            if i > 0 {
                self.tmux(&["send-keys", "-t", SESSION, "Enter"]);
            }
            if !part.is_empty() {
                self.tmux(&["send-keys", "-t", SESSION, "-l", part]);
            }
        }
    }

    /// `done` gets the window's rows, the cursor's row, and the window with
    /// its scrollback as one text, each long line whole.
    #[track_caller]
    fn wait_until(&self, what: &str, done: impl Fn(&[String], usize, &str) -> bool) {
        let deadline = Instant::now() + PEER_WAIT;
        loop {
            let screen = self.tmux(&["capture-pane", "-p", "-t", SESSION]);
            let rows: Vec<String> = screen.lines().map(str::to_string).collect();
            let cursor = self.tmux(&["display-message", "-p", "-t", SESSION, "#{cursor_y}"]);
            let row: usize = cursor.trim().parse().expect("tmux says the cursor's row");
            let all = self.tmux(&["capture-pane", "-p", "-J", "-t", SESSION, "-S", "-"]);
            if row < rows.len() && done(&rows, row, &all) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.more.recv_timeout(left) {
                Ok(()) => {}
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => panic!(
                    "the peer never showed {what}; the window and its scrollback are:\n{}",
                    self.scrollback().join("\n")
                ),
            }
        }
    }
}

impl Drop for TmuxPeer {
    /// Kills the tmux server, then joins the reader thread once the pipe
    /// has ended, waiting for that at most `PEER_WAIT`.
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(self.socket())
            .arg("kill-server")
            .output();
        // A reader still waiting for tmux to open the pipe (had tmux
        // failed to) is let go by a writer that opens and closes it.
        let _ = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(self.dir.path().join("output"));
        let deadline = Instant::now() + PEER_WAIT;
        loop {
            match self.more.recv_deadline(deadline) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Disconnected) => break,
                // Not joined rather than a test stuck in its clean-up.
                Err(RecvTimeoutError::Timeout) => return,
            }
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}
