//! Who a TLS handshake accepts: keys pinned by fingerprint in place of a
//! certificate authority. `ServerKey` is the client's check of the server:
//! exactly one expected key (`pinned`), failing with a `KeyChanged` the
//! caller can show, or any key on first contact (`trust_on_first_use`),
//! whose fingerprint the caller reads after the handshake and decides on
//! (`pins::Pin`). `AnyClientKey` is the server's check of a client for
//! mutual authentication: a certificate is required, and the caller reads
//! its key after the handshake and compares it to the key it expected.
//!
//! Signatures are always verified (the handshake's, with the ring
//! provider's algorithms): only the chain of trust is replaced by pinning.
//! Certificates' names and dates are not checked, on purpose: a key is who
//! a peer is. It does not protect a first contact (trust on first use), and
//! it must never accept a pinned key's mismatch.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme,
};

use super::keys::Fingerprint;

/// A server presented another key than the one pinned for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyChanged {
    pub expected: Fingerprint,
    pub presented: Fingerprint,
}

impl fmt::Display for KeyChanged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the key changed: expected {}, got {}",
            self.expected, self.presented
        )
    }
}

impl std::error::Error for KeyChanged {}

impl KeyChanged {
    /// The `KeyChanged` inside a rustls error, if that is what it is.
    pub fn within(err: &rustls::Error) -> Option<KeyChanged> {
        match err {
            rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => {
                inner.downcast_ref::<KeyChanged>().copied()
            }
            _ => None,
        }
    }
}

/// The client's check of the server's key.
#[derive(Debug)]
pub struct ServerKey {
    expected: Option<Fingerprint>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerKey {
    /// Accepts exactly the key with this fingerprint.
    pub fn pinned(expected: Fingerprint) -> ServerKey {
        ServerKey {
            expected: Some(expected),
            algorithms: algorithms(),
        }
    }

    /// Accepts any key; the caller reads the presented fingerprint after
    /// the handshake and sends nothing before it has decided on it.
    pub fn trust_on_first_use() -> ServerKey {
        ServerKey {
            expected: None,
            algorithms: algorithms(),
        }
    }
}

impl ServerCertVerifier for ServerKey {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = presented(end_entity)?;
        match self.expected {
            Some(expected) if expected != presented => Err(rustls::Error::InvalidCertificate(
                CertificateError::Other(OtherError(Arc::new(KeyChanged {
                    expected,
                    presented,
                }))),
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The server's check of a client: a certificate whose key signed the
/// handshake is required; which key it is, the caller decides afterwards.
#[derive(Debug)]
pub struct AnyClientKey {
    algorithms: WebPkiSupportedAlgorithms,
    mandatory: bool,
}

impl AnyClientKey {
    /// A certificate is required.
    pub fn new() -> AnyClientKey {
        AnyClientKey {
            algorithms: algorithms(),
            mandatory: true,
        }
    }

    /// A certificate is asked for, and one presented is checked, but a
    /// client may present none (the caller then sees no key).
    pub fn optional() -> AnyClientKey {
        AnyClientKey {
            algorithms: algorithms(),
            mandatory: false,
        }
    }
}

impl Default for AnyClientKey {
    fn default() -> AnyClientKey {
        AnyClientKey::new()
    }
}

impl ClientCertVerifier for AnyClientKey {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        presented(end_entity)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The fingerprint of a presented certificate, or rustls' error for one
/// that does not parse.
fn presented(end_entity: &CertificateDer<'_>) -> Result<Fingerprint, rustls::Error> {
    Fingerprint::of_certificate(end_entity)
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))
}

fn algorithms() -> WebPkiSupportedAlgorithms {
    super::provider::provider().signature_verification_algorithms
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::identity::Identity;

    fn verify(verifier: &ServerKey, identity: &Identity) -> Result<(), rustls::Error> {
        let name = ServerName::try_from("p2pchat").unwrap();
        verifier
            .verify_server_cert(&identity.tls().certs()[0], &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    #[test]
    fn a_pinned_key_passes_and_another_is_a_key_change() {
        let server = Identity::generate().unwrap();
        let stranger = Identity::generate().unwrap();
        let pinned = ServerKey::pinned(server.tls().fingerprint());
        assert_eq!(verify(&pinned, &server), Ok(()));
        let err = verify(&pinned, &stranger).unwrap_err();
        let changed = KeyChanged::within(&err).unwrap();
        assert_eq!(
            changed,
            KeyChanged {
                expected: server.tls().fingerprint(),
                presented: stranger.tls().fingerprint(),
            }
        );
        assert_eq!(
            changed.to_string(),
            format!(
                "the key changed: expected {}, got {}",
                server.tls().fingerprint(),
                stranger.tls().fingerprint()
            )
        );
        assert_eq!(verify(&ServerKey::trust_on_first_use(), &stranger), Ok(()));
        let garbage = CertificateDer::from(&b"not a certificate"[..]);
        let name = ServerName::try_from("p2pchat").unwrap();
        let err = pinned
            .verify_server_cert(&garbage, &[], &name, &[], UnixTime::now())
            .unwrap_err();
        assert_eq!(KeyChanged::within(&err), None);
        assert!(
            AnyClientKey::new()
                .verify_client_cert(&garbage, &[], UnixTime::now())
                .is_err()
        );
    }
}
