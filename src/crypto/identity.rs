//! A user's or a registry's own keys on disk: `Identity::load_or_create`
//! keeps, in one folder (0700 on unix), an Ed25519 key (`tls-key.pem`,
//! PKCS#8), a self-signed certificate for it (`tls-cert.pem`) and an X25519
//! key for sealed messages (`seal-key.pem`, PKCS#8), each 0600 on unix.
//! `TlsIdentity::from_pem_files` reads one's own certificate and key
//! instead (`--tls-cert`, `--tls-key`).
//!
//! It protects the private keys from other local users by the files'
//! modes; it does not encrypt them at rest. The certificate carries no
//! trust: peers pin the key's fingerprint, so it is made for the key once
//! and never checked against a certificate authority. It must never print
//! or log a private key.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::files::{private_dir, read_private, write_private};
use super::keys::{Fingerprint, KeyError, PeerKey, SigningKey};
use super::seal::SealSecret;

const TLS_KEY_FILE: &str = "tls-key.pem";
const TLS_CERT_FILE: &str = "tls-cert.pem";
const SEAL_KEY_FILE: &str = "seal-key.pem";

/// The PKCS#8 (RFC 5208/8410) header of an X25519 private key; its 32
/// bytes follow. `openssl pkey` reads the file.
const X25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
];

/// What a certificate made here names: nothing checks it, the key is what counts.
const CERT_NAME: &str = "p2pchat";

/// Why one's own keys could not be loaded or made.
#[derive(Debug)]
pub enum IdentityError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// A file that is not what it should be (which, and why).
    Malformed {
        path: PathBuf,
        why: String,
    },
    /// The certificate is not for the private key beside it.
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
    },
    /// rcgen could not make a certificate.
    Certificate(String),
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            IdentityError::Malformed { path, why } => write!(f, "{}: {why}", path.display()),
            IdentityError::Mismatch { cert, key } => write!(
                f,
                "{} is not the certificate of the key in {}",
                cert.display(),
                key.display()
            ),
            IdentityError::Certificate(why) => write!(f, "cannot make a certificate: {why}"),
        }
    }
}

impl std::error::Error for IdentityError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IdentityError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A certificate chain and its private key, ready for a rustls
/// configuration, and the fingerprint others pin.
#[derive(Debug)]
pub struct TlsIdentity {
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    fingerprint: Fingerprint,
}

impl TlsIdentity {
    /// Reads one's own PEM files: the certificate chain (end entity first)
    /// and its private key (PKCS#8, SEC1 or PKCS#1; any key rustls' ring
    /// provider signs with).
    pub fn from_pem_files(cert_path: &Path, key_path: &Path) -> Result<TlsIdentity, IdentityError> {
        let certs: Vec<_> = pem_blocks(cert_path)?
            .into_iter()
            .filter(|block| block.tag() == "CERTIFICATE")
            .map(|block| CertificateDer::from(block.into_contents()))
            .collect();
        let key = pem_blocks(key_path)?
            .into_iter()
            .find_map(|block| match block.tag() {
                "PRIVATE KEY" => Some(PrivateKeyDer::Pkcs8(block.into_contents().into())),
                "EC PRIVATE KEY" => Some(PrivateKeyDer::Sec1(block.into_contents().into())),
                "RSA PRIVATE KEY" => Some(PrivateKeyDer::Pkcs1(block.into_contents().into())),
                _ => None,
            })
            .ok_or_else(|| malformed(key_path, "no private key in the file"))?;
        let Some(end_entity) = certs.first() else {
            return Err(malformed(cert_path, "no certificate in the file"));
        };
        let fingerprint = Fingerprint::of_certificate(end_entity)
            .map_err(|err| malformed(cert_path, &err.to_string()))?;
        let identity = TlsIdentity {
            certs,
            key,
            fingerprint,
        };
        identity.check_pair(cert_path, key_path)?;
        Ok(identity)
    }

    /// A self-signed certificate for `key`.
    fn self_signed(key: &SigningKey) -> Result<TlsIdentity, IdentityError> {
        let pkcs8 = PrivatePkcs8KeyDer::from(key.pkcs8().to_vec());
        let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
            .map_err(|err| IdentityError::Certificate(err.to_string()))?;
        let cert = rcgen::CertificateParams::new(vec![CERT_NAME.to_string()])
            .and_then(|params| params.self_signed(&pair))
            .map_err(|err| IdentityError::Certificate(err.to_string()))?;
        Ok(TlsIdentity {
            certs: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(pkcs8),
            fingerprint: key.public().fingerprint(),
        })
    }

