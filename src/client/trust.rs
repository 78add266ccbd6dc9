//! Whether the link speaks TLS to the registry, and which registry key it
//! accepts: the key pinned in advance (`--trust-registry`), else the one
//! remembered in the pins file, else, on first contact, the one the user
//! accepts (asked at a terminal, as ssh does) or, piped, the one presented
//! (remembered and said). A changed key is refused in every mode, with both
//! fingerprints and what to do. Nothing goes to the registry before its key
//! is accepted, and there is no fallback to plain text.
//!
//! It protects against a registry key that changes after first contact (a
//! relay or an impostor presenting another key). It does not protect the
//! first contact itself (trust on first use) unless the key was pinned in
//! advance.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustls::ClientConfig;

use crate::crypto::{
    Fingerprint, HandshakeError, Pin, ServerKey, TlsStream, client_config, connect, load_pins,
    save_pins,
};
use crate::discovery::check_announced;

/// How a registry's new key is decided on first contact.
pub enum FirstUse {
    /// At a terminal: shows the question and returns the user's answer.
    Ask(Box<dyn Fn(&str) -> bool + Send + Sync>),
    /// Piped: the key is remembered, and this shows the line that says so.
    Remember(Box<dyn Fn(&str) + Send + Sync>),
}

/// Plain text (`--plaintext`) or TLS with pinning.
#[derive(Clone, Debug)]
pub enum RegistrySecurity {
    Plaintext,
    Tls(Arc<RegistryTrust>),
}

/// The registry keys the link accepts, and where it remembers them.
pub struct RegistryTrust {
    /// The pins file (`known_keys` in the data directory).
    pins: PathBuf,
    /// `--trust-registry`: the only key accepted, whatever the file says.
    advance: Option<Fingerprint>,
    /// The key named by the announcement the registry was found by, if so.
    announced: Option<Fingerprint>,
    first_use: FirstUse,
    config: Arc<ClientConfig>,
    /// One decision at a time, so two answers cannot race on the file.
    deciding: Mutex<()>,
}

impl fmt::Debug for RegistryTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryTrust")
            .field("pins", &self.pins)
            .field("advance", &self.advance)
            .finish_non_exhaustive()
    }
}

impl RegistryTrust {
    pub fn new(
        pins: PathBuf,
        advance: Option<Fingerprint>,
        first_use: FirstUse,
    ) -> Result<RegistryTrust, rustls::Error> {
        Ok(RegistryTrust {
            pins,
            advance,
            announced: None,
            first_use,
            // Any key passes the handshake; `check` decides before a byte
            // of the protocol is sent.
            config: client_config(ServerKey::trust_on_first_use(), None)?,
            deciding: Mutex::new(()),
        })
    }

    /// A registry found on the LAN must present the key its announcement
    /// named. That is checked before the pins and besides them: an
    /// announcement is a hint anyone can send, so a first contact is still
    /// decided as for `--server`.
    pub fn expecting_announced(mut self, announced: Option<Fingerprint>) -> RegistryTrust {
        self.announced = announced;
        self
    }

    /// The TLS session with the registry at `addr` over `tcp`, once its key
    /// is accepted. `may_ask` is false on the link's background reconnects,
    /// where nobody is at the prompt to answer: a new key is then refused
    /// until the peer is started again.
    pub(super) fn secure(
        &self,
        tcp: TcpStream,
        addr: SocketAddr,
        deadline: Instant,
        may_ask: bool,
    ) -> io::Result<TlsStream> {
        let tls = connect(tcp, Arc::clone(&self.config), deadline)
            .map_err(|err| refused(handshake_failed(addr, &err)))?;
        let presented = tls
            .peer_fingerprint()
            .ok_or_else(|| refused(format!("the registry at {addr} presented no key")))?;
        self.check(addr, presented, may_ask)
            .map_err(|why| io::Error::new(io::ErrorKind::PermissionDenied, KeyRefused(why)))?;
        Ok(tls)
    }

