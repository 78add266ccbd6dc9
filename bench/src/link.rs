//! `Security` and `connect`: the one place where the load opens a
//! connection, in plain text or over TLS 1.3, as p2pchat's own peers do
//! (`p2pchat::crypto::connect` with the key pinned by fingerprint, and the
//! client's key when the server asks for one). Every load generator gets
//! its connections from here as a `Link`, a `p2pchat::conn::Stream` split
//! into its two halves; none opens a socket of its own.
//!
//! It never falls back to plain text: a TLS server that presents another
//! key than the one pinned is a failed connection.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use p2pchat::conn::{ReadHalf, Stream, Transport, WriteHalf};
use p2pchat::crypto::{self, Fingerprint, HandshakeError, ServerKey, TlsIdentity};

use crate::BenchError;

/// How long a connection (and its TLS handshake) may take on loopback,
/// even on a machine busy with other work.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How the load's clients talk to the server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Lines in the clear (p2pchat's `--plaintext`, IRC on 6667).
    Plain,
    /// TLS 1.3 with the server key of this fingerprint, and no other.
    Tls(Fingerprint),
}

impl Security {
    pub fn is_tls(self) -> bool {
        matches!(self, Security::Tls(_))
    }

    /// `"tls"` or `"plain"`, for reports.
    pub fn label(self) -> &'static str {
        match self {
            Security::Plain => "plain",
            Security::Tls(_) => "tls",
        }
    }
}

/// One connection of the load, in halves that share its one socket: the
/// plaintext is read from `read` and written to `write`, whatever the
/// wire carries. `read.socket()` is the socket, for polling, timeouts and
/// shutting down.
pub(crate) struct Link {
    pub(crate) read: ReadHalf,
    pub(crate) write: WriteHalf,
}

/// Connects to `addr` as `security` says, presenting `identity` if the
/// server asks for a client key (a lobby's leader does). Blocking, with
/// Nagle off, under `CONNECT_TIMEOUT`; the handshake is complete before
/// this returns.
pub(crate) fn connect(
    addr: SocketAddr,
    security: Security,
    identity: Option<&TlsIdentity>,
) -> Result<Link, BenchError> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let tcp = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
    tcp.set_nodelay(true)?;
    let stream = match security {
        Security::Plain => Stream::from(tcp),
        Security::Tls(server) => {
            let config = crypto::client_config(ServerKey::pinned(server), identity)
                .map_err(|err| BenchError::Setup(format!("TLS configuration: {err}")))?;
            crypto::connect(tcp, config, deadline)
                .map(Stream::from)
                .map_err(|err: HandshakeError| BenchError::Setup(format!("TLS to {addr}: {err}")))?
        }
    };
    let (read, write) = stream.split()?;
    Ok(Link { read, write })
}
