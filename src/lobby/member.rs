//! One member of a lobby: its output buffer and socket, written only by the
//! hub and never blocking it, and its reader thread, which turns what the
//! member sends into events for the hub.

use std::io::{self, Write};
use std::net::TcpStream;

use crossbeam_channel::Sender;

use crate::conn::{self, Outbox, ReadHalf, Received, WriteHalf};
use crate::line;
use crate::wire::{ErrorCode, LineError, ParseError, ToLeader, ToMember};

pub(super) use super::state::MemberId;

/// What a reader thread reports about its member.
pub(super) enum FromMember {
    /// A line, parsed by the reader thread so the hub does less work.
    Line(Result<ToLeader, ParseError>),
    /// A line over `wire::MAX_LINE`: the stream cannot be framed any more.
    TooLong,
    /// The connection closed or failed; the reader thread has ended.
    Gone,
}

pub(super) struct Member {
    /// The writing half of the member's connection, which only the hub
    /// holds: lines are queued in `out`, and `flush` seals and pushes them.
    pub(super) writer: conn::Writer<WriteHalf, ToMember>,
    /// Bytes queued for this member that the kernel has not yet accepted.
    pub(super) out: Outbox,
    /// Set once the member is on its way out, so nothing more is queued.
    pub(super) doomed: bool,
}

impl Member {
    /// Queues one encoded line (with its `\n`). False means the member's
    /// backlog would grow past `limit`: it is not reading, and must go.
    pub(super) fn queue(&mut self, bytes: &[u8], limit: usize) -> bool {
        if self.doomed {
            return true;
        }
        if self.out.len() + bytes.len() > limit {
            return false;
        }
        self.writer.queue(bytes, &mut self.out);
        true
    }

