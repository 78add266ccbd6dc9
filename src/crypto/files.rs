//! The files the crypto module keeps: a private folder (0700 on unix),
//! files written whole or not at all (a temporary file, synced, then
//! renamed over the old one) readable by their owner only (0600 on unix),
//! and the pins file (`load_pins`, `save_pins`).
//!
//! It protects keys and pins from other local users and from a crash in
//! the middle of a write. It does not protect them from the owner's other
//! programs or from root, and it must never decide what a key means.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::pins::{Pins, PinsError};

/// No key, certificate or pins file is larger; a larger one is not ours.
pub(crate) const MAX_FILE: u64 = 1 << 20;

/// Why the pins file could not be read.
#[derive(Debug)]
pub enum PinsFileError {
    Io { path: PathBuf, source: io::Error },
    Malformed { path: PathBuf, source: PinsError },
}

impl fmt::Display for PinsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinsFileError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            PinsFileError::Malformed { path, source } => write!(
                f,
                "{}: {source} (fix or remove the line; a removed pin is trusted anew on next contact)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for PinsFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PinsFileError::Io { source, .. } => Some(source),
            PinsFileError::Malformed { source, .. } => Some(source),
        }
    }
}

/// The pins in `path`; none if it does not exist yet.
pub fn load_pins(path: &Path) -> Result<Pins, PinsFileError> {
    let io_error = |source| PinsFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let Some(bytes) = read_private(path).map_err(io_error)? else {
        return Ok(Pins::default());
    };
    let text = String::from_utf8(bytes).map_err(|_| {
        io_error(io::Error::new(
            io::ErrorKind::InvalidData,
            "the pins file is not UTF-8",
        ))
    })?;
    Pins::parse(&text).map_err(|source| PinsFileError::Malformed {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `pins` to `path` whole, creating its folder (0700) if needed.
pub fn save_pins(path: &Path, pins: &Pins) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        private_dir(dir)?;
    }
    write_private(path, pins.to_string().as_bytes())
}

/// Creates `dir` and its parents if needed; `dir` itself is made 0700 on
/// unix when this call creates it.
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` so that a reader sees the old file or the new
/// one, never half of one: a temporary file beside it (created 0600 on
/// unix, so the bytes are never readable by others), synced, then renamed.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut temp_name = path.file_name().unwrap_or_default().to_os_string();
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = (|| {
        let mut file = create_private(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// A new file, 0600 on unix, replacing a stale temporary file of the same
/// name. Created exclusively: if something appears at `path` between the
/// removal and the creation (a symbolic link planted in a folder others
/// can write), the write fails rather than follow it.
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let _ = fs::remove_file(path);
    options.open(path)
}

/// The bytes of `path`, or `None` if it does not exist. A file over
/// `MAX_FILE` is an error rather than a large allocation.
pub(crate) fn read_private(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_FILE} bytes"),
        ));
    }
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::IdentityKey;

    #[test]
    fn pins_are_saved_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("known_keys");
        assert_eq!(load_pins(&path).unwrap(), Pins::default());
        let mut pins = Pins::default();
        pins.trust_registry("lab:5000", IdentityKey::from_bytes([1; 32]).fingerprint());
        save_pins(&path, &pins).unwrap();
        assert_eq!(load_pins(&path).unwrap(), pins);
        pins.trust_registry("lab:5001", IdentityKey::from_bytes([2; 32]).fingerprint());
        save_pins(&path, &pins).unwrap();
        assert_eq!(load_pins(&path).unwrap(), pins);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["known_keys"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
    }

    #[test]
    fn a_malformed_pins_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_keys");
        for (bytes, expected) in [
            (&b"peer bob nonsense\n"[..], "known_keys: line 1: "),
            (&b"\xff\xfe"[..], "not UTF-8"),
        ] {
            fs::write(&path, bytes).unwrap();
            let err = load_pins(&path).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        fs::write(&path, vec![b'#'; MAX_FILE as usize + 1]).unwrap();
        let err = load_pins(&path).unwrap_err().to_string();
        assert!(err.contains("larger than"), "{err}");
    }
}
