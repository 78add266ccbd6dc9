//! The user's keys and the keys of the peers this peer has seen.
//!
//! `Keyring` is shared by the threads that need keys: the registry worker
//! loads the user's identity when the user logs in
//! (`<data-dir>/users/<name>/`, `crypto::Identity::load_or_create`) and
//! remembers every key the registry vouches for (`<data-dir>/known_peers`,
//! `crypto::Pins`); the chat listener and the inviters take the user's TLS
//! configuration from it; the driver answers `/verify` from it. Its lock is
//! held for a lookup or an update, never while a socket is waited on.
//!
//! It protects against a known user's key changing in silence: the change
//! is reported (`KeyChange`, shown loudly by the app) and the new key is
//! remembered, so it is reported once. It does not protect a first contact
//! (the registry's word is taken), and it must never show a private key.
//!
//! `change_warning` and `verify_text` are the lines the user sees, plain
//! functions of their keys.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::ServerConfig;

use crate::crypto::{self, ClientAuth, Identity, IdentityError, PeerKey, Pin, Pins, PinsFileError};
use crate::wire::KeyWord;

use super::msg::KeyChange;

/// The file of known peers' keys in the data directory: `peer` lines only
/// (the registries' fingerprints are kept apart, by the registry link).
const KNOWN_PEERS: &str = "known_peers";
/// The folder of the local users' identities in the data directory.
const USERS: &str = "users";

