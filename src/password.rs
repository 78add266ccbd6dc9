//! Password hashing with argon2id, on a bounded number of threads at once.
//!
//! This module owns the hashing parameters and the bound. It must never log,
//! store or return a plain password, and it never touches the database: a
//! hash runs with no lock held.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use crossbeam_channel::{Receiver, Sender, bounded};

/// Lets at most a fixed number of hashes run at once. Each argon2id hash
/// takes about 19 MiB, so a flood of logins on a thread-per-connection
/// server would otherwise allocate without bound.
#[derive(Clone)]
pub struct Hasher {
    permits: (Sender<()>, Receiver<()>),
}

impl Hasher {
    /// A hasher that runs at most `limit` hashes at once (at least one).
    pub fn new(limit: usize) -> Hasher {
        let limit = limit.max(1);
        let (tx, rx) = bounded(limit);
        for _ in 0..limit {
            tx.send(()).expect("the channel has room for every permit");
        }
        Hasher { permits: (tx, rx) }
    }

    /// A hasher bounded by the number of cores.
    pub fn per_core() -> Hasher {
        Hasher::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    fn with_permit<T>(&self, work: impl FnOnce() -> T) -> T {
        // Both ends live in `self`, so the channel cannot disconnect.
        self.permits
            .1
            .recv()
            .expect("the hasher holds its own sender");
        let result = work();
        let _ = self.permits.0.send(());
        result
    }

    /// Hashes `password` into a salted argon2id PHC string.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        self.with_permit(|| {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|err| format!("cannot hash the password: {err}"))
        })
    }

    /// True when `password` matches the PHC string `hash`.
    pub fn verify(&self, password: &str, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        self.with_permit(|| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    }
}
