//! Password hashing with argon2id, on a few threads with reused memory,
//! password checks ahead of new hashes.
//!
//! This module owns the hashing parameters and the bound. It must never log,
//! store or return a plain password, and it never touches the database: a
//! hash runs with no lock held.
//!
//! The parameters are configuration (`HashParams`): production uses the
//! documented defaults, and only tests choose cheap ones, so a suite that
//! registers hundreds of users does not spend its time hashing.

use std::io;
use std::thread::{self, JoinHandle};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use crossbeam_channel::{Receiver, Sender, bounded, select_biased, unbounded};

/// The working memory of one hash: 19 MiB with the default parameters.
type Memory = Vec<Block>;

/// The argon2id parameters new hashes are made with. A stored hash keeps
/// its own parameters in its PHC string, so a hash made with other
/// parameters still verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    /// Memory per hash, in KiB (`m`).
    pub memory_kib: u32,
    /// Passes over that memory (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub lanes: u32,
}

impl HashParams {
    /// OWASP's first recommendation for argon2id, and the argon2 crate's
    /// defaults: `m=19456,t=2,p=1`. The production parameters, which
    /// docs/ARCHITECTURE.md names.
    pub const PRODUCTION: HashParams = HashParams {
        memory_kib: 19_456,
        iterations: 2,
        lanes: 1,
    };

    /// These parameters as argon2 takes them; `None` if it refuses them.
    fn argon2(self) -> Option<Params> {
        Params::new(
            self.memory_kib,
            self.iterations,
            self.lanes,
            Some(Params::DEFAULT_OUTPUT_LEN),
        )
        .ok()
    }
}

impl Default for HashParams {
    fn default() -> HashParams {
        HashParams::PRODUCTION
    }
}

impl std::fmt::Display for HashParams {
    /// As a PHC string writes them: `m=19456,t=2,p=1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let HashParams {
            memory_kib,
            iterations,
            lanes,
        } = self;
        write!(f, "m={memory_kib},t={iterations},p={lanes}")
    }
}

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
    /// Starts `workers` hashing threads (at least one) that make new
    /// hashes with `params`. Parameters argon2 refuses are an error here,
    /// at start, rather than at the first REGISTER.
    pub fn new(workers: usize, params: HashParams) -> io::Result<Hasher> {
        if params.argon2().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("argon2 refuses the parameters {params}"),
            ));
        }
        let (urgent, urgent_rx) = unbounded::<Job>();
        let (bulk, bulk_rx) = unbounded::<Job>();
        let workers = (0..workers.max(1))
            .map(|n| {
                let (urgent, bulk) = (urgent_rx.clone(), bulk_rx.clone());
                thread::Builder::new()
                    .name(format!("hasher-{n}"))
                    .spawn(move || {
                        let mut slot = Slot::new(params);
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
    pub fn per_core(params: HashParams) -> io::Result<Hasher> {
        Hasher::new(
            thread::available_parallelism().map_or(2, |n| n.get()),
            params,
        )
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
pub struct Slot {
    memory: Memory,
    /// What new hashes are made with; argon2 accepts them (`Hasher::new`
    /// checked).
    params: Params,
    /// A hash of no one's password, made with `params` on first need.
    nobody: Option<String>,
}

impl Slot {
    fn new(params: HashParams) -> Slot {
        Slot {
            memory: Memory::new(),
            params: params.argon2().unwrap_or_default(),
            nobody: None,
        }
    }

    /// Gives back what a stored hash with unusual parameters may have
    /// added, keeping the buffer at what this slot's parameters need.
    fn trim(&mut self) {
        self.memory.truncate(self.params.block_count());
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
        let params = self.params.clone();
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
        if self.nobody.is_none() {
            self.nobody = self.hash("no user has this password").ok();
        }
        if let Some(hash) = self.nobody.clone() {
            self.verify(password, &hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{HashParams, HashQueue, Hasher};

    /// The cheapest parameters argon2 accepts, for tests of the queues.
    const FAST: HashParams = HashParams {
        memory_kib: 8,
        iterations: 1,
        lanes: 1,
    };

    #[test]
    fn the_production_parameters_are_the_documented_ones() {
        let documented = HashParams {
            memory_kib: 19_456,
            iterations: 2,
            lanes: 1,
        };
        assert_eq!(HashParams::default(), documented);
        assert_eq!(HashParams::PRODUCTION, documented);
        assert_eq!(documented.to_string(), "m=19456,t=2,p=1");
        let library = argon2::Params::default();
        assert_eq!(
            (library.m_cost(), library.t_cost(), library.p_cost()),
            (19_456, 2, 1),
            "the argon2 crate's defaults, which the PHC strings of old accounts carry"
        );
    }

    #[test]
    fn parameters_argon2_refuses_stop_the_start() {
        let none = HashParams {
            memory_kib: 0,
            ..FAST
        };
        let err = Hasher::new(1, none).err().expect("refused");
        assert_eq!(err.to_string(), "argon2 refuses the parameters m=0,t=1,p=1");
    }

    #[test]
    fn cheap_hashes_carry_their_parameters_and_verify() {
        let hasher = Hasher::new(1, FAST).unwrap();
        let hash = hasher.hash("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse", &hash));
        assert!(!hasher.verify("correct horsf", &hash));
        let production = Hasher::new(1, HashParams::PRODUCTION).unwrap();
        assert!(
            production.verify("correct horse", &hash),
            "a hash names its parameters"
        );
    }

    #[test]
    fn checks_run_before_new_hashes() {
        use crossbeam_channel::bounded;
        use std::thread;
        use std::time::{Duration, Instant};
        let hasher = Hasher::new(1, FAST).unwrap();
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
        let hasher = Hasher::new(1, HashParams::PRODUCTION).unwrap();
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
        let hasher = Hasher::new(2, HashParams::PRODUCTION).unwrap();
        assert!(hasher.verify("pass-word", &standard));
        assert!(!hasher.verify("pass-wore", &standard));
    }
}
