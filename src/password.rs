//! Password hashing with argon2id, on a bounded pool of working memory.
//!
//! This module owns the hashing parameters and the bound. It must never log,
//! store or return a plain password, and it never touches the database: a
//! hash runs with no lock held.

use std::sync::LazyLock;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{Receiver, Sender, bounded};

/// The working memory of one hash: 19 MiB with the default parameters.
type Memory = Vec<Block>;

/// Runs at most a fixed number of hashes at once, each in a buffer the pool
/// keeps and reuses. A flood of logins on a thread-per-connection server
/// therefore waits for a buffer instead of allocating 19 MiB per thread, and
/// the memory stays the pool's rather than scattered over thread arenas.
#[derive(Clone)]
pub struct Hasher {
    pool: (Sender<Memory>, Receiver<Memory>),
}

impl Hasher {
    /// A hasher that runs at most `limit` hashes at once (at least one).
    pub fn new(limit: usize) -> Hasher {
        let limit = limit.max(1);
        let (tx, rx) = bounded(limit);
        for _ in 0..limit {
            // Buffers are filled on first use, so an idle pool costs nothing.
            tx.send(Vec::new())
                .expect("the channel has room for every buffer");
        }
        Hasher { pool: (tx, rx) }
    }

    /// A hasher bounded by the number of cores.
    pub fn per_core() -> Hasher {
        Hasher::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// Runs `work` on a pool buffer of `blocks` blocks, waiting for one.
    fn with_memory<T>(&self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        // Both ends live in `self`, so the channel cannot disconnect.
        let mut memory = self.pool.1.recv().expect("the hasher holds its own sender");
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        let result = work(&mut memory[..blocks]);
        // A stored hash with unusual parameters may have grown the buffer;
        // keep the pool at the size the default parameters need.
        memory.truncate(Params::default().block_count().max(1));
        memory.shrink_to_fit();
        let _ = self.pool.0.send(memory);
        result
    }

    /// Hashes `password` into a salted argon2id PHC string.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let failed = |err: &dyn std::fmt::Display| format!("cannot hash the password: {err}");
        let params = Params::default();
        let mut salt = [0u8; argon2::RECOMMENDED_SALT_LEN];
        getrandom::fill(&mut salt).map_err(|err| failed(&err))?;
        let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        self.with_memory(params.block_count(), |memory| {
            argon.hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, memory)
        })
        .map_err(|err| failed(&err))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|err| failed(&err))?,
            salt: Some(Salt::new(&salt).map_err(|err| failed(&err))?),
            hash: Some(Output::new(&out).map_err(|err| failed(&err))?),
        };
        Ok(phc.to_string())
    }

    /// True when `password` matches the PHC string `hash`.
    pub fn verify(&self, password: &str, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(params)) = (
            Algorithm::try_from(parsed.algorithm.as_str()),
            Params::try_from(&parsed),
        ) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from) {
            None => Version::default(),
            Some(Ok(version)) => version,
            Some(Err(_)) => return false,
        };
        let argon = Argon2::new(algorithm, version, params.clone());
        let mut out = vec![0u8; expected.len()];
        let hashed = self.with_memory(params.block_count(), |memory| {
            argon.hash_password_into_with_memory(
                password.as_bytes(),
                salt.as_ref(),
                &mut out,
                memory,
            )
        });
        // `Output`'s equality does not stop at the first difference.
        hashed.is_ok() && Output::new(&out).is_ok_and(|out| out == *expected)
    }

    /// Spends the time a real check would on a user that does not exist,
    /// so that the time a JOIN takes does not tell which names are taken.
    pub fn verify_nobody(&self, password: &str) {
        static NOBODY: LazyLock<Option<String>> =
            LazyLock::new(|| Hasher::new(1).hash("no user has this password").ok());
        if let Some(hash) = NOBODY.as_deref() {
            self.verify(password, hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Hasher;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let hasher = Hasher::new(1);
        let first = hasher.hash("correct horse").unwrap();
        let second = hasher.hash("correct horse").unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "every hash has its own salt");
        assert!(hasher.verify("correct horse", &first));
        assert!(hasher.verify("correct horse", &second));
        assert!(!hasher.verify("correct horsf", &first));
        assert!(!hasher.verify("correct horse", "not a phc string"));
        assert!(!first.contains("correct horse"));
    }

    #[test]
    fn hashes_from_the_library_default_api_verify() {
        use argon2::password_hash::PasswordHasher;
        let standard = argon2::Argon2::default()
            .hash_password(b"pass-word")
            .unwrap()
            .to_string();
        assert!(Hasher::new(2).verify("pass-word", &standard));
        assert!(!Hasher::new(2).verify("pass-wore", &standard));
    }
}
