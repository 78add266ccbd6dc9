//! The rustls configurations both binaries use: TLS 1.3 only, the ring
//! provider, no session resumption (every connection presents and proves
//! its key), and `SSLKEYLOGFILE` honoured so Wireshark can decrypt a
//! capture for a class. The key checks are `verify.rs`'s.
//!
//! It must never enable TLS 1.2 or a certificate authority's trust, and
//! never fall back to plain text: a caller that cannot build a
//! configuration stops.

use std::sync::Arc;

use rustls::version::TLS13;
use rustls::{ClientConfig, KeyLogFile, ServerConfig};

use super::identity::TlsIdentity;
use super::provider::provider;
use super::verify::{AnyClientKey, ServerKey};

/// Whether a server asks its clients for a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Clients prove who they are otherwise (a password).
    None,
    /// The registry: a client may present its user key, which `JOIN`'s key
    /// must then match; one that has not chosen a user yet has none.
    Optional,
    /// A peer's chat listener: both ends are keys.
    Required,
}

/// A server's configuration: its own identity, and whether it asks clients
/// for theirs.
pub fn server_config(
    identity: &TlsIdentity,
    clients: ClientAuth,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_protocol_versions(&[&TLS13])?;
    let builder = match clients {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional => {
            builder.with_client_cert_verifier(Arc::new(AnyClientKey::optional()))
        }
        ClientAuth::Required => builder.with_client_cert_verifier(Arc::new(AnyClientKey::new())),
    };
    let mut config = builder.with_single_cert(identity.certs(), identity.key())?;
    config.send_tls13_tickets = 0;
    config.key_log = Arc::new(KeyLogFile::new());
    Ok(Arc::new(config))
}

/// A client's configuration: which server key it accepts, and its own
/// identity if the server asks for one.
pub fn client_config(
    server: ServerKey,
    identity: Option<&TlsIdentity>,
) -> Result<Arc<ClientConfig>, rustls::Error> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(server));
    let mut config = match identity {
        Some(identity) => builder.with_client_auth_cert(identity.certs(), identity.key())?,
        None => builder.with_no_client_auth(),
    };
    config.resumption = rustls::client::Resumption::disabled();
    config.key_log = Arc::new(KeyLogFile::new());
    Ok(Arc::new(config))
}
