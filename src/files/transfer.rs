//! The bytes of one file between two streams, with a fixed buffer (memory
//! does not grow with the file): the sender's side reads the file from an
//! offset, the recipient's writes `<name>.<tag>.part` beside its note, checks
//! the count and the checksum, and only then gives the file its name.
//! Nothing here knows sockets or keys: any `Read`/`Write` will do.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use ring::digest::{Context, SHA256};

use crate::wire::{Checksum, FileOffer};

use super::names::{safe_name, unique_name};
use super::partial::part_note;

/// The one buffer each transfer uses, whatever the file's size.
pub const BUFFER: usize = 64 * 1024;

/// How many bytes the recipient writes before it asks the system to start
/// writing them to the disk (`start_write_back`), so the `sync_all` before
/// the rename waits for the last few MiB, not the whole file.
const WRITE_BACK: u64 = 8 * 1024 * 1024;

/// Why the bytes did not make a file. `keeps_part` says whether the
/// `.part` stays for a resume.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("the sender announced {count} bytes, not the {expected} offered")]
    Announced { count: u64, expected: u64 },
    #[error("cut off after {got} of {expected} bytes")]
    CutOff { got: u64, expected: u64 },
    #[error("the sender sent more bytes than the {0} offered")]
    TooMany(u64),
    #[error("the bytes do not match the offered checksum")]
    WrongSum,
    #[error("the file changed since it was offered")]
    Changed,
    #[error("cancelled")]
    Cancelled,
    #[error("no free name is left for it in the download folder")]
    NoName,
}

impl TransferError {
    /// Whether the `.part` is worth keeping: what arrived so far came
    /// from the right peer and may be continued; bytes that are wrong or
    /// too many are not.
    pub fn keeps_part(&self) -> bool {
        !self.blames_sender()
    }

    /// Whether the sender is to blame: it announced or sent other bytes
    /// than it offered. The recipient tells it why.
    pub fn blames_sender(&self) -> bool {
        matches!(
            self,
            TransferError::Announced { .. } | TransferError::TooMany(_) | TransferError::WrongSum
        )
    }
}

/// The SHA-256 and length of everything `reader` gives.
pub fn checksum_of(mut reader: impl Read) -> io::Result<(Checksum, u64)> {
    let mut context = Context::new(&SHA256);
    let mut buf = vec![0; BUFFER];
    let mut len = 0;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        context.update(&buf[..n]);
        len += n as u64;
    }
    Ok((finish(context), len))
}

fn finish(context: Context) -> Checksum {
    let mut sum = [0; 32];
    sum.copy_from_slice(context.finish().as_ref());
    Checksum(sum)
}

/// Writes `count` bytes of `file` from byte `from` to `out`. `step` hears
/// the bytes done (from the start of the file) after each write and says
/// whether to go on.
pub fn send_bytes(
    file: &mut (impl Read + Seek),
    from: u64,
    count: u64,
    out: &mut impl Write,
    step: &mut dyn FnMut(u64) -> bool,
) -> Result<(), TransferError> {
    file.seek(SeekFrom::Start(from))?;
    let mut buf = vec![0; BUFFER];
    let mut left = count;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => return Err(TransferError::Changed),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err.into()),
        };
        out.write_all(&buf[..n])?;
        left -= n as u64;
        if !step(from + count - left) {
            return Err(TransferError::Cancelled);
        }
    }
    out.flush()?;
    Ok(())
}

/// Where a file is received: `<dir>/<name>.<tag>.part`, its note
/// `<name>.<tag>.part.sum`, and the name it gets in `dir` when it checks
/// out. The tag is the first 16 hex digits of the offered checksum, so a
/// resume of the same file finds its `.part` and another file whose name
/// cleans to the same never does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartFile {
    pub dir: PathBuf,
    /// The safe name (`names::safe_name`).
    pub name: String,
    /// The first 16 hex digits of the offered checksum.
    pub tag: String,
}

impl PartFile {
    /// Where `offer` is received in `dir`.
    pub fn for_offer(dir: &Path, offer: &FileOffer) -> PartFile {
        PartFile {
            dir: dir.to_path_buf(),
            name: safe_name(&offer.name),
            tag: super::partial::part_tag(&offer.sum),
        }
    }

    pub fn part(&self) -> PathBuf {
        self.dir.join(format!("{}.{}.part", self.name, self.tag))
    }

    pub fn note(&self) -> PathBuf {
        self.dir
            .join(format!("{}.{}.part.sum", self.name, self.tag))
    }

    /// The note's text and the `.part`'s length, if there is a `.part`
    /// (a plain file: a link is not followed, and counts as none).
    pub fn kept(&self) -> (Option<String>, u64) {
        let len = fs::symlink_metadata(self.part())
            .ok()
            .filter(|m| m.file_type().is_file())
            .map_or(0, |m| m.len());
        (fs::read_to_string(self.note()).ok(), len)
    }

    /// Removes the `.part` and its note; what is not there is no error.
    pub fn remove(&self) {
        let _ = fs::remove_file(self.part());
        let _ = fs::remove_file(self.note());
    }
}

/// Receives `offer`'s bytes from byte `from` into `part` (continuing the
/// first `from` bytes kept there), checks the count and the checksum, and
/// gives the file its name: the path it is saved at. On an error the
/// `.part` is removed unless `keeps_part` says otherwise. `step` hears the
/// bytes done after each write and says whether to go on.
pub fn receive_bytes(
    input: &mut impl Read,
    part: &PartFile,
    offer: &FileOffer,
    from: u64,
    step: &mut dyn FnMut(u64) -> bool,
) -> Result<PathBuf, TransferError> {
    let result = receive_into(input, part, offer, from, step);
    if let Err(err) = &result
        && !err.keeps_part()
    {
        part.remove();
    }
    result
}

