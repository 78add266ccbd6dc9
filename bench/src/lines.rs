//! `Lines`: splits what a non-blocking socket delivers into lines. It
//! reads until the socket would block and never waits for more. The
//! socket is a plain one or the reading half of a `p2pchat::conn::Stream`,
//! plain or TLS (`Source`).

use std::io::{ErrorKind, Read};
use std::net::TcpStream;

use p2pchat::conn::ReadHalf;

/// Something non-blocking to read lines from.
pub(crate) trait Source: Read {
    /// Whether a read that fills less than the buffer shows that nothing is
    /// left. True of a socket; not of TLS, which may hold records it has
    /// taken from the socket but not yet decrypted, so a TLS source is read
    /// until it says it would block.
    fn short_read_drains(&self) -> bool;
}

impl Source for &TcpStream {
    fn short_read_drains(&self) -> bool {
        true
    }
}

impl<S: Source + ?Sized> Source for &mut S {
    fn short_read_drains(&self) -> bool {
        (**self).short_read_drains()
    }
}

impl Source for ReadHalf {
    fn short_read_drains(&self) -> bool {
        matches!(self, ReadHalf::Plain { .. })
    }
}

/// Splits what a non-blocking socket delivers into lines, keeping a partial
/// line for the next read.
#[derive(Default)]
pub(crate) struct Lines {
    partial: Vec<u8>,
}

/// What one `Lines::read` saw.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// The socket has nothing more for now.
    WouldBlock,
    /// The other side closed the connection, or it broke.
    Closed,
}

impl Lines {
    /// Reads what `stream` has until it would block, calling `each` with
    /// every complete line (without `\n` or `\r`) and returns the number of
    /// bytes read alongside why it stopped. `scratch` is the read buffer.
    pub(crate) fn read(
        &mut self,
        mut stream: impl Source,
        scratch: &mut [u8],
        mut each: impl FnMut(&[u8]),
    ) -> (usize, ReadEnd) {
        let mut bytes = 0;
        loop {
            let got = match stream.read(scratch) {
                Ok(0) => return (bytes, ReadEnd::Closed),
                Ok(got) => got,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    return (bytes, ReadEnd::WouldBlock);
                }
                Err(_) => return (bytes, ReadEnd::Closed),
            };
            bytes += got;
            self.split(&scratch[..got], &mut each);
            // A short read means the socket is drained; asking again would
            // only cost a system call that says so.
            if got < scratch.len() && stream.short_read_drains() {
                return (bytes, ReadEnd::WouldBlock);
            }
        }
    }

    fn split(&mut self, mut data: &[u8], each: &mut impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            let Some(end) = data.iter().position(|&b| b == b'\n') else {
                self.partial.extend_from_slice(data);
                return;
            };
            self.partial.extend_from_slice(&data[..end]);
            each(trim_cr(&self.partial));
            self.partial.clear();
            data = &data[end + 1..];
        }
        while let Some(end) = data.iter().position(|&b| b == b'\n') {
            each(trim_cr(&data[..end]));
            data = &data[end + 1..];
        }
        self.partial.extend_from_slice(data);
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_anywhere() {
        let input = b"MEMBERS a b\r\nMSG a 1\nMSG a 2\n";
        for at in 0..=input.len() {
            let mut lines = Lines::default();
            let mut got = Vec::new();
            lines.split(&input[..at], &mut |l: &[u8]| got.push(l.to_vec()));
            lines.split(&input[at..], &mut |l: &[u8]| got.push(l.to_vec()));
            assert_eq!(
                got,
                [
                    b"MEMBERS a b".to_vec(),
                    b"MSG a 1".to_vec(),
                    b"MSG a 2".to_vec()
                ],
                "split at {at}"
            );
        }
    }
}
