//! The hub's output: queuing a line for one member or for all, hanging up
//! on a member the rules drop, the flush pass that gives every member's
//! backlog to the kernel (picking up events along the way), and the last
//! flush when the lobby ends.
//!
//! This file owns when bytes leave the hub. It must never block on a
//! member's socket: every send is non-blocking, and a member that cannot keep
//! up is reported to the rules (`LobbyEvent::Overflowed`), not waited for.

use std::mem;
use std::net::Shutdown;
use std::time::Instant;

use crate::wire::{CloseReason, ToMember};

use super::super::member::{Member, MemberId, encode, encode_into};
use super::super::state::LobbyEvent;
use super::super::{LobbyConfig, Notice};
use super::{BATCH_LIMIT, Hub, Inboxes};

/// How many members a flush pass serves before it looks for new events. A
/// line that arrives in the middle of a pass then still reaches the members
/// the pass has not come to yet, instead of everyone waiting for the next
/// pass: with hundreds of members, a pass is most of a message's latency.
pub(super) const PASS_CHUNK: usize = 32;

impl Hub {
    /// True once the events handled since the current pass began have queued
    /// a quarter of the backlog limit for each member. Handling stops there
    /// until the next pass, so between two sends a member that the kernel
    /// keeps taking from is given at most about half the limit, and is never
    /// dropped for lines the hub itself held back.
    pub(super) fn batch_full(&self) -> bool {
        self.queued_since_pass >= self.config.max_queued_bytes / 4
    }

    /// Queues `line` for one connection.
    pub(super) fn send_to(&mut self, id: MemberId, line: &ToMember) {
        encode_into(&mut self.scratch, line);
        self.queued_since_pass += self.scratch.len();
        if let Some(member) = self.members.get_mut(&id) {
            queue(id, member, &self.scratch, &self.config, &mut self.fallout);
        }
    }

    /// Queues `line` for every member but `except`, encoding it only once.
    pub(super) fn broadcast(&mut self, line: &ToMember, except: Option<MemberId>) {
        encode_into(&mut self.scratch, line);
        self.queued_since_pass += self.scratch.len();
        for (&id, member) in &mut self.members {
            if Some(id) != except {
                queue(id, member, &self.scratch, &self.config, &mut self.fallout);
            }
        }
    }

    /// Closes a connection the rules drop, after a last chance for what is
    /// queued (such as the `ERR` that says why an over-long line ended it).
    /// A dropped member is not reading, so this cannot block anyone.
    pub(super) fn hang_up(&mut self, id: MemberId) {
        let Some(mut member) = self.members.remove(&id) else {
            return;
        };
        let _ = member.flush();
        // Shutting down wakes the member's reader thread, which then ends;
        // it is joined later.
        let _ = member.writer.get_ref().socket().shutdown(Shutdown::Both);
    }

    /// Gives every member's backlog to the kernel, one send per member, and
    /// reports the connections that broke. Every `PASS_CHUNK` members it
    /// handles the events that arrived meanwhile, so their lines go out
    /// with the rest of this pass; returns the reason if one of them closes
    /// the lobby.
    pub(super) fn flush(&mut self, inbox: &Inboxes) -> Option<CloseReason> {
        self.unsent = false;
        loop {
            self.queued_since_pass = 0;
            let mut pass = mem::take(&mut self.pass);
            pass.clear();
            pass.extend(self.members.keys().copied());
            let served = self.serve(&pass, inbox);
            self.pass = pass;
            match served {
                Err(reason) => return Some(reason),
                Ok(backlog) => self.backlog = backlog,
            }
            if self.fallout.is_empty() {
                return None;
            }
            // Removing members queues `LEFT` for the others, which the next
            // round sends; every round removes someone, so this ends.
            self.carry(Vec::new());
        }
    }

    /// One flush pass over `pass`: whether some backlog is left, or the
    /// reason if an event picked up on the way closes the lobby.
    fn serve(&mut self, pass: &[MemberId], inbox: &Inboxes) -> Result<bool, CloseReason> {
        let mut backlog = false;
        let mut picked_up = 0;
        for (served, id) in pass.iter().enumerate() {
            if served > 0 && served % PASS_CHUNK == 0 {
                self.pick_up(&mut picked_up, inbox)?;
            }
            // A member removed by an event of this pass is skipped, and one
            // already reported is not written to.
            let Some(member) = self.members.get_mut(id).filter(|m| !m.doomed) else {
                continue;
            };
            if member.flush().is_err() {
                member.doomed = true;
                self.fallout.push(LobbyEvent::Gone(*id));
            } else if !member.out.is_empty() {
                backlog = true;
            }
        }
        Ok(backlog)
    }

    /// Handles the events that arrived during a pass, within the pass's
    /// bounds; the reason if one of them closes the lobby.
    fn pick_up(&mut self, picked_up: &mut usize, inbox: &Inboxes) -> Result<(), CloseReason> {
        while *picked_up < BATCH_LIMIT && !self.batch_full() {
            let Some(event) = self.next_ready(inbox) else {
                break;
            };
            // What this queues for members already served goes out in the
            // next pass, which comes at once.
            self.unsent = true;
            *picked_up += 1;
            if let Some(reason) = self.handle(event) {
                // Those whose connection broke earlier in this pass still
                // leave before the lobby closes.
                self.carry(Vec::new());
                return Err(reason);
            }
        }
        Ok(())
    }

