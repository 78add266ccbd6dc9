//! A member's connection to its leader, once the leader has it: the member
//! reader thread that forwards the leader's lines to the app, and the one
//! writer loop that sends what the user types, and `HELLO` after a quiet
//! while. An invitee (on its chat connection's thread) and a rejoiner (on a
//! `member-writer` thread) use the same link.
//!
//! The writer loop is the socket's only writer; the reader never writes.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Receiver, Sender, select};

use crate::line::{ConnReader, Frame, is_timeout, write_line};
use crate::trace::Trace;
use crate::wire::{ToLeader, ToMember};

use super::msg::{FromLeader, Timing};

/// The connection to a leader, with its member reader running.
pub(super) struct MemberLink {
    stream: TcpStream,
    leader: String,
    timing: Timing,
    trace: Trace,
    reading: JoinHandle<()>,
}

impl MemberLink {
    /// Sets the connection's timeouts and starts the member reader, which
    /// sends the leader's lines to `feed` and says when the leader is gone.
    pub(super) fn open(
        stream: TcpStream,
        reader: ConnReader,
        leader: String,
        feed: Sender<FromLeader>,
        timing: Timing,
        trace: Trace,
    ) -> io::Result<MemberLink> {
        // A leader that sends nothing, not even HELLO, for this long is
        // gone: its machine may have died without closing the connection.
        // Nor may a leader that stopped reading hold the writer for ever.
        stream.set_read_timeout(Some(timing.silence))?;
        stream.set_write_timeout(Some(timing.silence))?;
        let reading = {
            let leader = leader.clone();
            thread::Builder::new()
                .name("member-reader".into())
                .spawn(move || read_from_leader(reader, &feed, &leader, trace))?
        };
        Ok(MemberLink {
            stream,
            leader,
            timing,
            trace,
            reading,
        })
    }

    /// Sends one line; false if the connection is broken.
    pub(super) fn send(&mut self, line: &ToLeader) -> bool {
        self.trace.sent(&self.leader, line);
        write_line(&mut self.stream, line).is_ok()
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
        let _ = self.stream.shutdown(Shutdown::Both);
        let _ = self.reading.join();
    }
}

/// Forwards the leader's lines to the app thread until the connection ends.
/// `feed` is bounded: while the app is behind, this thread waits, and so,
/// through TCP, does the leader.
fn read_from_leader(mut reader: ConnReader, feed: &Sender<FromLeader>, leader: &str, trace: Trace) {
    loop {
        let gone = match reader.next_frame() {
            Ok(Frame::Line(line)) => {
                trace.received(leader, &line);
                // A line we do not understand is shown in the trace and
                // otherwise skipped: the chat goes on.
                if let Ok(parsed) = line.parse::<ToMember>() {
                    let last = matches!(parsed, ToMember::Closed(_));
                    if feed.send(FromLeader::Line(parsed)).is_err() || last {
                        return;
                    }
                }
                continue;
            }
            Ok(Frame::BadEncoding) => continue,
            Err(err) if is_timeout(&err) => FromLeader::Gone { silent: true },
            Ok(Frame::Eof | Frame::TooLong) | Err(_) => FromLeader::Gone { silent: false },
        };
        let _ = feed.send(gone);
        return;
    }
}