    /// Seals what was queued since the last flush (over TLS, into as few
    /// records as it fits), then hands the kernel as much of the backlog as
    /// it takes right now, with one system call. An error means the
    /// connection (or its TLS session) is broken.
    pub(super) fn flush(&mut self) -> io::Result<()> {
        self.writer.seal(&mut self.out)?;
        if self.out.wire().is_empty() {
            return Ok(());
        }
        match send_nonblocking(self.writer.get_ref().socket(), self.out.wire()) {
            Ok(sent) => {
                self.out.sent(sent);
                Ok(())
            }
            Err(err) if line::is_timeout(&err) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

/// How the hub's sends are kept from blocking, which differs by system.
///
/// Where `send` takes `MSG_DONTWAIT` (unix), one call is non-blocking and
/// the socket stays blocking for the member's reader thread. Elsewhere
/// (Windows) the only safe way is a non-blocking socket: a send that times
/// out leaves a Windows socket in an undefined state, so a write timeout
/// will not do. The blocking mode belongs to the socket, not to one handle
/// of it (`WSADuplicateSocket`: "all the states associated with a socket
/// are held in common across all the descriptors"), so the reader then
/// reads a non-blocking socket too, and each of its reads of the socket
/// first waits (`ReadHalf::wait_before_reads`, `net::wait_readable`) until
/// the socket has bytes, an end or an error: the same wait for readability
/// that a blocking read does, without a timer, and without a read that
/// finds nothing (under Wine each call is a trip to the Wine server). Both ways are compiled everywhere, so the Windows one is tested
/// on every system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SendMode {
    DontWait,
    NonBlockingSocket,
}

/// This system's way, see `SendMode`.
pub(super) const SEND_MODE: SendMode = if cfg!(unix) {
    SendMode::DontWait
} else {
    SendMode::NonBlockingSocket
};

/// Sends without blocking: with `MSG_DONTWAIT` on unix, which leaves the
/// socket's `O_NONBLOCK` flag alone; a plain write elsewhere, where
/// `prepare` made the socket non-blocking.
pub(super) fn send_nonblocking(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    match SEND_MODE {
        SendMode::DontWait => send_dont_wait(stream, buf),
        SendMode::NonBlockingSocket => (&*stream).write(buf),
    }
}

#[cfg(unix)]
fn send_dont_wait(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    use std::os::fd::AsRawFd;

    // A peer that has gone must give us `EPIPE`, not kill the process with
    // `SIGPIPE`. Where `MSG_NOSIGNAL` does not exist (macOS), Rust's runtime
    // already ignores `SIGPIPE`.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const NO_SIGNAL: libc::c_int = libc::MSG_NOSIGNAL;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const NO_SIGNAL: libc::c_int = 0;

    loop {
        // SAFETY: `stream` is borrowed for the whole call, so its descriptor
        // stays open; `buf` is a live slice of exactly `buf.len()` bytes that
        // `send` only reads. `MSG_DONTWAIT` makes this one call non-blocking
        // without changing the descriptor's flags.
        let sent = unsafe {
            libc::send(
                stream.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | NO_SIGNAL,
            )
        };
        if sent >= 0 {
            return Ok(sent.unsigned_abs());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `SEND_MODE` is never `DontWait` off unix.
#[cfg(not(unix))]
fn send_dont_wait(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    (&*stream).write(buf)
}

/// Gets an admitted socket ready for its two threads: reads without a
/// timeout for the reader, sends that never block for the hub, and no delay
/// for the hub's batched writes.
pub(super) fn prepare(stream: &TcpStream) -> io::Result<()> {
    prepare_for(stream, SEND_MODE)
}

fn prepare_for(stream: &TcpStream, mode: SendMode) -> io::Result<()> {
    // The invitation may have been read under a timeout; a member may stay
    // quiet for as long as it likes.
    stream.set_read_timeout(None)?;
    stream.set_nonblocking(mode == SendMode::NonBlockingSocket)?;
    // The hub already batches lines into one send, so Nagle's algorithm
    // would only add latency.
    stream.set_nodelay(true)?;
    Ok(())
}

/// A line as the bytes that go on the wire, with its `\n`.
pub(super) fn encode(line: &ToMember) -> Vec<u8> {
    let mut bytes = Vec::new();
    encode_into(&mut bytes, line);
    bytes
}

pub(super) fn encode_into(bytes: &mut Vec<u8>, line: &ToMember) {
    bytes.clear();
    conn::encode_into(bytes, line);
}

/// What a member's reader thread heard on its connection, for the hub. It
/// is defined here, below the hub, so the reader imports nothing from the
/// hub that starts it.
pub(super) struct Heard {
    pub(super) id: MemberId,
    pub(super) input: FromMember,
}

/// A member's reader thread: turns what arrives into events for the hub
/// until the connection ends or the hub is gone.
pub(super) fn read_member(
    id: MemberId,
    reader: conn::Reader<ReadHalf, ToLeader>,
    events: Sender<Heard>,
) {
    read_member_in(SEND_MODE, id, reader, events);
}

/// The reader's loop; returns how many reads found nothing, which tells a
/// test whether the reader waited for its socket or kept asking it.
fn read_member_in(
    mode: SendMode,
    id: MemberId,
    mut reader: conn::Reader<ReadHalf, ToLeader>,
    events: Sender<Heard>,
) -> usize {
    if mode == SendMode::NonBlockingSocket {
        reader.get_mut().wait_before_reads();
    }
    let mut empty_reads = 0;
    loop {
        let input = match reader.recv() {
            Ok(Received::Line(line)) => FromMember::Line(Ok(line)),
            Ok(Received::Malformed { err, .. }) => FromMember::Line(Err(err)),
            Ok(Received::BadEncoding) => FromMember::Line(Err(ParseError::new(
                ErrorCode::BadEncoding,
                LineError::BadEncoding.to_string(),
            ))),
            Ok(Received::TooLong) => FromMember::TooLong,
            // A read timeout left on the socket only means silence; on a
            // non-blocking socket, so does a read that finds nothing after
            // a wait said it could be read (rare), and the next read waits
            // again.
            Err(err) if line::is_timeout(&err) => {
                empty_reads += 1;
                continue;
            }
            Ok(Received::End) | Err(_) => FromMember::Gone,
        };
        let last = matches!(input, FromMember::TooLong | FromMember::Gone);
        if events.send(Heard { id, input }).is_err() || last {
            return empty_reads;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{ErrorKind, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use crossbeam_channel::bounded;

    use super::*;
    use crate::conn::MemberConn;
    use crate::trace::Trace;

    /// Both ends of a loopback connection: the member's and the leader's.
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let member = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (leader, _) = listener.accept().unwrap();
        (member, leader)
    }

    /// The next event the reader sends, within a generous safety net.
    fn next(events: &crossbeam_channel::Receiver<Heard>) -> FromMember {
        match events.recv_timeout(Duration::from_secs(30)) {
            Ok(heard) => heard.input,
            Err(err) => panic!("no event from the reader: {err}"),
        }
    }

    #[test]
    fn a_non_blocking_socket_is_read_whole_and_its_sends_never_block() {
        // The way the lobby works where MSG_DONTWAIT is missing (Windows),
        // run here so that it is tested on every system.
        let (mut member, leader) = pair();
        prepare_for(&leader, SendMode::NonBlockingSocket).unwrap();
        let conn = MemberConn::new(leader.try_clone().unwrap(), "member", Trace::off()).unwrap();
        let (reader, _) = conn.into_split();
        let (events, from_reader) = bounded(64);
        let thread = std::thread::spawn(move || {
            read_member_in(SendMode::NonBlockingSocket, 1, reader, events)
        });

        // A line sent in pieces, with the reader finding nothing in between,
        // arrives whole; then a second one.
        member.write_all(b"MSG hel").unwrap();
        member.write_all(b"lo\nHELLO\n").unwrap();
        assert!(
            matches!(next(&from_reader), FromMember::Line(Ok(ToLeader::Msg(text))) if text == "hello")
        );
        assert!(matches!(
            next(&from_reader),
            FromMember::Line(Ok(ToLeader::Hello))
        ));

        // The member stops reading: the leader's writes fill the connection
        // and then say WouldBlock instead of holding the hub.
        let chunk = vec![b'x'; 64 * 1024];
        let mut written = 0usize;
        let full = loop {
            match (&leader).write(&chunk) {
                Ok(n) => written += n,
                Err(err) => break err,
            }
            assert!(
                written < 1 << 30,
                "a gigabyte went into a socket nobody reads"
            );
        };
        assert_eq!(full.kind(), ErrorKind::WouldBlock);

        // The member hangs up: the reader says so and ends.
        drop(member);
        assert!(matches!(next(&from_reader), FromMember::Gone));
        thread.join().unwrap();
    }

    /// A reader of a non-blocking socket over a fresh connection, and the
    /// member's end of it.
    fn non_blocking_reader() -> (
        TcpStream,
        TcpStream,
        crossbeam_channel::Receiver<Heard>,
        std::thread::JoinHandle<usize>,
    ) {
        let (member, leader) = pair();
        prepare_for(&leader, SendMode::NonBlockingSocket).unwrap();
        let conn = MemberConn::new(leader.try_clone().unwrap(), "member", Trace::off()).unwrap();
        let (reader, _) = conn.into_split();
        let (events, from_reader) = bounded(64);
        let thread = std::thread::spawn(move || {
            read_member_in(SendMode::NonBlockingSocket, 1, reader, events)
        });
        (member, leader, from_reader, thread)
    }

    #[test]
    fn a_reader_of_a_non_blocking_socket_waits_for_it_instead_of_asking_again() {
        let (mut member, _leader, from_reader, thread) = non_blocking_reader();
        member.write_all(b"MSG hel").unwrap();
        // The member is silent for a while in the middle of a line: this
        // pause is what is tested, not a way to wait for the reader. A
        // reader that waits for its socket finds it empty once or twice in
        // all; one that reads again every few milliseconds finds it empty
        // many times over.
        std::thread::sleep(Duration::from_millis(300));
        member.write_all(b"lo\n").unwrap();
        assert!(
            matches!(next(&from_reader), FromMember::Line(Ok(ToLeader::Msg(text))) if text == "hello")
        );
        drop(member);
        assert!(matches!(next(&from_reader), FromMember::Gone));
        let empty_reads = thread.join().unwrap();
        assert!(
            empty_reads <= 4,
            "the reader found its socket empty {empty_reads} times"
        );
    }

    #[test]
    fn a_reader_of_a_non_blocking_socket_reads_it_only_when_bytes_are_there() {
        // Under Wine each read is a trip to the Wine server, so a reader
        // that reads, finds nothing and then waits costs one trip more per
        // line than one that waits and then reads. Lines come one at a
        // time, each after the last was heard, plain and over TLS (where
        // the wait comes below the TLS layer, once its plaintext is used).
        for tls in [false, true] {
            let (leader, client) = crate::conn::tests::loopback(tls);
            let (member_reads, mut member) = crate::conn::Transport::split(client).unwrap();
            prepare_for(leader.socket(), SendMode::NonBlockingSocket).unwrap();
            let conn = MemberConn::new(leader, "member", Trace::off()).unwrap();
            let (reader, _) = conn.into_split();
            let (events, from_reader) = bounded(64);
            let thread = std::thread::spawn(move || {
                read_member_in(SendMode::NonBlockingSocket, 1, reader, events)
            });
            for _ in 0..20 {
                member.write_all(b"HELLO\n").unwrap();
                member.flush().unwrap();
                assert!(matches!(
                    next(&from_reader),
                    FromMember::Line(Ok(ToLeader::Hello))
                ));
            }
            drop((member, member_reads));
            assert!(matches!(next(&from_reader), FromMember::Gone));
            let empty_reads = thread.join().unwrap();
            assert!(
                empty_reads <= 1,
                "tls {tls}: the reader found its socket empty {empty_reads} times in 20 lines"
            );
        }
    }

    #[test]
    fn a_waiting_reader_ends_when_the_hub_shuts_a_silent_members_socket() {
        // The member neither speaks nor hangs up: only the hub's shutdown,
        // as when it drops the member, can end the reader's wait.
        let (member, leader, from_reader, thread) = non_blocking_reader();
        leader.shutdown(std::net::Shutdown::Both).unwrap();
        assert!(matches!(next(&from_reader), FromMember::Gone));
        thread.join().unwrap();
        drop(member);
    }
}
