//! Chat logs: one file per lobby session, one timestamped line per event.
//!
//! This module owns the log's location and format. Lines are gathered in a
//! buffer and written together when the owner calls `flush` (the peer's
//! driver does before it waits for its next input, and before it sends
//! anything to another peer), when the buffer fills, and when the log is
//! dropped: a flood of lines costs one `write` per burst, not one per line,
//! and a peer that exits by Ctrl-C loses nothing it had logged. Logs
//! hold private conversations: the folders it creates are readable by their
//! owner only (0700) and so are the files (0600), like the registry's
//! database. Text in a line is escaped (`sanitize::escape`), so a log shows
//! control characters instead of acting on them when it is printed.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use chrono::{DateTime, Local};

use crate::sanitize;

/// An open chat log.
pub struct ChatLog {
    path: PathBuf,
    file: BufWriter<File>,
    /// The last stamp written, and the second (since the epoch) it is for:
    /// lines of the same second share it rather than format it again.
    stamp: (u64, String),
}

/// How many bytes of lines wait for a `flush` at most.
const BUFFERED: usize = 64 * 1024;

impl ChatLog {
    /// Creates `<dir>/<own>/<YYYY-MM-DD_HH-MM-SS>_<leader>.log`. If two
    /// sessions start within the same second, the second gets a `-2` suffix
    /// rather than appending to the first one's file. The name has no `:`,
    /// so it is valid on Windows too.
    pub fn create(dir: &Path, own: &str, leader: &str) -> io::Result<ChatLog> {
        for name in [own, leader] {
            check_component(name)?;
        }
        let folder = dir.join(own);
        create_private_dir(&folder)?;
        let stamp = Local::now().format("%Y-%m-%d_%H-%M-%S");
        let mut n = 1;
        loop {
            let name = if n == 1 {
                format!("{stamp}_{leader}.log")
            } else {
                format!("{stamp}_{leader}-{n}.log")
            };
            let path = folder.join(name);
            match private_file().open(&path) {
                Ok(file) => {
                    return Ok(ChatLog {
                        path,
                        file: BufWriter::with_capacity(BUFFERED, file),
                        stamp: (u64::MAX, String::new()),
                    });
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists && n < 100 => n += 1,
                Err(err) => return Err(err),
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one event, stamped with the local time; it reaches the file
    /// by the next `flush` at the latest.
    pub fn write(&mut self, event: &str) -> io::Result<()> {
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        if self.stamp.0 != second {
            let local = DateTime::<Local>::from(now);
            self.stamp = (second, local.format("%Y-%m-%d %H:%M:%S").to_string());
        }
        let event = sanitize::escape(event);
        let file = &mut self.file;
        file.write_all(self.stamp.1.as_bytes())?;
        file.write_all(b" ")?;
        file.write_all(event.as_bytes())?;
        file.write_all(b"\n")
    }

    /// Writes what waits in the buffer to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Refuses a user name that would not stay one plain file-name part: the
/// registry's name rules already keep these out, and this keeps a log from
/// ever landing outside `--log-dir` if they change or are bypassed.
fn check_component(name: &str) -> io::Result<()> {
    let bad = name.is_empty()
        || name.starts_with('.')
        || name
            .chars()
            .any(|c| matches!(c, '/' | '\\' | ':') || sanitize::is_unsafe(c));
    if bad {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{:?} cannot be part of a log file's name",
                sanitize::escape(name)
            ),
        ));
    }
    Ok(())
}

/// Creates `folder` and any missing parents, each readable by its owner
/// only. Folders that exist already keep their permissions.
fn create_private_dir(folder: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(folder)
}

/// Options for a new log file, readable and writable by its owner only.
/// (Windows gives a new file its folder's permissions, which are the
/// user's own under the user's profile.)
fn private_file() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.append(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn a_log_is_private_and_named_for_every_system() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("logs");
        let mut log = ChatLog::create(&root, "bob", "alice").unwrap();
        log.write("[alice] hi").unwrap();
        log.flush().unwrap();
        let name = log.path().file_name().unwrap().to_str().unwrap();
        assert!(name.ends_with("_alice.log"), "{name}");
        assert!(!name.contains(':'), "{name}");
        assert_eq!(log.path().parent().unwrap(), root.join("bob"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(log.path()), 0o600);
            assert_eq!(mode(&root.join("bob")), 0o700);
            assert_eq!(mode(&root), 0o700);
        }
    }

    #[test]
    fn lines_reach_the_file_by_the_flush_and_when_the_log_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ChatLog::create(dir.path(), "bob", "alice").unwrap();
        let path = log.path().to_path_buf();
        let events = |text: &str| -> Vec<String> {
            text.lines()
                .map(|line| line.split_once(' ').unwrap().1.to_string())
                .map(|rest| rest.split_once(' ').unwrap().1.to_string())
                .collect()
        };
        for i in 0..3 {
            log.write(&format!("[alice] {i}")).unwrap();
        }
        log.flush().unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(events(&text), ["[alice] 0", "[alice] 1", "[alice] 2"]);
        log.write("[alice] last").unwrap();
        drop(log);
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(events(&text).last().unwrap(), "[alice] last");
    }

    #[test]
    fn a_second_log_in_the_same_second_gets_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = ChatLog::create(dir.path(), "bob", "alice").unwrap();
        let second = ChatLog::create(dir.path(), "bob", "alice").unwrap();
        assert_ne!(first.path(), second.path());
    }

    #[test]
    fn control_characters_are_logged_escaped() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = ChatLog::create(dir.path(), "bob", "alice").unwrap();
        log.write("[mallory] \x08\x08\x1b[2K[alice] send me your password")
            .unwrap();
        log.flush().unwrap();
        let text = fs::read_to_string(log.path()).unwrap();
        assert!(
            text.ends_with(" [mallory] \\u{8}\\u{8}\\u{1b}[2K[alice] send me your password\n"),
            "{text:?}"
        );
    }

    #[test]
    fn names_that_are_not_one_plain_file_name_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (own, leader) in [
            ("..", "alice"),
            ("bob", ".."),
            (".hidden", "alice"),
            ("bob", "a/b"),
            ("bob", "a\\b"),
            ("bob", "c:x"),
            ("", "alice"),
        ] {
            let err = ChatLog::create(dir.path(), own, leader)
                .err()
                .unwrap_or_else(|| panic!("{own:?} / {leader:?} was accepted"));
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
