//! Chat logs: one file per lobby session, one timestamped line per event.
//!
//! This module owns the log's location and format. Every line is written to
//! the file with its own `write` call and no buffer in between, so a peer
//! that exits by Ctrl-C, or is killed, loses nothing it had logged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::Local;

/// An open chat log.
pub struct ChatLog {
    path: PathBuf,
    file: File,
}

impl ChatLog {
    /// Creates `<dir>/<own>/<YYYY-MM-DD_HH-MM-SS>_<leader>.log`. If two
    /// sessions start within the same second, the second gets a `-2` suffix
    /// rather than appending to the first one's file.
    pub fn create(dir: &Path, own: &str, leader: &str) -> io::Result<ChatLog> {
        let folder = dir.join(own);
        fs::create_dir_all(&folder)?;
        let stamp = Local::now().format("%Y-%m-%d_%H-%M-%S");
        let mut n = 1;
        loop {
            let name = if n == 1 {
                format!("{stamp}_{leader}.log")
            } else {
                format!("{stamp}_{leader}-{n}.log")
            };
            let path = folder.join(name);
            match OpenOptions::new().append(true).create_new(true).open(&path) {
                Ok(file) => return Ok(ChatLog { path, file }),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(err) => return Err(err),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event, stamped with the local time.
    pub fn write(&mut self, event: &str) -> io::Result<()> {
        let line = format!("{} {event}\n", Local::now().format("%Y-%m-%d %H:%M:%S"));
        self.file.write_all(line.as_bytes())
    }
}