    /// Ends the lobby: `CLOSED` to everyone, a bounded wait for it to be
    /// delivered, then every connection shut down and every reader joined.
    pub(super) fn finish(mut self, reason: CloseReason, inbox: Inboxes) -> Vec<Notice> {
        // After a handover, `HANDOVER` was the last line; the members go on
        // elsewhere.
        let bytes = self.state.farewell(reason).map(|line| encode(&line));
        let bytes = bytes.unwrap_or_default();
        for member in self.members.values_mut() {
            // `CLOSED` goes out even past the backlog limit: it is short, and
            // it is the line that tells the member why the lobby ended.
            if !bytes.is_empty() {
                member.writer.queue(&bytes, &mut member.out);
            }
        }
        self.last_flush(&inbox);
        for member in self.members.values() {
            let _ = member.writer.get_ref().socket().shutdown(Shutdown::Both);
        }
        // Dropping the only receiver makes every send fail, so a reader
        // blocked on a full channel wakes up and ends too.
        drop(inbox);
        for reader in self.readers.drain(..) {
            // A reader that panicked has nothing left for us to clean up.
            let _ = reader.join();
        }
        self.notices.rest()
    }

    /// Delivers what is queued, for at most `close_timeout`.
    fn last_flush(&mut self, inbox: &Inboxes) {
        let deadline = Instant::now() + self.config.close_timeout;
        loop {
            let mut backlog = false;
            for member in self.members.values_mut() {
                // The lobby is over, so a broken connection is not news for
                // anyone: its backlog is simply given up.
                if member.flush().is_err() {
                    member.out.clear();
                }
                backlog |= !member.out.is_empty();
            }
            let now = Instant::now();
            if !backlog || now >= deadline {
                return;
            }
            // Waiting on the inbox rather than sleeping also keeps the reader
            // threads from blocking on a full channel; what they send now no
            // longer matters, as the lobby is closing.
            let wait = self.config.retry_interval.min(deadline - now);
            let _ = inbox.readers.recv_timeout(wait);
        }
    }
}

/// Queues one encoded line for `member`, or, if its backlog would grow past
/// the limit, stops writing to it and tells the rules: it has stopped
/// reading.
fn queue(
    id: MemberId,
    member: &mut Member,
    bytes: &[u8],
    config: &LobbyConfig,
    fallout: &mut Vec<LobbyEvent>,
) {
    if !member.queue(bytes, config.max_queued_bytes) {
        member.doomed = true;
        fallout.push(LobbyEvent::Overflowed(id));
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, ErrorKind};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    use super::super::{Event, Inboxes};
    use super::*;
    use crate::conn::MemberConn;
    use crate::lobby::CHANNEL_CAPACITY;
    use crate::trace::Trace;

    /// The next `MSG` line a member gets, past the lines of admissions.
    fn next_msg(member: &mut BufReader<TcpStream>) -> String {
        loop {
            let mut line = String::new();
            member.read_line(&mut line).unwrap();
            if line.starts_with("MSG ") {
                return line.trim_end().to_string();
            }
            assert!(!line.is_empty(), "the connection closed");
        }
    }

    /// Nothing has reached the member beyond what it read: the hub has not
    /// sent it anything more. What one send carries arrives together on
    /// loopback, so after reading its last line this cannot race.
    #[track_caller]
    fn nothing_more(member: &mut BufReader<TcpStream>) {
        assert!(member.buffer().is_empty(), "{:?}", member.buffer());
        member.get_ref().set_nonblocking(true).unwrap();
        let peeked = member.get_ref().peek(&mut [0; 1]).map_err(|e| e.kind());
        member.get_ref().set_nonblocking(false).unwrap();
        assert_eq!(peeked, Err(ErrorKind::WouldBlock));
    }

    #[test]
    fn a_line_that_arrives_during_a_pass_reaches_the_members_not_yet_served() {
        let (events, readers) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let (control_tx, control) = crossbeam_channel::unbounded();
        let inbox = Inboxes { control, readers };
        let (notices, _ui) = crossbeam_channel::unbounded();
        let config = LobbyConfig::new("leader");
        let mut hub = Hub::new(config, notices, events.clone(), None).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut members = Vec::new();
        for i in 0..PASS_CHUNK + 8 {
            let member = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            let conn = MemberConn::new(server, "member", Trace::off()).unwrap();
            hub.admit(format!("m{i}"), None, None, conn);
            member
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            members.push(BufReader::new(member));
        }
        assert_eq!(hub.flush(&inbox), None);

        hub.handle(Event::Say("one".into()));
        // Arrives while the pass is under way: the hub sees it after serving
        // its first `PASS_CHUNK` members.
        control_tx.send(Event::Say("two".into())).unwrap();
        assert_eq!(hub.flush(&inbox), None);
        for (i, member) in members.iter_mut().enumerate() {
            assert_eq!(next_msg(member), "MSG leader one", "m{i}");
            if i < PASS_CHUNK {
                nothing_more(member);
            } else {
                assert_eq!(
                    next_msg(member),
                    "MSG leader two",
                    "m{i}, served after it came"
                );
            }
        }
        let later = Instant::now() + Duration::from_secs(60);
        assert!(
            hub.wake_at(later) <= Instant::now(),
            "the next pass must come at once"
        );

        assert_eq!(hub.flush(&inbox), None);
        for (i, member) in members.iter_mut().enumerate().take(PASS_CHUNK) {
            assert_eq!(next_msg(member), "MSG leader two", "m{i}");
        }
        assert!(hub.wake_at(later) > Instant::now(), "nothing left to send");
        hub.finish(CloseReason::from("SHUTDOWN"), inbox);
    }
}