    /// The fingerprint of the key, which the server prints at start and
    /// peers pin.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    pub(crate) fn certs(&self) -> Vec<CertificateDer<'static>> {
        self.certs.clone()
    }

    pub(crate) fn key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }

    /// Whether the certificate is the key's: rustls' ring provider loads
    /// the key and compares its public half to the certificate's.
    fn check_pair(&self, cert_path: &Path, key_path: &Path) -> Result<(), IdentityError> {
        let provider = super::provider::provider();
        let signing_key = provider
            .key_provider
            .load_private_key(self.key())
            .map_err(|err| malformed(key_path, &err.to_string()))?;
        let certified = rustls::sign::CertifiedKey::new(self.certs(), signing_key);
        certified.keys_match().map_err(|_| IdentityError::Mismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
        })
    }
}

/// One's own keys: the Ed25519 key (TLS and seat proofs) with its
/// certificate, and the X25519 key (sealed messages).
#[derive(Debug)]
pub struct Identity {
    tls: TlsIdentity,
    signing: SigningKey,
    seal: SealSecret,
}

impl Identity {
    /// New keys, in memory only.
    pub fn generate() -> Result<Identity, IdentityError> {
        let signing =
            SigningKey::generate().map_err(|err| IdentityError::Certificate(err.to_string()))?;
        Ok(Identity {
            tls: TlsIdentity::self_signed(&signing)?,
            signing,
            seal: SealSecret::generate(),
        })
    }

    /// The keys in `dir`, each made (and written, 0600) if it is missing;
    /// `dir` is made (0700) if it is missing. A certificate is made anew
    /// for the key if it is missing, and must match the key if present.
    pub fn load_or_create(dir: &Path) -> Result<Identity, IdentityError> {
        private_dir(dir).map_err(|source| io_error(dir, source))?;
        let key_path = dir.join(TLS_KEY_FILE);
        let signing = load_or_create_signing(&key_path)?;
        let tls = load_or_create_certificate(&dir.join(TLS_CERT_FILE), &key_path, &signing)?;
        let seal = load_or_create_seal(&dir.join(SEAL_KEY_FILE))?;
        Ok(Identity { tls, signing, seal })
    }

    pub fn tls(&self) -> &TlsIdentity {
        &self.tls
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn seal_secret(&self) -> &SealSecret {
        &self.seal
    }

    /// The public keys this user announces at `JOIN`.
    pub fn public(&self) -> PeerKey {
        PeerKey {
            identity: self.signing.public(),
            seal: self.seal.public(),
        }
    }
}

/// The signing key in `path`, or a new one written there.
fn load_or_create_signing(path: &Path) -> Result<SigningKey, IdentityError> {
    if let Some(der) = read_pem(path, "PRIVATE KEY")? {
        return SigningKey::from_pkcs8(&der).map_err(|err| bad_key(path, err));
    }
    let key = SigningKey::generate().map_err(|err| bad_key(path, err))?;
    write_pem(path, "PRIVATE KEY", key.pkcs8())?;
    Ok(key)
}

/// The certificate in `cert_path`, which must certify `signing` (kept in
/// `key_path`), or a new self-signed one written there.
fn load_or_create_certificate(
    cert_path: &Path,
    key_path: &Path,
    signing: &SigningKey,
) -> Result<TlsIdentity, IdentityError> {
    let Some(der) = read_pem(cert_path, "CERTIFICATE")? else {
        let tls = TlsIdentity::self_signed(signing)?;
        write_pem(cert_path, "CERTIFICATE", &tls.certs[0])?;
        return Ok(tls);
    };
    let certified =
        Fingerprint::of_certificate(&der).map_err(|err| malformed(cert_path, &err.to_string()))?;
    if certified != signing.public().fingerprint() {
        return Err(IdentityError::Mismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
        });
    }
    Ok(TlsIdentity {
        certs: vec![CertificateDer::from(der)],
        key: PrivateKeyDer::Pkcs8(signing.pkcs8().to_vec().into()),
        fingerprint: certified,
    })
}

/// The sealing secret in `path`, or a new one written there.
fn load_or_create_seal(path: &Path) -> Result<SealSecret, IdentityError> {
    if let Some(der) = read_pem(path, "PRIVATE KEY")? {
        let raw = der
            .strip_prefix(&X25519_PKCS8_PREFIX[..])
            .and_then(|raw| <&[u8; 32]>::try_from(raw).ok())
            .ok_or_else(|| malformed(path, "not an X25519 PKCS#8 key"))?;
        return Ok(SealSecret::from_bytes(raw));
    }
    let seal = SealSecret::generate();
    let mut der = X25519_PKCS8_PREFIX.to_vec();
    der.extend_from_slice(&seal.to_bytes());
    write_pem(path, "PRIVATE KEY", &der)?;
    Ok(seal)
}

