//! Password hashing with argon2id, on a few threads with reused memory,
//! password checks ahead of new hashes.
//!
//! This module owns the hashing parameters and the bound. It must never log,
//! store or return a plain password, and it never touches the database: a
//! hash runs with no lock held.

use std::io;
use std::sync::LazyLock;
use std::thread::{self, JoinHandle};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{Receiver, Sender, bounded, select_biased, unbounded};

/// The working memory of one hash: 19 MiB with the default parameters.
type Memory = Vec<Block>;

/// Work for a hashing thread, run with that thread's buffer.
type Job = Box<dyn FnOnce(&mut Slot) + Send>;

/// A fixed set of hashing threads, each with one buffer it reuses. A flood
/// of logins on a thread-per-connection server therefore waits in a queue
/// instead of allocating 19 MiB per connection, and the stack and heap that
/// argon2 touches stay on these few threads rather than on thousands of
/// connection threads.
///
/// There are two queues: `run` (a JOIN's check) goes first, `hash` (making
/// a new account's hash) waits while any check does. So a flood of
/// REGISTERs delays a JOIN by one hash at most, not by the whole queue.
///
/// Dropping the `Hasher` joins its threads, once every `HashQueue` taken
/// from it is gone too.
pub struct Hasher {
    jobs: Option<HashQueue>,
    workers: Vec<JoinHandle<()>>,
}

/// Where connection threads send hashing work; cheap to clone.
#[derive(Clone)]
pub struct HashQueue {
    /// Checks of a password someone is waiting to log in with.
    urgent: Sender<Job>,
    /// New hashes, which wait while any check does.
    bulk: Sender<Job>,
}

/// The next job for a hashing thread, urgent ones first; `None` once both
/// queues are closed and empty.
fn next_job(urgent: &Receiver<Job>, bulk: &Receiver<Job>) -> Option<Job> {
    let (job, other) = select_biased! {
        recv(urgent) -> job => (job, bulk),
        recv(bulk) -> job => (job, urgent),
    };
    // Both queues close together, when the last `HashQueue` goes; what is
    // left in the other one still runs, as every job sent is answered.
    job.ok().or_else(|| other.try_recv().ok())
}

impl Hasher {
    /// Starts `workers` hashing threads (at least one).
    pub fn new(workers: usize) -> io::Result<Hasher> {
        let (urgent, urgent_rx) = unbounded::<Job>();
        let (bulk, bulk_rx) = unbounded::<Job>();
        let workers = (0..workers.max(1))
            .map(|n| {
                let (urgent, bulk) = (urgent_rx.clone(), bulk_rx.clone());
                thread::Builder::new()
                    .name(format!("hasher-{n}"))
                    .spawn(move || {
                        let mut slot = Slot::default();
                        while let Some(job) = next_job(&urgent, &bulk) {
                            job(&mut slot);
                            slot.trim();
                        }
                    })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Hasher {
            jobs: Some(HashQueue { urgent, bulk }),
            workers,
        })
    }

    /// One hashing thread per core.
    pub fn per_core() -> io::Result<Hasher> {
        Hasher::new(thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// A handle to send work to these threads.
    pub fn queue(&self) -> HashQueue {
        self.jobs.clone().expect("jobs is only taken in drop")
    }

    /// Hashes `password` into a salted argon2id PHC string.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        self.queue().hash(password)
    }

    /// True when `password` matches the PHC string `hash`.
    pub fn verify(&self, password: &str, hash: &str) -> bool {
        self.queue().verify(password, hash)
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        drop(self.jobs.take());
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl HashQueue {
    /// Runs `work` on a hashing thread, with that thread's buffer, ahead of
    /// any `hash` waiting, and waits for its result. `None` when the
    /// hashing threads have stopped.
    pub fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Slot) -> T + Send + 'static,
    ) -> Option<T> {
        HashQueue::send(&self.urgent, work)
    }

    fn send<T: Send + 'static>(
        queue: &Sender<Job>,
        work: impl FnOnce(&mut Slot) -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = bounded(1);
        let job: Job = Box::new(move |slot| {
            let _ = tx.send(work(slot));
        });
        queue.send(job).ok()?;
        rx.recv().ok()
    }

    /// Hashes `password` into a salted argon2id PHC string, after every
    /// `run` that is waiting.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let password = password.to_string();
        HashQueue::send(&self.bulk, move |slot| slot.hash(&password))
            .unwrap_or_else(|| Err("the hashing threads have stopped".into()))
    }

