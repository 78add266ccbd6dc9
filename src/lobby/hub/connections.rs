//! A new connection's I/O: its socket made ready for the hub's sends, its
//! reader thread started, its output buffer opened; then the rules decide
//! whether it is admitted (`LobbyEvent::Admit`, `LobbyEvent::Rejoin`), and
//! one that is not gets its one line and is closed like any dropped member.
//!
//! This file owns the membership map's inserts and the reader threads; only
//! the hub thread calls it. It must never wait on a member's socket.

use std::mem;
use std::net::{Shutdown, SocketAddr};
use std::thread;

use crate::conn::{self, MemberConn, Outbox, ReadHalf};
use crate::wire::{Rejoin, ToLeader};

use super::super::member::{Member, MemberId, prepare, read_member};
use super::super::roster::Proven;
use super::super::state::LobbyEvent;
use super::Hub;
use crate::crypto::PeerKey;

impl Hub {
    /// A newcomer whose `OK` was just read. Its name is the one the leader
    /// invited, at the address the registry gave for it, so its trace says
    /// that name from the start.
    pub(super) fn admit(
        &mut self,
        name: String,
        chat_addr: Option<SocketAddr>,
        key: Option<PeerKey>,
        conn: MemberConn,
    ) {
        let Some((id, reader)) = self.connect(&name, conn) else {
            return;
        };
        if !self.start_reader(id, reader) {
            self.hang_up(id);
            return;
        }
        self.feed(LobbyEvent::Admit {
            id,
            name,
            chat_addr,
            key,
        });
    }

    /// A member who comes back with `claim`, on a connection it opened,
    /// having proven a key as `proven` says. The name is only a claim until
    /// the rules have checked it, so until then the connection is traced by
    /// its address; its reader starts once the rules have decided, under
    /// the name if they took it back. One they turned away has had its one
    /// line and been closed by then, and needs no reader.
    pub(super) fn rejoin(&mut self, claim: Rejoin, proven: Proven, conn: MemberConn) {
        let addr = match conn.socket().peer_addr() {
            Ok(addr) => addr.to_string(),
            Err(_) => return,
        };
        let name = claim.name.clone();
        let Some((id, mut reader)) = self.connect(&addr, conn) else {
            return;
        };
        self.feed(LobbyEvent::Rejoin { id, claim, proven });
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        member.writer.set_peer(&name);
        reader.set_peer(&name);
        if !self.start_reader(id, reader) {
            self.hang_up(id);
            self.feed(LobbyEvent::Gone(id));
        }
    }

    /// Gets a connection ready for the hub: its socket's options, its trace
    /// label, its output buffer; the reader half is for `start_reader`.
    /// `None` if it is broken already; then it is closed before anyone
    /// hears of it.
    fn connect(
        &mut self,
        label: &str,
        mut conn: MemberConn,
    ) -> Option<(MemberId, conn::Reader<ReadHalf, ToLeader>)> {
        conn.set_peer(label);
        conn.set_trace(self.config.trace);
        let (reader, writer) = conn.into_split();
        // A socket that cannot even take its options is already broken.
        if prepare(writer.get_ref().socket()).is_err() {
            let _ = writer.get_ref().socket().shutdown(Shutdown::Both);
            return None;
        }
        self.join_finished_readers();
        let id = self.next_id;
        self.next_id += 1;
        let member = Member {
            writer,
            out: Outbox::new(),
            doomed: false,
        };
        self.members.insert(id, member);
        Some((id, reader))
    }

    /// Starts the reader thread of member `id`; false if the thread could
    /// not start. Without a reader the member could never speak or be
    /// noticed leaving, so the caller then hangs up.
    fn start_reader(&mut self, id: MemberId, reader: conn::Reader<ReadHalf, ToLeader>) -> bool {
        let events = self.events.clone();
        let spawned = thread::Builder::new()
            .name(format!("lobby-reader-{id}"))
            .spawn(move || read_member(id, reader, events));
        match spawned {
            Ok(handle) => {
                self.readers.push(handle);
                true
            }
            Err(_) => false,
        }
    }

    /// Joins the reader threads that have already ended, so the list of
    /// handles does not grow with every member who ever came and went.
    fn join_finished_readers(&mut self) {
        let (finished, running) = mem::take(&mut self.readers)
            .into_iter()
            .partition::<Vec<_>, _>(|reader| reader.is_finished());
        self.readers = running;
        for reader in finished {
            let _ = reader.join();
        }
    }
}