    /// Accepts `presented` for `addr`, or says why not and what to do.
    fn check(&self, addr: SocketAddr, presented: Fingerprint, may_ask: bool) -> Result<(), String> {
        if let Some(announced) = self.announced {
            check_announced(addr, announced, presented).map_err(|err| err.to_string())?;
        }
        if let Some(pinned) = self.advance {
            return pinned_in_advance(addr, pinned, presented);
        }
        let pins_file = self.pins.display();
        let _one_at_a_time = self.deciding.lock().unwrap_or_else(|e| e.into_inner());
        let mut pins = load_pins(&self.pins).map_err(|err| err.to_string())?;
        let address = addr.to_string();
        match pins.check_registry(&address, presented) {
            Pin::Known => return Ok(()),
            Pin::Changed { pinned, presented } => {
                return Err(format!(
                    "the registry at {addr} presents key {presented}, but {pinned} was \
                     remembered for it: someone may be in between, so nothing was sent. If the \
                     registry's key really changed (compare the fingerprint shown where it \
                     runs), remove the line 'registry {address} {pinned}' from {pins_file}, or \
                     start the peer with --trust-registry {presented}"
                ));
            }
            Pin::New(_) => {}
        }
        self.decide_first_use(addr, presented, may_ask)?;
        pins.trust_registry(&address, presented);
        save_pins(&self.pins, &pins)
            .map_err(|err| format!("cannot remember the registry's key in {pins_file}: {err}"))
    }

    /// Whether a key met for the first time may be remembered: the user's
    /// answer at a terminal (asked only when `may_ask`), or yes when piped,
    /// said on screen.
    fn decide_first_use(
        &self,
        addr: SocketAddr,
        presented: Fingerprint,
        may_ask: bool,
    ) -> Result<(), String> {
        match &self.first_use {
            FirstUse::Ask(ask) if may_ask => {
                let question = format!(
                    "The registry at {addr} presents key {presented}. Compare it with the \
                     fingerprint shown where the registry runs. Trust it? [y/N]"
                );
                if !ask(&question) {
                    return Err(format!(
                        "the registry's key {presented} was not trusted; nothing was sent"
                    ));
                }
            }
            FirstUse::Ask(_) => {
                return Err(format!(
                    "the registry at {addr} presents a new key {presented}; start the peer \
                     again to be asked about it, or with --trust-registry {presented}"
                ));
            }
            FirstUse::Remember(say) => say(&format!(
                "The registry at {addr} presents key {presented}; remembered in {pins_file} \
                 (not asked: standard input is not a terminal). Compare it with the \
                 fingerprint shown where the registry runs.",
                pins_file = self.pins.display()
            )),
        }
        Ok(())
    }
}

/// With `--trust-registry`, only the key given is accepted, whatever the
/// pins file says.
fn pinned_in_advance(
    addr: SocketAddr,
    pinned: Fingerprint,
    presented: Fingerprint,
) -> Result<(), String> {
    if pinned == presented {
        return Ok(());
    }
    Err(format!(
        "the registry at {addr} presents key {presented}, not {pinned} given with \
         --trust-registry; refusing it. If the registry's key really changed, start \
         the peer with --trust-registry {presented} after checking it where the \
         registry runs"
    ))
}

/// What a failed handshake means to the user.
fn handshake_failed(addr: SocketAddr, err: &HandshakeError) -> String {
    match err {
        // Plain text where a TLS record was expected.
        HandshakeError::Tls(rustls::Error::InvalidMessage(_)) => format!(
            "the registry at {addr} speaks plain text (lab mode): start the peer with --plaintext"
        ),
        HandshakeError::TimedOut | HandshakeError::Closed => format!(
            "no TLS from the registry at {addr} ({err}); if it runs with --plaintext, start the \
             peer with --plaintext too"
        ),
        err => format!("TLS with the registry at {addr} failed: {err}"),
    }
}

/// The registry's key was refused (changed, not trusted, or new where
/// nobody can be asked): the user must hear it, even on a background
/// reconnect, since only the user can decide what to do about it.
#[derive(Debug)]
pub(super) struct KeyRefused(pub(super) String);

impl fmt::Display for KeyRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyRefused {}

/// Why the registry's key was refused, if that is why `err` happened.
pub(super) fn key_refused(err: &io::Error) -> Option<&str> {
    let refusal = err.get_ref()?.downcast_ref::<KeyRefused>()?;
    Some(&refusal.0)
}

/// A refusal as the link reports a failed connection.
fn refused(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, why)
}
