//! The registry server: accounts, presence, and the registry side of the
//! protocol. It owns the registry's listener, its connections and its SQLite
//! file. It must never hold a store while a password is hashed (hashes run on
//! the few threads of `password::Hasher`), never let the hub wait on a disk
//! write, never let a thread other than a connection's own write its socket,
//! and never let anything that came from a socket panic a thread. Its files
//! and threads are mapped in docs/ARCHITECTURE.md.

mod accounts;
mod admission;
mod answers;
mod config;
mod connection;
mod event;
mod hub;
mod presence;
mod server;
mod throttle;
mod tickets;

pub use config::{
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_JOIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_INVITES_PER_USER, DEFAULT_MAX_PER_ADDRESS, DEFAULT_PRESENCE_BUSY_TIMEOUT,
    DEFAULT_REGISTRY_HELLO_TIMEOUT, DEFAULT_REGISTRY_PORT, DEFAULT_TICKET_TTL, RegistrationLimit,
    RegistryConfig, RegistryTls, ServerError, ThrottleConfig, key_dir_beside,
};
pub use server::{Server, Stopper};
