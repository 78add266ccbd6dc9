//! Who is in the lobby: admitting a newcomer (or a member who came back),
//! starting its reader thread, and removing members once the event that
//! doomed them is handled, telling the others and the leader.
//!
//! This file owns the membership map's inserts and removals; only the hub
//! thread calls it. It must never wait on a member's socket: a refused
//! newcomer gets one best-effort line, and a removed member one last flush.

use std::mem;
use std::net::{Shutdown, SocketAddr};
use std::thread;
use std::time::Instant;

use crate::conn::{self, MemberConn, Stream};
use crate::wire::{CloseReason, ToLeader, ToMember};

use super::super::Notice;
use super::super::member::{
    Exit, Member, MemberId, encode, prepare, read_member, send_nonblocking,
};
use super::super::rules::Asks;
use super::{Hub, succession};

impl Hub {
    pub(super) fn names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.members.len() + 1);
        names.push(self.config.leader.clone());
        names.extend(self.members.values().map(|m| m.name.clone()));
        names
    }

    pub(super) fn admit(&mut self, name: String, chat_addr: Option<SocketAddr>, conn: MemberConn) {
        self.admit_as(name, chat_addr, conn, None);
    }

    /// Admits a newcomer, or (`back`) a member who came back with the last
    /// message it has.
    pub(super) fn admit_as(
        &mut self,
        name: String,
        chat_addr: Option<SocketAddr>,
        mut conn: MemberConn,
        back: Option<succession::Comeback>,
    ) {
        conn.set_peer(&name);
        conn.set_trace(self.config.trace);
        let (reader, writer) = conn.into_split();
        if self.refuse_taken(&name, &writer) {
            return;
        }
        let writer_stream = writer.get_ref();
        // A socket that cannot even take its options is already broken;
        // dropping it closes the connection before anyone hears of it.
        if prepare(writer_stream).is_err() {
            let _ = writer_stream.shutdown(Shutdown::Both);
            return;
        }
        let Some(id) = self.start_reader(reader) else {
            // Without a reader the member could never speak or be noticed
            // leaving, so it is better not admitted at all.
            let _ = writer.get_ref().shutdown(Shutdown::Both);
            return;
        };
        self.join_finished_readers();

        self.members.insert(
            id,
            Member {
                name: name.clone(),
                chat_addr,
                writer,
                out: Vec::new(),
                doomed: false,
                last_heard: Instant::now(),
                last_sent: Instant::now(),
                asks: Asks::default(),
            },
        );
        self.greet(id, name, chat_addr, back);
    }

    /// Closes the connection of a newcomer whose name is taken, with
    /// `CLOSED DUPLICATE`; false if the name is free.
    fn refuse_taken(&self, name: &str, writer: &conn::Writer<Stream, ToMember>) -> bool {
        let taken = name == self.config.leader || self.members.values().any(|m| m.name == name);
        if !taken {
            return false;
        }
        let mut bytes = Vec::new();
        writer.queue(
            &encode(&ToMember::Closed(CloseReason::Duplicate)),
            &mut bytes,
        );
        // One best-effort send: a fresh socket has room for one short
        // line, and an invitee that is already gone needs no answer.
        let _ = send_nonblocking(writer.get_ref(), &bytes);
        let _ = writer.get_ref().shutdown(Shutdown::Both);
        true
    }

    /// Starts the reader thread of the member about to be admitted as
    /// `name`; returns its id, or `None` if the thread could not start.
    fn start_reader(&mut self, reader: conn::Reader<Stream, ToLeader>) -> Option<MemberId> {
        let id = self.next_id;
        self.next_id += 1;
        let events = self.events.clone();
        let handle = thread::Builder::new()
            .name(format!("lobby-reader-{id}"))
            .spawn(move || read_member(id, reader, events))
            .ok()?;
        self.readers.push(handle);
        Some(id)
    }

    /// Tells a member just admitted who is here and what was said (or, in a
    /// lobby that can outlive its leader, welcomes it with its credential),
    /// and tells the others and the leader it joined.
    fn greet(
        &mut self,
        id: MemberId,
        name: String,
        chat_addr: Option<SocketAddr>,
        back: Option<succession::Comeback>,
    ) {
        let everyone = ToMember::Members(self.names());
        self.send_to(id, &everyone);
        if self.config.succession.is_some() {
            let announce = !back.as_ref().is_some_and(|b| b.replaced);
            self.welcome(id, &name, chat_addr, back);
            if announce {
                self.notify(Notice::Joined(name));
            }
            return;
        }
        // Half the backlog limit: the rest is room for the live lines that
        // follow while the newcomer reads its history.
        let earlier = self.history.replay(self.config.max_queued_bytes / 2);
        for line in &earlier {
            self.send_to(id, line);
        }
        self.broadcast(&ToMember::Joined(name.clone()), Some(id));
        self.notify(Notice::Joined(name));
    }

    /// Removes every doomed member. Telling the others may doom more of them,
    /// so this goes on until nobody is left to remove.
    pub(super) fn reap(&mut self) {
        while let Some((id, exit)) = self.doomed.pop() {
            let Some(mut member) = self.members.remove(&id) else {
                continue;
            };
            // A last chance for what is queued, such as the ERR that says why
            // an over-long line ended the connection. A dropped member is not
            // reading, so this cannot block anyone.
            let _ = member.flush();
            // Shutting down wakes the member's reader thread, which then
            // ends; it is joined later.
            let _ = member.writer.get_ref().shutdown(Shutdown::Both);
            if exit == Exit::Replaced {
                // Nobody else sees it go: the same member is already back.
                continue;
            }
            self.unseat(&member.name, &exit);
            if let Exit::Kicked(reason) = &exit {
                // Members that know `KICKED` learn why; the `LEFT` after it
                // keeps the others' member lists right.
                let kicked = ToMember::Kicked {
                    name: member.name.clone(),
                    reason: reason.clone(),
                };
                self.broadcast(&kicked, None);
            }
            self.broadcast(&ToMember::Left(member.name.clone()), None);
            self.notify(match exit {
                Exit::Left | Exit::Lost | Exit::Replaced => Notice::Left(member.name),
                Exit::Dropped => Notice::Dropped(member.name),
                Exit::Silent => Notice::Silent(member.name),
                Exit::TooLong => Notice::TooLong(member.name),
                Exit::Kicked(reason) => Notice::Kicked {
                    name: member.name,
                    reason,
                },
            });
        }
    }

    /// Joins the reader threads that have already ended, so the list of
    /// handles does not grow with every member who ever came and went.
    pub(super) fn join_finished_readers(&mut self) {
        let (finished, running) = mem::take(&mut self.readers)
            .into_iter()
            .partition::<Vec<_>, _>(|reader| reader.is_finished());
        self.readers = running;
        for reader in finished {
            let _ = reader.join();
        }
    }
}
