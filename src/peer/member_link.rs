//! A member's connection to its leader, once the leader has it: the member
//! reader thread that forwards the leader's lines to the app, and the one
//! writer loop that sends what the user types, and `HELLO` after a quiet
//! while. An invitee (on its chat connection's thread) and a rejoiner (on a
//! `member-writer` thread) use the same link.
//!
//! The writer loop is the socket's only writer; the reader never writes.

use std::io;
use std::net::Shutdown;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, select};

use crate::conn::{self, LeaderConn, ReadHalf, Received, WriteHalf};
use crate::line::is_timeout;
use crate::wire::{ToLeader, ToMember};

use super::msg::{FromLeader, Timing};

/// The connection to a leader, with its member reader running.
pub(super) struct MemberLink {
    writer: conn::Writer<WriteHalf, ToLeader>,
    timing: Timing,
    reading: JoinHandle<()>,
}

impl MemberLink {
    /// Sets the connection's timeouts and starts the member reader, which
    /// sends the leader's lines to `feed` and says when the leader is gone.
    pub(super) fn open(
        mut conn: LeaderConn,
        leader: &str,
        feed: Sender<FromLeader>,
        timing: Timing,
    ) -> io::Result<MemberLink> {
        // A leader that sends nothing, not even HELLO, for this long is
        // gone: its machine may have died without closing the connection.
        // Nor may a leader that stopped reading hold the writer for ever.
        conn.socket().set_read_timeout(Some(timing.silence))?;
        conn.socket().set_write_timeout(Some(timing.silence))?;
        conn.set_peer(leader);
        let (reader, writer) = conn.into_split();
        let reading = thread::Builder::new()
            .name("member-reader".into())
            .spawn(move || read_from_leader(reader, &feed))?;
        Ok(MemberLink {
            writer,
            timing,
            reading,
        })
    }

    /// Sends one line; false if the connection is broken.
    pub(super) fn send(&mut self, line: &ToLeader) -> bool {
        self.writer.send(line).is_ok()
    }

    /// Sends what the user types, and `HELLO` after a quiet while, until
    /// the user leaves, the app drops the outbox, `stop` says so (or is
    /// dropped), or the connection breaks. Then closes the connection and
    /// waits for the reader. `never()` is the `stop` of a link that only
    /// its outbox ends.
    pub(super) fn relay(mut self, outbox: &Receiver<ToLeader>, stop: &Receiver<()>) {
        loop {
            select! {
                recv(outbox) -> line => match line {
                    Ok(line) => {
                        if !self.send(&line) || line == ToLeader::Leave {
                            break;
                        }
                    }
                    Err(_) => break,
                },
                recv(stop) -> _ => break,
                default(self.timing.hello) => {
                    if !self.send(&ToLeader::Hello) {
                        break;
                    }
                }
            }
        }
        self.close();
    }

    /// Closes the connection, which ends the reader, and waits for it.
    pub(super) fn close(self) {
        let _ = self.writer.get_ref().socket().shutdown(Shutdown::Both);
        let _ = self.reading.join();
    }
}

/// Forwards the leader's lines to the app thread until the connection ends.
/// `feed` is bounded: while the app is behind, this thread waits, and so,
/// through TCP, does the leader.
fn read_from_leader(mut reader: conn::Reader<ReadHalf, ToMember>, feed: &Sender<FromLeader>) {
    loop {
        let gone = match reader.recv() {
            Ok(Received::Line(parsed)) => {
                let last = matches!(parsed, ToMember::Closed(_));
                if feed.send(FromLeader::Line(parsed)).is_err() || last {
                    return;
                }
                continue;
            }
            // A line we do not understand is shown in the trace and
            // otherwise skipped: the chat goes on.
            Ok(Received::Malformed { .. } | Received::BadEncoding) => continue,
            Err(err) if is_timeout(&err) => FromLeader::Gone { silent: true },
            Ok(Received::End | Received::TooLong) | Err(_) => FromLeader::Gone { silent: false },
        };
        let _ = feed.send(gone);
        return;
    }
}