fn receive_into(
    input: &mut impl Read,
    part: &PartFile,
    offer: &FileOffer,
    from: u64,
    step: &mut dyn FnMut(u64) -> bool,
) -> Result<PathBuf, TransferError> {
    let (mut file, mut context) = open_part(part, offer, from)?;
    let mut buf = vec![0; BUFFER];
    let mut done = from;
    let mut written_back = from;
    while done < offer.size {
        let want = buf
            .len()
            .min(usize::try_from(offer.size - done).unwrap_or(usize::MAX));
        let n = next_bytes(input, &mut buf[..want], &file, done, offer.size)?;
        file.write_all(&buf[..n])?;
        context.update(&buf[..n]);
        done += n as u64;
        if done - written_back >= WRITE_BACK {
            start_write_back(&file, written_back, done - written_back);
            written_back = done;
        }
        if !step(done) {
            file.sync_all()?;
            return Err(TransferError::Cancelled);
        }
    }
    // One byte more is a lie about the size; an error after the last byte
    // (a TLS session ended without its close) changes nothing.
    if matches!(input.read(&mut buf[..1]), Ok(n) if n > 0) {
        return Err(TransferError::TooMany(offer.size));
    }
    if finish(context) != offer.sum {
        return Err(TransferError::WrongSum);
    }
    file.sync_all()?;
    drop(file);
    keep(part)
}

/// Asks the system to start writing `len` bytes of `file` from `offset` to
/// the disk, without waiting: Linux's `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`. It makes nothing durable by itself (the
/// `sync_all` before the rename does) and its failure changes nothing, so
/// it is ignored; elsewhere it does nothing.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn start_write_back(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (
        libc::off64_t::try_from(offset),
        libc::off64_t::try_from(len),
    ) else {
        return;
    };
    // SAFETY: the descriptor is `file`'s, open for the whole call; the call
    // reads no memory of ours.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn start_write_back(_: &File, _: u64, _: u64) {}

/// The next bytes from `input` into `buf`; a cut-off or an error with what
/// was written so far on the disk, to resume from.
fn next_bytes(
    input: &mut impl Read,
    buf: &mut [u8],
    file: &File,
    done: u64,
    size: u64,
) -> Result<usize, TransferError> {
    loop {
        match input.read(buf) {
            Ok(0) => {
                file.sync_all()?;
                let expected = size;
                return Err(TransferError::CutOff {
                    got: done,
                    expected,
                });
            }
            Ok(n) => return Ok(n),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => {
                file.sync_all()?;
                return Err(err.into());
            }
        }
    }
}

/// The `.part` opened to continue at `from` (its first `from` bytes read
/// back into the checksum), or made new with its note. Neither is opened
/// through a link: a new one is created where nothing is (whatever was
/// there is removed first, a link as itself), a kept one must be a plain
/// file holding at least `from` bytes.
fn open_part(part: &PartFile, offer: &FileOffer, from: u64) -> io::Result<(File, Context)> {
    let mut context = Context::new(&SHA256);
    if from == 0 {
        part.remove();
        let mut note = new_file(&part.note())?;
        note.write_all(part_note(offer).as_bytes())?;
        let file = new_file(&part.part())?;
        return Ok((file, context));
    }
    let mut file = open_kept(&part.part())?;
    let mut prefix = (&mut file).take(from);
    let mut buf = vec![0; BUFFER];
    let mut read = 0;
    loop {
        let n = prefix.read(&mut buf)?;
        if n == 0 {
            break;
        }
        context.update(&buf[..n]);
        read += n as u64;
    }
    if read < from {
        return Err(io::Error::other(format!(
            "the kept {} holds {read} bytes, not the {from} to resume from",
            part.part().display()
        )));
    }
    file.set_len(from)?;
    file.seek(SeekFrom::Start(from))?;
    Ok((file, context))
}

/// A file made new at `path`; an error if anything (a link too) is there.
/// It is readable and writable by its owner only (0600 on unix), as the
/// `.part` keeps that mode when it is renamed to the saved file.
fn new_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// The kept `.part` at `path`, to read and write, never through a link.
fn open_kept(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let file = options.open(path)?;
    // Where links cannot be refused as the file opens: what was opened
    // must be the plain file at `path` itself.
    let here = fs::symlink_metadata(path)?;
    if !here.file_type().is_file() || !file.metadata()?.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a plain file",
            path.display()
        )));
    }
    Ok(file)
}

/// Gives a checked `.part` its name, never over an existing file: the name
/// is claimed first by creating it (which fails if it exists), then the
/// `.part` is renamed over the claim.
fn keep(part: &PartFile) -> Result<PathBuf, TransferError> {
    let taken = |name: &str| part.dir.join(name).exists();
    for _ in 0..3 {
        let name = unique_name(&part.name, taken).ok_or(TransferError::NoName)?;
        let path = part.dir.join(&name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(_) => {
                fs::rename(part.part(), &path)?;
                let _ = fs::remove_file(part.note());
                return Ok(path);
            }
            // Another file took the name meanwhile: look again.
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err.into()),
        }
    }
    Err(TransferError::NoName)
}

#[cfg(test)]
mod tests;
