//! How a chat connection between two peers is made: plain text
//! (`--plaintext`, today's lab mode) or TLS 1.3 with both ends' keys
//! (`PeerTls`). Every peer-to-peer connection goes through here: the
//! inviter's and the rejoiner's `connect`, the chat listener's `accept`.
//!
//! Under TLS both ends prove their keys in the handshake, before the first
//! line: `connect` presents the user's key and accepts only the key it is
//! given (the one the registry vouched for, or a seat's); `accept` requires
//! a client certificate, and the caller compares its key
//! (`Stream::peer_key`) with the one it expects before it answers anything.
//! It must never fall back to plain text, and never hand out a stream whose
//! other end has not proved the key asked for.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::conn::Stream;
use crate::crypto::{self, HandshakeError, PeerKey, ServerKey};

use super::keys::Keyring;

/// The longest a TLS handshake with another peer may take: both ends are
/// programs, so it takes milliseconds unless something is wrong.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Plain text or TLS, for every chat connection of this peer.
#[derive(Clone)]
pub(super) enum PeerTls {
    /// `--plaintext`: anyone on the network can read and change the lines.
    Plain,
    /// TLS with the logged-in user's key.
    Tls(Arc<Keyring>),
}

/// Why a chat connection could not be made.
#[derive(Debug)]
pub(super) enum LinkError {
    Io(io::Error),
    /// Under TLS, no user is logged in yet: there is no key to show.
    NoKeys,
    /// Under TLS, no key is known for the peer to hold it to.
    NoKey(String),
    /// The other end presented another key than the one expected.
    WrongKey {
        expected: crypto::Fingerprint,
        presented: crypto::Fingerprint,
    },
    Handshake(HandshakeError),
    /// The other end spoke plain text (or nothing) at a TLS chat port.
    PlainText,
}

/// How long a plain-text caller is given to read the advice line.
const PLAIN_TEXT_LINGER: Duration = Duration::from_secs(2);

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Io(err) => write!(f, "{err}"),
            LinkError::NoKeys => f.write_str("you have no keys until you log in"),
            LinkError::NoKey(name) => write!(
                f,
                "the registry vouches for no key of {name}, so {name} cannot prove who it is"
            ),
            LinkError::WrongKey {
                expected,
                presented,
            } => write!(
                f,
                "it presented the key {presented}, not {expected}, the one vouched for: someone may be posing as it"
            ),
            LinkError::Handshake(err) => write!(f, "{err}"),
            LinkError::PlainText => f.write_str("it spoke plain text, not TLS"),
        }
    }
}

impl From<io::Error> for LinkError {
    fn from(err: io::Error) -> LinkError {
        LinkError::Io(err)
    }
}

impl From<HandshakeError> for LinkError {
    fn from(err: HandshakeError) -> LinkError {
        match err {
            HandshakeError::KeyChanged(changed) => LinkError::WrongKey {
                expected: changed.expected,
                presented: changed.presented,
            },
            err => LinkError::Handshake(err),
        }
    }
}

impl PeerTls {
    pub(super) fn is_tls(&self) -> bool {
        matches!(self, PeerTls::Tls(_))
    }

    /// Whether a user is logged in with keys to shake hands with (always,
    /// in plain text, where none are needed).
    pub(super) fn has_user(&self) -> bool {
        match self {
            PeerTls::Plain => true,
            PeerTls::Tls(keyring) => keyring.user().is_some(),
        }
    }

    /// Connects to the peer at `addr` within `timeout`. Under TLS it
    /// presents the user's key and accepts only `expected`; with none, any
    /// key, and the caller compares `Stream::peer_key` with what it expects
    /// before it sends a line (a rejoin, until seats carry keys).
    pub(super) fn connect(
        &self,
        addr: SocketAddr,
        timeout: Duration,
        expected: Option<&PeerKey>,
    ) -> Result<Stream, LinkError> {
        let keys = match self {
            PeerTls::Plain => return Ok(TcpStream::connect_timeout(&addr, timeout)?.into()),
            PeerTls::Tls(keyring) => keyring.user().ok_or(LinkError::NoKeys)?,
        };
        let server = match expected {
            Some(expected) => ServerKey::pinned(expected.identity.fingerprint()),
            None => ServerKey::trust_on_first_use(),
        };
        let config = crypto::client_config(server, Some(keys.identity.tls()))
            .map_err(|err| LinkError::Handshake(HandshakeError::Tls(err)))?;
        let deadline = Instant::now() + timeout;
        let tcp = TcpStream::connect_timeout(&addr, timeout)?;
        Ok(crypto::connect(tcp, config, deadline)?.into())
    }

    /// The handshake with a peer that connected to the chat listener, by
    /// `deadline`; under TLS its client certificate is required, and its key
    /// is the stream's `peer_key`, for the caller to compare.
    pub(super) fn accept(&self, tcp: TcpStream, deadline: Instant) -> Result<Stream, LinkError> {
        let keys = match self {
            PeerTls::Plain => return Ok(tcp.into()),
            PeerTls::Tls(keyring) => keyring.user().ok_or(LinkError::NoKeys)?,
        };
        // A person typing at this port with `nc` gets one readable line
        // saying what to do, as at the registry, and nothing else: the
        // line names no user and holds nothing the peer keeps.
        match crypto::sniff(&tcp, deadline)? {
            crypto::Opening::Tls => {}
            crypto::Opening::PlainText => {
                crypto::refuse_plain_text(&tcp, &crypto::chat_port_notice(), PLAIN_TEXT_LINGER)?;
                return Err(LinkError::PlainText);
            }
            crypto::Opening::Closed => return Err(LinkError::PlainText),
        }
        Ok(crypto::accept(tcp, keys.server.clone(), deadline)?.into())
    }
}

/// Whether the key a peer proved is the identity of `expected`; in plain
/// text (`proved` is none) there is nothing to compare.
pub(super) fn proved_key_is(
    proved: Option<crypto::IdentityKey>,
    expected: Option<&PeerKey>,
) -> Result<(), LinkError> {
    match (proved, expected) {
        (None, _) => Ok(()),
        (Some(proved), Some(expected)) if proved == expected.identity => Ok(()),
        (Some(proved), Some(expected)) => Err(LinkError::WrongKey {
            expected: expected.identity.fingerprint(),
            presented: proved.fingerprint(),
        }),
        (Some(_), None) => Err(LinkError::NoKey("that peer".into())),
    }
}
