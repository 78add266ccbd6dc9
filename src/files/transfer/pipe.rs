//! The recipient's two more threads: one adds what the reading thread
//! received to the checksum, the next writes it to the `.part`, so the
//! socket is read (and decrypted), the bytes before summed and those
//! before written, all at once. A few fixed buffers go round the three
//! threads in order, so memory stays `BUFFERS` buffers whatever the file's
//! size, and a reader ahead of the disk waits for a buffer (the socket
//! then holds the sender back). It knows no socket: the reading side is
//! any closure.

use std::fs::File;
use std::io::{self, Write};
use std::thread;

use crossbeam_channel::{Receiver, Sender, bounded};
use ring::digest::Context;

use super::BUFFER;

/// How many buffers go round: one in each thread, and some to spare for
/// the one that is slower for a moment.
pub(super) const BUFFERS: usize = 8;

/// One buffer and how many of its bytes are the file's.
pub(super) struct Chunk {
    pub(super) bytes: Vec<u8>,
    pub(super) len: usize,
}

/// The reading thread's side: empty buffers to fill, full ones to hand on.
pub(super) struct Pipe {
    full: Sender<Chunk>,
    empty: Receiver<Chunk>,
}

impl Pipe {
    /// The next empty buffer; `None` once the writer has stopped (a write
    /// failed), whose error `run` returns.
    pub(super) fn empty(&self) -> Option<Chunk> {
        let mut chunk = self.empty.recv().ok()?;
        chunk.len = 0;
        Some(chunk)
    }

    /// Hands `chunk` to the writer (an empty one too, so every buffer
    /// comes back); false once the writer has stopped.
    pub(super) fn give(&self, chunk: Chunk) -> bool {
        self.full.send(chunk).is_ok()
    }
}

/// Runs `read` on this thread with a `Pipe` whose every chunk is added to
/// `context` on a second thread, then written to `file` on a third, in
/// order. Returns what `read` returned with the file and the checksum once
/// every chunk handed on is written, or the first write's error.
pub(super) fn run<T>(
    file: File,
    context: Context,
    read: impl FnOnce(&Pipe) -> T,
) -> io::Result<(T, File, Context)> {
    let (full, to_sum) = bounded(BUFFERS);
    let (summed, to_write) = bounded(BUFFERS);
    let (written, empty) = bounded(BUFFERS);
    for _ in 0..BUFFERS {
        let chunk = Chunk {
            bytes: vec![0; BUFFER],
            len: 0,
        };
        written.send(chunk).expect("the channel holds every buffer");
    }
    // `move`: whatever happens, the pipe's ends are dropped before the
    // scope waits for the threads, so none of them waits for ever.
    thread::scope(move |scope| {
        let spawn = |name: &str| thread::Builder::new().name(name.into());
        let summer =
            spawn("file-sum").spawn_scoped(scope, move || sum_all(context, &to_sum, &summed))?;
        let writer = spawn("file-write")
            .spawn_scoped(scope, move || write_all(file, &to_write, &written))?;
        let result = read(&Pipe { full, empty });
        let failed = || io::Error::other("a thread of the file's receipt failed");
        let file = writer.join().map_err(|_| failed())??;
        let context = summer.join().map_err(|_| failed())?;
        Ok((result, file, context))
    })
}

/// The second thread: each chunk into the checksum, then on to the writer,
/// until the reader is done or the writer has stopped.
fn sum_all(mut context: Context, to_sum: &Receiver<Chunk>, summed: &Sender<Chunk>) -> Context {
    for chunk in to_sum {
        context.update(&chunk.bytes[..chunk.len]);
        if summed.send(chunk).is_err() {
            break;
        }
    }
    context
}

/// The third thread: each chunk to the file, then back to the reader.
fn write_all(
    mut file: File,
    to_write: &Receiver<Chunk>,
    written: &Sender<Chunk>,
) -> io::Result<File> {
    for chunk in to_write {
        file.write_all(&chunk.bytes[..chunk.len])?;
        // The reader may have finished and gone; the buffer then is freed.
        let _ = written.send(chunk);
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::fs;

    use ring::digest::SHA256;

    use super::*;

    /// Hands `count` chunks of `BUFFER` bytes, each filled with its number,
    /// while the writer gives the buffers back; the distinct buffers seen
    /// and whether every chunk was taken.
    fn hand(pipe: &Pipe, count: usize) -> (HashSet<usize>, bool) {
        let mut seen = HashSet::new();
        for n in 0..count {
            let Some(mut chunk) = pipe.empty() else {
                return (seen, false);
            };
            seen.insert(chunk.bytes.as_ptr() as usize);
            chunk.bytes.fill(n as u8);
            chunk.len = BUFFER;
            if !pipe.give(chunk) {
                return (seen, false);
            }
        }
        (seen, true)
    }

    #[test]
    fn every_chunk_is_summed_and_written_in_order_with_a_fixed_set_of_buffers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let file = File::create(&path).unwrap();
        let count = 20 * BUFFERS;
        let ((seen, whole), file, context) =
            run(file, Context::new(&SHA256), |pipe| hand(pipe, count)).unwrap();
        drop(file);
        assert!(whole);
        assert!(seen.len() <= BUFFERS, "{} buffers", seen.len());
        let expected: Vec<u8> = (0..count).flat_map(|n| vec![n as u8; BUFFER]).collect();
        assert_eq!(fs::read(&path).unwrap(), expected);
        let sum = ring::digest::digest(&SHA256, &expected);
        assert_eq!(context.finish().as_ref(), sum.as_ref());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_that_fails_stops_the_reader_and_is_the_error() {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut whole = None;
        let err = run(full, Context::new(&SHA256), |pipe| {
            whole = Some(hand(pipe, 1_000_000).1);
        })
        .err()
        .expect("a write to /dev/full fails");
        assert_eq!(whole, Some(false), "the reader stopped early");
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC), "{err}");
    }
}
