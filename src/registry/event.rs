//! What the hub is told, and what it shares with a connection's thread:
//! `RegistryEvent`, each request's event carrying its reply channel, and
//! the `Socket` the hub may shut, leaving a `Bye` beside it. Connection
//! threads and the sweeper depend on this file, not on the hub.

use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};

use crossbeam_channel::{Receiver, Sender};

use super::answers::{
    AwayRefused, CheckRefused, InviteFailed, JoinRefused, NameRefused, SearchRefused,
    TooManyRegistrations, Vouched,
};
use crate::db::Account;
use crate::wire::{ByeReason, Contact, KeyWord};

/// What connection threads and the sweeper tell the hub.
pub(super) enum RegistryEvent {
    /// A connection opened.
    Connected {
        id: u64,
        addr: SocketAddr,
        socket: Arc<Socket>,
    },
    /// A complete line arrived on a connection (`busy`: its answer is
    /// being worked out), or its answer went out (`busy` false).
    Activity {
        id: u64,
        busy: bool,
    },
    /// Is `name` free to register? Asked from `ip`, which may ask only so
    /// often.
    NameFree {
        name: String,
        ip: IpAddr,
        reply: Sender<Result<(), NameRefused>>,
    },
    /// May a REGISTER from `ip` have its password hashed?
    MayRegister {
        ip: IpAddr,
        reply: Sender<Result<(), TooManyRegistrations>>,
    },
    /// Look up the stored hash for a JOIN from `ip`, unless JOINs for
    /// that name or from that address are cooling down. The attempt counts
    /// as a failure until the `Join` that follows a good password.
    Account {
        name: String,
        ip: IpAddr,
        reply: Sender<Result<Option<Account>, JoinRefused>>,
    },
    /// A JOIN's password did not check out (or nobody has the name): the
    /// hub logs it, never with the password. No reply.
    JoinFailed {
        name: String,
        ip: IpAddr,
    },
    /// Issue a ticket for connection `id`'s user to invite `name`.
    Invite {
        id: u64,
        name: String,
        reply: Sender<Result<String, InviteFailed>>,
    },
    /// Check and use up a ticket shown to connection `id`'s user.
    Check {
        id: u64,
        ticket: String,
        reply: Sender<Result<Vouched, CheckRefused>>,
    },
    /// The password checked out: mark `name` online on this connection.
    /// `done` is dropped once the database write has been tried.
    Join {
        id: u64,
        ip: IpAddr,
        name: String,
        port: u16,
        key: Option<KeyWord>,
        reply: Sender<Result<Contact, JoinRefused>>,
        done: Sender<()>,
    },
    List {
        reply: Sender<Vec<Contact>>,
    },
    Search {
        name: String,
        reply: Sender<Result<Contact, SearchRefused>>,
    },
    /// The user of connection `id` is away (`Some`, with its text) or back.
    Away {
        id: u64,
        away: Option<String>,
        reply: Sender<Result<(), AwayRefused>>,
    },
    /// The user of connection `id` logs out; `done` as for `Join`.
    Logout {
        id: u64,
        reply: Sender<()>,
        done: Sender<()>,
    },
    /// The connection closed (after LOGOUT, an error, or a kick).
    Disconnected {
        id: u64,
    },
    /// Time to close idle connections and forget what has expired.
    Sweep,
    /// The server is stopping.
    Shutdown,
}

/// A connection's socket, shared by its thread and the hub. The hub only
/// ever shuts it down, after leaving the reason in `bye`; the thread is its
/// only reader and writer.
pub(super) struct Socket {
    pub(super) stream: Arc<TcpStream>,
    /// Why the hub ended the connection; the first reason given stands.
    pub(super) bye: OnceLock<Bye>,
}

/// What the hub leaves a connection it ends.
pub(super) struct Bye {
    pub(super) reason: ByeReason,
    /// Dropped once the user's going offline has been tried on disk, so
    /// that `BYE` comes after it, as `OK BYE` does.
    pub(super) written: Receiver<()>,
}

impl Socket {
    pub(super) fn new(stream: Arc<TcpStream>) -> Socket {
        Socket {
            stream,
            bye: OnceLock::new(),
        }
    }

    /// Leaves `reason` for the connection's thread and wakes it: on unix,
    /// shutting the read side ends the thread's blocked read at once;
    /// elsewhere the thread also finds the reason at its next read timeout
    /// (see `Connection::prepare`).
    pub(super) fn close(&self, bye: Bye) {
        let _ = self.bye.set(bye);
        let _ = self.stream.shutdown(Shutdown::Read);
    }
}
