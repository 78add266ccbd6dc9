//! The registry server: accounts, presence, and the registry side of the
//! protocol.
//!
//! - `config`: `RegistryConfig`, `ThrottleConfig`, `RegistrationLimit`, the
//!   defaults, `ServerError`.
//! - `server`: `Server::bind`/`run`, the acceptor, the sweeper, `Stopper`.
//! - `admission`: how many connections the acceptor takes, in all and per
//!   address; a plain type.
//! - `connection`: one thread per client: reads requests, writes replies.
//! - `hub`: `RegistryHub`, the one owner of presence, sessions, throttles and
//!   tickets, fed `RegistryEvent`s.
//! - `accounts`: the thread that adds accounts, each synced to disk before
//!   its `OK REGISTERED`, off the hub's path.
//! - `presence`: the thread that brings the database's presence up to date
//!   with the hub's memory, coalesced and retried, off the hub's path.
//! - `throttle`: the limits on failed JOINs and on REGISTERs, plain types
//!   taking `now`; `Site`, an address as the limits count it.
//! - `tickets`: invitation tickets, a plain type taking `now` and randomness.
//!
//! Threads: the acceptor (the caller of `Server::run`), one connection thread
//! per client, the hashing threads, the sweeper, the hub, the account writer
//! and the presence writer. Connection threads and the sweeper send the hub
//! events, and wait for an answer where the event carries a reply channel.
//! Each connection thread is the only writer of its socket: when the hub has
//! to end a connection, it leaves the reason beside the socket and wakes the
//! thread. Three `Store` connections, each with one owner: the hub (reads
//! accounts), the account writer, the presence writer.
//!
//! This module must never hold a store while a password is hashed (hashes
//! run on the few threads of `password::Hasher`), never let the hub wait on
//! a disk write, and never let anything that came from a socket panic a
//! thread.

mod accounts;
mod admission;
mod answers;
mod config;
mod connection;
mod hub;
mod presence;
mod server;
mod throttle;
mod tickets;

pub use config::{
    DEFAULT_JOIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_INVITES_PER_USER,
    DEFAULT_MAX_PER_ADDRESS, DEFAULT_REGISTRY_HELLO_TIMEOUT, DEFAULT_REGISTRY_PORT,
    DEFAULT_TICKET_TTL, RegistrationLimit, RegistryConfig, ServerError, ThrottleConfig,
};
pub use server::{Server, Stopper};
