//! The one crypto provider every TLS configuration, certificate and
//! signature check uses: ring's, the only one that builds for
//! `x86_64-pc-windows-gnu` without cmake and nasm. It owns nothing else and
//! imports no sibling, so the modules that need it sit above it.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// The ring provider: X25519 key exchange, ChaCha20-Poly1305 and AES-GCM,
/// Ed25519, ECDSA and RSA signatures.
pub(super) fn provider() -> Arc<CryptoProvider> {
    // rustls deprecates ring's provider because it has no post-quantum key
    // exchange; that one needs aws-lc-rs, which does not build for
    // x86_64-pc-windows-gnu without cmake and nasm. X25519 it is.
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}