/// Why the keys could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot load your keys: {0}")]
    Identity(#[source] IdentityError),
    #[error("cannot read the known peers' keys: {0}")]
    KnownPeers(#[source] PinsFileError),
    /// The TLS configuration could not be made from the identity.
    #[error("cannot set up TLS with your key: {0}")]
    Tls(#[source] rustls::Error),
    #[error("cannot write {path}: {1}", path = .0.display())]
    Save(PathBuf, #[source] io::Error),
}

/// The logged-in user's keys, ready for TLS both ways.
#[derive(Clone)]
pub(super) struct UserKeys {
    pub(super) name: String,
    pub(super) identity: Arc<Identity>,
    /// The chat listener's configuration: the user's key, and a client
    /// certificate required of whoever connects.
    pub(super) server: Arc<ServerConfig>,
}

impl UserKeys {
    pub(super) fn public(&self) -> PeerKey {
        self.identity.public()
    }
}

/// The keys, shared.
pub(super) struct Keyring {
    data_dir: PathBuf,
    state: Mutex<State>,
}

struct State {
    user: Option<UserKeys>,
    known: Pins,
}

impl Keyring {
    /// The keyring of `data_dir`, with the known peers read from it.
    pub(super) fn open(data_dir: &Path) -> Result<Arc<Keyring>, KeysError> {
        let known =
            crypto::load_pins(&data_dir.join(KNOWN_PEERS)).map_err(KeysError::KnownPeers)?;
        Ok(Arc::new(Keyring {
            data_dir: data_dir.to_path_buf(),
            state: Mutex::new(State { user: None, known }),
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A thread that panicked holding the lock left whole values: a
        // lookup or a map insert, never half of one.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Loads (or makes) `name`'s identity, which is the user's from now
    /// on; the key its JOIN announces.
    pub(super) fn log_in(&self, name: &str) -> Result<PeerKey, KeysError> {
        let dir = self.data_dir.join(USERS).join(name.to_lowercase());
        let identity = Identity::load_or_create(&dir).map_err(KeysError::Identity)?;
        let server =
            crypto::server_config(identity.tls(), ClientAuth::Required).map_err(KeysError::Tls)?;
        let keys = UserKeys {
            name: name.to_string(),
            identity: Arc::new(identity),
            server,
        };
        let public = keys.public();
        self.state().user = Some(keys);
        Ok(public)
    }

    /// The logged-in user's keys; none before the first login.
    pub(super) fn user(&self) -> Option<UserKeys> {
        self.state().user.clone()
    }

    /// Remembers the keys the registry vouched for, by user name: a first
    /// one is kept, a changed one is kept too and reported, so that it is
    /// said once, loudly. A word that holds no key is not remembered. The
    /// file is written once for the lot (a `LIST` vouches for everyone).
    pub(super) fn vouched(
        &self,
        vouched: &[(&str, &KeyWord)],
    ) -> Result<Vec<KeyChange>, KeysError> {
        let mut changes = Vec::new();
        let known = {
            let mut state = self.state();
            let mut fresh = false;
            for (name, word) in vouched {
                let Ok(presented) = word.as_str().parse::<PeerKey>() else {
                    continue;
                };
                let pin = name.to_lowercase();
                match state.known.check_peer(&pin, presented) {
                    Pin::Known => continue,
                    Pin::New(_) => {}
                    Pin::Changed { pinned, presented } => changes.push(KeyChange {
                        name: name.to_string(),
                        pinned,
                        presented,
                    }),
                }
                state.known.trust_peer(&pin, presented);
                fresh = true;
            }
            if !fresh {
                return Ok(changes);
            }
            state.known.clone()
        };
        let path = self.data_dir.join(KNOWN_PEERS);
        crypto::save_pins(&path, &known).map_err(|err| KeysError::Save(path, err))?;
        Ok(changes)
    }

    /// The key remembered for `name`.
    pub(super) fn known(&self, name: &str) -> Option<PeerKey> {
        self.state().known.peer(&name.to_lowercase())
    }

    /// What `/verify <name>` shows.
    pub(super) fn verify(&self, name: &str) -> String {
        let user = self.user();
        let me = user
            .as_ref()
            .map(|user| (user.name.as_str(), user.public()));
        verify_text(me, name, self.known(name))
    }
}

/// The keys this peer shows: the logged-in user's, from the keyring, or
/// else (before a login, or with no keyring) `this_run`, the pair
/// `Peer::start` made for the run.
pub(super) fn own_identity(
    keys: Option<&Keyring>,
    this_run: Option<&Arc<Identity>>,
) -> Option<Arc<Identity>> {
    let user = keys.and_then(Keyring::user);
    user.map(|user| user.identity).or_else(|| this_run.cloned())
}

/// The loud line for a known user's changed key.
pub(super) fn change_warning(change: &KeyChange) -> String {
    format!(
        "Warning: {name}'s key has changed: it was {was}, the registry now vouches for {now}. \
         Someone may be posing as {name}, or {name} has new keys. Compare /verify {name} by voice.",
        name = change.name,
        was = change.pinned.identity.fingerprint(),
        now = change.presented.identity.fingerprint(),
    )
}

/// The safety code of `me` and `name`, which both read to each other:
/// equal codes mean each has the other's real keys.
pub(super) fn verify_text(
    me: Option<(&str, PeerKey)>,
    name: &str,
    theirs: Option<PeerKey>,
) -> String {
    match (me, theirs) {
        (None, _) => "You have no keys yet: log in first.".to_string(),
        (Some(_), None) => format!(
            "No key known for {name}: /search {name} (or invite them) to get it from the registry first."
        ),
        (Some((me, mine)), Some(theirs)) => format!(
            "Safety code for {me} and {name}: {code}. Read it to {name} by voice (or in person): \
             if it is the same on both screens, each of you has the other's real key. \
             {name}'s key is {fingerprint}.",
            code = mine.safety_code(&theirs),
            fingerprint = theirs.identity.fingerprint(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(key: &PeerKey) -> KeyWord {
        key.to_string().parse().unwrap()
    }

    #[test]
    fn a_vouched_key_is_remembered_and_a_change_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::open(dir.path()).unwrap();
        let (first, second) = (
            Identity::generate().unwrap().public(),
            Identity::generate().unwrap().public(),
        );
        let (first_word, second_word) = (word(&first), word(&second));
        let none: Vec<KeyChange> = Vec::new();
        assert_eq!(keyring.vouched(&[("Bob", &first_word)]).unwrap(), none);
        assert_eq!(keyring.vouched(&[("bob", &first_word)]).unwrap(), none);
        let changes = keyring
            .vouched(&[("carol", &first_word), ("bob", &second_word)])
            .unwrap();
        assert_eq!(
            changes,
            [KeyChange {
                name: "bob".into(),
                pinned: first,
                presented: second,
            }]
        );
        assert_eq!(keyring.vouched(&[("bob", &second_word)]).unwrap(), none);
        let change = changes.into_iter().next();
        // Kept on disk: another keyring of the folder knows the new key.
        let again = Keyring::open(dir.path()).unwrap();
        assert_eq!(again.known("BOB"), Some(second));
        let warning = change_warning(&change.unwrap());
        for part in [
            "bob's key has changed",
            &first.identity.fingerprint().to_string(),
            &second.identity.fingerprint().to_string(),
            "/verify bob",
        ] {
            assert!(warning.contains(part), "{warning}");
        }
    }

    #[test]
    fn a_user_logs_in_with_the_same_keys_each_time() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = Keyring::open(dir.path()).unwrap();
        assert!(keyring.user().is_none());
        let alice = keyring.log_in("Alice").unwrap();
        assert_eq!(keyring.user().unwrap().public(), alice);
        let bob = keyring.log_in("bob").unwrap();
        assert_ne!(alice, bob);
        assert_eq!(
            Keyring::open(dir.path()).unwrap().log_in("alice").unwrap(),
            alice
        );
        assert!(dir.path().join("users").join("alice").is_dir());
    }

    #[test]
    fn verify_shows_one_code_for_both_sides() {
        let (alice, bob) = (
            Identity::generate().unwrap().public(),
            Identity::generate().unwrap().public(),
        );
        let at_alice = verify_text(Some(("alice", alice)), "bob", Some(bob));
        let at_bob = verify_text(Some(("bob", bob)), "alice", Some(alice));
        let code = alice.safety_code(&bob);
        assert!(
            at_alice.contains(&code) && at_bob.contains(&code),
            "{at_alice}\n{at_bob}"
        );
        assert!(
            verify_text(Some(("alice", alice)), "carol", None).contains("No key known for carol")
        );
        assert!(verify_text(None, "bob", Some(bob)).contains("log in first"));
    }
}