    /// True when `password` matches the PHC string `hash`.
    pub fn verify(&self, password: &str, hash: &str) -> bool {
        let (password, hash) = (password.to_string(), hash.to_string());
        self.run(move |slot| slot.verify(&password, &hash))
            .unwrap_or(false)
    }
}

/// A hashing thread's buffer, and the hashing done in it.
#[derive(Default)]
pub struct Slot {
    memory: Memory,
}

impl Slot {
    /// Gives back what a stored hash with unusual parameters may have
    /// added, keeping the buffer at what the default parameters need.
    fn trim(&mut self) {
        self.memory.truncate(Params::default().block_count());
        self.memory.shrink_to_fit();
    }

    /// Runs `work` on `blocks` blocks of this slot's buffer.
    fn with_memory<T>(&mut self, blocks: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
        if self.memory.len() < blocks {
            self.memory.resize(blocks, Block::default());
        }
        work(&mut self.memory[..blocks])
    }

    /// Hashes `password` into a salted argon2id PHC string.
    pub fn hash(&mut self, password: &str) -> Result<String, String> {
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
    pub fn verify(&mut self, password: &str, hash: &str) -> bool {
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
    pub fn verify_nobody(&mut self, password: &str) {
        static NOBODY: LazyLock<Option<String>> =
            LazyLock::new(|| Slot::default().hash("no user has this password").ok());
        if let Some(hash) = NOBODY.as_deref() {
            self.verify(password, hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Hasher;

    use super::HashQueue;

    #[test]
    fn checks_run_before_new_hashes() {
        use crossbeam_channel::bounded;
        use std::thread;
        use std::time::{Duration, Instant};
        let hasher = Hasher::new(1).unwrap();
        let queue = hasher.queue();
        // Hold the one hashing thread until both kinds of work wait.
        let (release, held) = bounded::<()>(0);
        let (holding, started) = bounded::<()>(1);
        let holder = {
            let queue = queue.clone();
            thread::spawn(move || {
                queue.run(move |_| {
                    holding.send(()).unwrap();
                    held.recv()
                })
            })
        };
        started.recv_timeout(Duration::from_secs(30)).unwrap();
        let (order, done) = bounded(2);
        let new_hash = {
            let (queue, order) = (queue.clone(), order.clone());
            thread::spawn(move || {
                HashQueue::send(&queue.bulk, move |_| order.send("hash").unwrap()).unwrap();
            })
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while queue.bulk.is_empty() {
            assert!(Instant::now() < deadline, "the hash was never queued");
            thread::yield_now();
        }
        let check = {
            let queue = queue.clone();
            thread::spawn(move || queue.run(move |_| order.send("check").unwrap()).unwrap())
        };
        while queue.urgent.is_empty() {
            assert!(Instant::now() < deadline, "the check was never queued");
            thread::yield_now();
        }
        release.send(()).unwrap();
        let first = done.recv_timeout(Duration::from_secs(30)).unwrap();
        let second = done.recv_timeout(Duration::from_secs(30)).unwrap();
        assert_eq!([first, second], ["check", "hash"]);
        for handle in [new_hash, check] {
            handle.join().unwrap();
        }
        holder.join().unwrap().unwrap().unwrap();
    }

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let hasher = Hasher::new(1).unwrap();
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
        let hasher = Hasher::new(2).unwrap();
        assert!(hasher.verify("pass-word", &standard));
        assert!(!hasher.verify("pass-wore", &standard));
    }
}
