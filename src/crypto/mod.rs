//! Keys and encryption: TLS 1.3 streams for a thread per connection, keys
//! pinned by fingerprint instead of certificate authorities, private
//! messages sealed to their recipient, and a proof of a seat's key for
//! plain-text lobbies. The building blocks only: the registry, the client,
//! the peer and the lobby decide when to use them.
//!
//! It must never fall back to plain text in silence, never accept a pinned
//! key's mismatch, and never log or show a private key. What each part
//! protects, and what it does not, is said at the top of its file.
//!
//! `seal` and `proof` are reached by their path (`crypto::seal::open`,
//! `crypto::proof::verify`), since their functions' names say little alone.

mod config;
mod files;
mod handshake;
mod identity;
mod incoming;
mod keys;
mod pins;
pub mod proof;
mod provider;
pub mod seal;
mod sniff;
mod stream;
mod verify;

#[cfg(test)]
mod loopback_tests;

pub use config::{ClientAuth, client_config, server_config};
pub use files::{PinsFileError, load_pins, save_pins};
pub use handshake::{HandshakeError, accept, accept_aside, connect};
pub use identity::{Identity, IdentityError, TlsIdentity};
pub use keys::{Fingerprint, IdentityKey, KeyError, PeerKey, SealKey, SigningKey};
pub use pins::{Pin, Pins, PinsError, PinsProblem};
pub use sniff::{Opening, chat_port_notice, plain_text_notice, refuse_plain_text, sniff};
pub use stream::{TlsReader, TlsStream, TlsWriter};
pub use verify::{AnyClientKey, KeyChanged, ServerKey};