fn pem_blocks(path: &Path) -> Result<Vec<pem::Pem>, IdentityError> {
    let bytes = read_private(path)
        .map_err(|source| io_error(path, source))?
        .ok_or_else(|| io_error(path, io::ErrorKind::NotFound.into()))?;
    pem::parse_many(bytes).map_err(|err| malformed(path, &err.to_string()))
}

/// The contents of the one PEM block tagged `tag` in `path`, or `None` if
/// the file does not exist.
fn read_pem(path: &Path, tag: &str) -> Result<Option<Vec<u8>>, IdentityError> {
    let Some(bytes) = read_private(path).map_err(|source| io_error(path, source))? else {
        return Ok(None);
    };
    let block = pem::parse(bytes).map_err(|err| malformed(path, &err.to_string()))?;
    if block.tag() != tag {
        return Err(malformed(path, &format!("expected a {tag} block")));
    }
    Ok(Some(block.into_contents()))
}

fn write_pem(path: &Path, tag: &str, der: &[u8]) -> Result<(), IdentityError> {
    let text = pem::encode(&pem::Pem::new(tag, der));
    write_private(path, text.as_bytes()).map_err(|source| io_error(path, source))
}

fn io_error(path: &Path, source: io::Error) -> IdentityError {
    IdentityError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn malformed(path: &Path, why: &str) -> IdentityError {
    IdentityError::Malformed {
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

fn bad_key(path: &Path, err: KeyError) -> IdentityError {
    malformed(path, &err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn keys_are_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("users").join("alice");
        let first = Identity::load_or_create(&home).unwrap();
        let again = Identity::load_or_create(&home).unwrap();
        assert_eq!(again.public(), first.public());
        assert_eq!(again.tls().fingerprint(), first.tls().fingerprint());
        assert_eq!(
            first.tls().fingerprint(),
            first.public().identity.fingerprint()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&home), 0o700);
            for file in [TLS_KEY_FILE, TLS_CERT_FILE, SEAL_KEY_FILE] {
                assert_eq!(mode(&home.join(file)), 0o600, "{file}");
            }
        }
        // A lost certificate is made anew for the same key.
        fs::remove_file(home.join(TLS_CERT_FILE)).unwrap();
        let remade = Identity::load_or_create(&home).unwrap();
        assert_eq!(remade.tls().fingerprint(), first.tls().fingerprint());
        // The files read as one's own certificate and key, too.
        let own = TlsIdentity::from_pem_files(&home.join(TLS_CERT_FILE), &home.join(TLS_KEY_FILE))
            .unwrap();
        assert_eq!(own.fingerprint(), first.tls().fingerprint());
    }

    #[test]
    fn broken_or_mismatched_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        Identity::load_or_create(&a).unwrap();
        Identity::load_or_create(&b).unwrap();
        #[track_caller]
        fn fails_with<T: fmt::Debug>(result: Result<T, IdentityError>, expected: &str) {
            let err = result.unwrap_err().to_string();
            assert!(err.contains(expected), "{err:?} lacks {expected:?}");
        }
        // Another key's certificate.
        fs::copy(b.join(TLS_CERT_FILE), a.join(TLS_CERT_FILE)).unwrap();
        fails_with(
            Identity::load_or_create(&a),
            "is not the certificate of the key",
        );
        fails_with(
            TlsIdentity::from_pem_files(&a.join(TLS_CERT_FILE), &a.join(TLS_KEY_FILE)),
            "is not the certificate of the key",
        );
        // Not PEM, the wrong block, a wrong key inside.
        fs::write(a.join(TLS_CERT_FILE), "hello").unwrap();
        fails_with(Identity::load_or_create(&a), TLS_CERT_FILE);
        fs::copy(b.join(TLS_KEY_FILE), a.join(TLS_CERT_FILE)).unwrap();
        fails_with(Identity::load_or_create(&a), "expected a CERTIFICATE block");
        fs::copy(b.join(TLS_KEY_FILE), a.join(SEAL_KEY_FILE)).unwrap();
        fs::remove_file(a.join(TLS_CERT_FILE)).unwrap();
        fails_with(Identity::load_or_create(&a), "not an X25519 PKCS#8 key");
        fs::copy(b.join(SEAL_KEY_FILE), a.join(TLS_KEY_FILE)).unwrap();
        fails_with(Identity::load_or_create(&a), "not an Ed25519 PKCS#8 key");
        fails_with(
            TlsIdentity::from_pem_files(&a.join("missing"), &a.join(TLS_KEY_FILE)),
            "missing",
        );
        fails_with(
            TlsIdentity::from_pem_files(&b.join(TLS_KEY_FILE), &b.join(TLS_KEY_FILE)),
            "no certificate in the file",
        );
        fails_with(
            TlsIdentity::from_pem_files(&b.join(TLS_CERT_FILE), &b.join(TLS_CERT_FILE)),
            "no private key in the file",
        );
    }
}
