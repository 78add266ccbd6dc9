//! The reading side's ciphertext: what came from the socket and rustls has
//! not taken yet. It reads the socket outside the session's lock and feeds
//! rustls under it (`stream.rs` holds the lock), so a read timeout loses
//! nothing: a partial record stays here or inside rustls.
//!
//! Its buffer starts small and grows only while reads fill it (a large
//! record, or a burst, is arriving): a server of thousands of connections
//! that each receive a short line now and then keeps a small buffer each,
//! not one full record's worth.

use std::io::{self, Read};
use std::net::TcpStream;

use rustls::Connection;

/// The first read's size: a few short lines' worth.
const FIRST_READ: usize = 512;

/// The largest read: one full TLS record and its overhead.
const MAX_READ: usize = 16 * 1024 + 256;

/// Where the reader is with the end of the socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eof {
    Open,
    /// The socket said end of file; rustls has not been told yet.
    Seen,
    /// rustls knows: it reports a clean close or a truncation.
    Told,
}

/// The reading side's ciphertext: what came from the socket and rustls
/// has not taken yet, read straight into its spare room.
#[derive(Debug)]
pub(super) struct Incoming {
    pending: Vec<u8>,
    /// How much the next read asks for: doubled, up to `MAX_READ`, each
    /// time a read fills all it asked for.
    read_size: usize,
    eof: Eof,
}

impl Incoming {
    pub(super) fn new() -> Incoming {
        Incoming {
            pending: Vec::new(),
            read_size: FIRST_READ,
            eof: Eof::Open,
        }
    }

    /// Plaintext for `buf` if rustls has some, after handing it what was
    /// read so far; `None` if the socket must be read first. `Ok(Some(0))`
    /// is the other end's `close_notify`.
    pub(super) fn plaintext(
        &mut self,
        conn: &mut Connection,
        buf: &mut [u8],
    ) -> io::Result<Option<usize>> {
        if buf.is_empty() {
            return Ok(Some(0));
        }
        // An error here may come after plaintext still to be read, so that
        // goes first.
        let fed = self.feed(conn);
        match conn.reader().read(buf) {
            Ok(n) => return Ok(Some(n)),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
            Err(err) => return Err(err),
        }
        fed?;
        if self.eof == Eof::Told {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(None)
    }

    /// Hands rustls the ciphertext read so far, and the end of file once seen.
    fn feed(&mut self, conn: &mut Connection) -> io::Result<()> {
        // rustls takes at most 4 KiB a call: what it took is counted, and
        // dropped from the buffer once at the end, not moved down each time.
        let mut taken = 0;
        let fed = feed_from(conn, &self.pending, &mut taken);
        self.pending.drain(..taken);
        fed?;
        if self.eof == Eof::Seen && self.pending.is_empty() {
            conn.read_tls(&mut io::empty())?;
            self.eof = Eof::Told;
            conn.process_new_packets()
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        }
        Ok(())
    }

    /// One read of the socket. Its error (a timeout, say) is the caller's,
    /// with nothing lost: no byte was taken.
    pub(super) fn fill(&mut self, mut tcp: &TcpStream) -> io::Result<()> {
        let start = self.pending.len();
        self.pending.resize(start + self.read_size, 0);
        let read = tcp.read(&mut self.pending[start..]);
        self.pending.truncate(start + *read.as_ref().unwrap_or(&0));
        match read? {
            0 => self.eof = Eof::Seen,
            n if n == self.read_size => self.read_size = (n * 2).min(MAX_READ),
            _ => {}
        }
        Ok(())
    }

    /// How much the next read asks for.
    #[cfg(test)]
    pub(super) fn read_size(&self) -> usize {
        self.read_size
    }
}

/// Hands rustls `pending` from byte `taken` on, counting in `taken` what it
/// took, until it has all of it or refuses more (once it holds as much
/// plaintext as it will).
fn feed_from(conn: &mut Connection, pending: &[u8], taken: &mut usize) -> io::Result<()> {
    while *taken < pending.len() {
        let mut rest = &pending[*taken..];
        let took = conn.read_tls(&mut rest)?;
        *taken += took;
        conn.process_new_packets()
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
        if took == 0 {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::*;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader, _) = listener.accept().unwrap();
        reader
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        (writer, reader)
    }

    #[test]
    fn short_lines_keep_the_buffer_small_and_a_flood_grows_it_to_one_record() {
        let (mut writer, reader) = pair();
        let mut incoming = Incoming::new();
        for _ in 0..3 {
            writer.write_all(&[7; 40]).unwrap();
            incoming.fill(&reader).unwrap();
            assert_eq!(incoming.pending.len(), 40);
            incoming.pending.clear();
        }
        assert_eq!(incoming.read_size(), FIRST_READ);
        assert!(incoming.pending.capacity() <= FIRST_READ);

        let flood = 256 * 1024;
        writer.write_all(&vec![7; flood]).unwrap();
        let mut read = 0;
        while read < flood {
            incoming.fill(&reader).unwrap();
            read += incoming.pending.len();
            incoming.pending.clear();
            assert!(incoming.read_size() <= MAX_READ);
        }
        assert_eq!(read, flood);
        assert_eq!(incoming.read_size(), MAX_READ);
        assert!(incoming.pending.capacity() <= 2 * MAX_READ);
    }

    #[test]
    fn a_timeout_loses_nothing_and_an_end_is_seen() {
        let (mut writer, reader) = pair();
        let mut incoming = Incoming::new();
        writer.write_all(b"abc").unwrap();
        incoming.fill(&reader).unwrap();
        reader
            .set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let err = incoming.fill(&reader).unwrap_err();
        assert!(crate::line::is_timeout(&err), "{err}");
        assert_eq!(incoming.pending, b"abc");
        reader
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        drop(writer);
        incoming.fill(&reader).unwrap();
        assert_eq!(incoming.pending, b"abc");
        assert_eq!(incoming.eof, Eof::Seen);
    }
}
