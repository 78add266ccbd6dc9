//! A child process's output read line by line by a thread of its own, so a
//! test can wait for its next line under a timeout (a trace on standard
//! error, say) and still have the rest whole once the process has ended;
//! and a pipe the test reads itself, one line under a timeout.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsRawFd;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::Receiver;

/// The lines of one output stream, as they come.
pub struct LineStream {
    /// Each line as read, its line ending kept, so `rest` gives back the
    /// text exactly.
    lines: Receiver<String>,
    reader: Option<JoinHandle<()>>,
}

impl LineStream {
    /// Reads `source` until it ends.
    pub fn read(source: impl Read + Send + 'static) -> LineStream {
        let (tx, lines) = crossbeam_channel::unbounded();
        let reader = thread::spawn(move || {
            let mut source = BufReader::new(source);
            let mut line = String::new();
            while matches!(source.read_line(&mut line), Ok(1..)) {
                if tx.send(std::mem::take(&mut line)).is_err() {
                    return;
                }
            }
        });
        LineStream {
            lines,
            reader: Some(reader),
        }
    }

    /// The next line, without its line ending, if one comes within `wait`;
    /// `None` too once the stream has ended.
    pub fn line_within(&self, wait: Duration) -> Option<String> {
        let line = self.lines.recv_timeout(wait).ok()?;
        Some(line.trim_end_matches(['\n', '\r']).to_string())
    }

    /// Everything not yet taken by `line_within`, up to the end of the
    /// stream: waits for the stream to end, so only once the process has.
    pub fn rest(mut self) -> String {
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the reader thread does not panic");
        }
        self.lines.try_iter().collect()
    }
}

/// The next line of `pipe`, read on the test's own thread, if one comes
/// within `wait`: for a pipe whose buffer a test relies on, as the
/// server's standard output. The programs print whole lines, so once the
/// pipe has something to read, the rest of that line comes with it.
pub fn line_within<R: Read + AsRawFd>(pipe: &mut BufReader<R>, wait: Duration) -> Option<String> {
    if !pipe.buffer().contains(&b'\n') {
        let mut poll = libc::pollfd {
            fd: pipe.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = libc::c_int::try_from(wait.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: one pollfd, valid for the call, on a descriptor the
        // reader owns.
        if unsafe { libc::poll(&mut poll, 1, millis) } != 1 {
            return None;
        }
    }
    let mut line = String::new();
    match pipe.read_line(&mut line) {
        Ok(1..) => Some(line.trim_end().to_string()),
        _ => None,
    }
}
