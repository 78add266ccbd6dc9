//! A child process's output read line by line by a thread of its own, so a
//! test can wait for its next line under a timeout (a trace on standard
//! error, say) and still have the rest whole once the process has ended.

use std::io::{BufRead, BufReader, Read};
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
