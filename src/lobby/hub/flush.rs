//! The hub's output: queuing a line for one member or for all, the flush
//! pass that gives every member's backlog to the kernel (picking up events
//! along the way), and the last flush when the lobby ends.
//!
//! This file owns when bytes leave the hub. It must never block on a
//! member's socket: every send is non-blocking, and a member that cannot keep
//! up is dropped by `queue_or_drop`, not waited for.

use std::mem;
use std::net::Shutdown;
use std::time::Instant;

use crate::wire::{CloseReason, ToMember};

use super::super::Notice;
use super::super::member::{Exit, MemberId, doom, encode, encode_into, queue_or_drop};
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

    /// Queues `line` for one member.
    pub(super) fn send_to(&mut self, id: MemberId, line: &ToMember) {
        encode_into(&mut self.scratch, line);
        self.queued_since_pass += self.scratch.len();
        let now = Instant::now();
        if let Some(member) = self.members.get_mut(&id) {
            queue_or_drop(
                id,
                member,
                &self.scratch,
                &self.config,
                &mut self.doomed,
                now,
            );
        }
    }

    /// Queues `line` for every member but `except`, encoding it only once.
    pub(super) fn broadcast(&mut self, line: &ToMember, except: Option<MemberId>) {
        encode_into(&mut self.scratch, line);
        self.queued_since_pass += self.scratch.len();
        let now = Instant::now();
        for (&id, member) in &mut self.members {
            if Some(id) == except {
                continue;
            }
            queue_or_drop(
                id,
                member,
                &self.scratch,
                &self.config,
                &mut self.doomed,
                now,
            );
        }
    }

    /// Gives every member's backlog to the kernel, one send per member, and
    /// removes the members whose connection broke. Every `PASS_CHUNK`
    /// members it handles the events that arrived meanwhile, so their lines
    /// go out with the rest of this pass; returns the reason if one of them
    /// closes the lobby.
    pub(super) fn flush(&mut self, inbox: &Inboxes) -> Option<CloseReason> {
        self.unsent = false;
        loop {
            let mut backlog = false;
            let mut picked_up = 0;
            self.queued_since_pass = 0;
            let mut pass = mem::take(&mut self.pass);
            pass.clear();
            pass.extend(self.members.keys().copied());
            for (served, id) in pass.iter().enumerate() {
                if served > 0 && served % PASS_CHUNK == 0 {
                    while picked_up < BATCH_LIMIT && !self.batch_full() {
                        let Some(event) = self.next_ready(inbox) else {
                            break;
                        };
                        // What this queues for members already served goes
                        // out in the next pass, which comes at once.
                        self.unsent = true;
                        picked_up += 1;
                        if let Some(reason) = self.handle(event) {
                            // Those whose connection broke earlier in this
                            // pass still leave before the lobby closes.
                            self.reap();
                            self.pass = pass;
                            return Some(reason);
                        }
                    }
                }
                // A member removed by an event of this pass is skipped.
                let Some(member) = self.members.get_mut(id) else {
                    continue;
                };
                if member.flush().is_err() {
                    doom(*id, member, Exit::Lost, &mut self.doomed);
                } else if !member.out.is_empty() {
                    backlog = true;
                }
            }
            self.pass = pass;
            self.backlog = backlog;
            if self.doomed.is_empty() {
                return None;
            }
            // Removing members queues `LEFT` for the others, which the next
            // round sends; every round removes someone, so this ends.
            self.reap();
        }
    }

    /// Ends the lobby: `CLOSED` to everyone, a bounded wait for it to be
    /// delivered, then every connection shut down and every reader joined.
    pub(super) fn finish(mut self, reason: CloseReason, inbox: Inboxes) -> Vec<Notice> {
        let bytes = if self.handed_over {
            // `HANDOVER` was the last line; the members go on elsewhere.
            Vec::new()
        } else {
            encode(&ToMember::Closed(reason))
        };
        for member in self.members.values_mut() {
            // `CLOSED` goes out even past the backlog limit: it is short, and
            // it is the line that tells the member why the lobby ended.
            if !bytes.is_empty() {
                member.writer.queue(&bytes, &mut member.out);
            }
        }
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
                break;
            }
            // Waiting on the inbox rather than sleeping also keeps the reader
            // threads from blocking on a full channel; what they send now no
            // longer matters, as the lobby is closing.
            let wait = self.config.retry_interval.min(deadline - now);
            let _ = inbox.readers.recv_timeout(wait);
        }
        for member in self.members.values() {
            let _ = member.writer.get_ref().shutdown(Shutdown::Both);
        }
        // Dropping the only receiver makes every send fail, so a reader
        // blocked on a full channel wakes up and ends too.
        drop(inbox);
        for reader in self.readers.drain(..) {
            // A reader that panicked has nothing left for us to clean up.
            let _ = reader.join();
        }
        self.deliver_notices();
        self.unnoticed.into()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    use std::net::TcpStream;
    use std::time::Duration;

    use super::super::{Event, Inboxes};
    use super::*;
    use crate::conn::MemberConn;
    use crate::lobby::CHANNEL_CAPACITY;
    use crate::lobby::LobbyConfig;
    use crate::trace::Trace;

    #[test]
    fn a_line_that_arrives_during_a_pass_reaches_the_members_not_yet_served() {
        let members = PASS_CHUNK + 8;
        let (events, readers) = crossbeam_channel::bounded(CHANNEL_CAPACITY);
        let (_control_tx, control) = crossbeam_channel::unbounded();
        let inbox = Inboxes { control, readers };
        let (notices, _ui) = crossbeam_channel::unbounded();
        let mut hub = Hub::new(LobbyConfig::new("leader"), notices, events.clone());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut clients = Vec::new();
        for i in 0..members {
            let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            let conn = MemberConn::new(server, "member", Trace::off()).unwrap();
            hub.admit(format!("m{i}"), None, conn);
            client
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            clients.push(BufReader::new(client));
        }
        assert_eq!(hub.flush(&inbox), None);
        assert!(!hub.unsent);

        hub.handle(Event::Say("one".into()));
        // Arrives while the pass is under way: the hub sees it after serving
        // its first `PASS_CHUNK` members.
        events.send(Event::Say("two".into())).unwrap();
        assert_eq!(hub.flush(&inbox), None);
        let left: Vec<usize> = hub.members.values().map(|m| m.out.len()).collect();
        let two = b"MSG leader two\n".len();
        assert_eq!(
            left[..PASS_CHUNK],
            vec![two; PASS_CHUNK],
            "served before it came"
        );
        assert_eq!(left[PASS_CHUNK..], vec![0; 8], "served after it came");
        assert!(hub.unsent, "the next pass must come at once");

        assert_eq!(hub.flush(&inbox), None);
        assert!(!hub.unsent);
        assert!(hub.members.values().all(|m| m.out.is_empty()));
        for (i, client) in clients.iter_mut().enumerate() {
            let msgs: Vec<String> = client
                .lines()
                .map(|line| line.unwrap())
                .filter(|line| line.starts_with("MSG "))
                .take(2)
                .collect();
            assert_eq!(msgs, ["MSG leader one", "MSG leader two"], "m{i}");
        }
        hub.finish(CloseReason::from("SHUTDOWN"), inbox);
    }
}
