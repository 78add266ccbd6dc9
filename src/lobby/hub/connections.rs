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

use crate::conn::{self, MemberConn, Stream};
use crate::wire::{Rejoin, ToLeader};

use super::super::member::{Member, MemberId, prepare, read_member};
use super::super::roster;
use super::super::state::LobbyEvent;
use super::Hub;

impl Hub {
    /// A newcomer whose `OK` was just read.
    pub(super) fn admit(&mut self, name: String, chat_addr: Option<SocketAddr>, conn: MemberConn) {
        let Some(id) = self.connect(&name, conn) else {
            return;
        };
        // The rules' randomness, drawn here: a newcomer the leader can
        // reach gets a credential in a lobby that can outlive its leader.
        let wants_secret = self.config.succession.is_some() && chat_addr.is_some();
        let secret = wants_secret.then(roster::secret).and_then(Result::ok);
        self.feed(LobbyEvent::Admit {
            id,
            name,
            chat_addr,
            secret,
        });
    }

    /// A member who comes back with `claim`, on a connection it opened.
    pub(super) fn rejoin(&mut self, claim: Rejoin, conn: MemberConn) {
        let Some(id) = self.connect(&claim.name, conn) else {
            return;
        };
        self.feed(LobbyEvent::Rejoin { id, claim });
    }

    /// Gets a connection ready for the hub: its socket's options, its reader
    /// thread, its output buffer. `None` if it is broken already, or no
    /// thread could start; then it is closed before anyone hears of it.
    fn connect(&mut self, name: &str, mut conn: MemberConn) -> Option<MemberId> {
        // Traced under the member's name, as the leader knows it.
        conn.set_peer(name);
        conn.set_trace(self.config.trace);
        let (reader, writer) = conn.into_split();
        // A socket that cannot even take its options is already broken;
        // without a reader the member could never speak or be noticed
        // leaving, so it is better not admitted at all.
        let id = prepare(writer.get_ref())
            .ok()
            .and_then(|()| self.start_reader(reader));
        let Some(id) = id else {
            let _ = writer.get_ref().shutdown(Shutdown::Both);
            return None;
        };
        self.join_finished_readers();
        let member = Member {
            writer,
            out: Vec::new(),
            doomed: false,
        };
        self.members.insert(id, member);
        Some(id)
    }

    /// Starts the reader thread of a new connection; returns its id, or
    /// `None` if the thread could not start.
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
