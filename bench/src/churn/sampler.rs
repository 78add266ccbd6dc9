//! `Sampler`: the server's threads, descriptors and memory from `/proc`,
//! and this process's threads, with their peaks; and the server's baseline
//! at rest. It only reads; its one request is a `HELP` before the baseline.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use p2pchat::wire::Request;

use super::report::Figures;
use super::{ChurnOptions, REPLY_DEADLINE};
use crate::wire_line;
use crate::{BenchError, proc_status_field, thread_count};

/// The entries of a `/proc` directory, such as a process's `task` or `fd`.
fn entries(path: &str) -> Option<u64> {
    Some(std::fs::read_dir(path).ok()?.count() as u64)
}

/// Samples the server's threads, descriptors and memory, and this
/// process's threads, keeping the peaks.
pub(super) struct Sampler {
    pub(super) pid: u32,
    pub(super) threads: Figures,
    pub(super) fds: Figures,
    pub(super) memory: Figures,
    pub(super) bench: Figures,
}

impl Sampler {
    pub(super) fn new(pid: u32) -> Sampler {
        Sampler {
            pid,
            threads: Figures::default(),
            fds: Figures::default(),
            memory: Figures::default(),
            bench: Figures::default(),
        }
    }

    pub(super) fn server_now(&self) -> (Option<u64>, Option<u64>) {
        (
            entries(&format!("/proc/{}/task", self.pid)),
            entries(&format!("/proc/{}/fd", self.pid)),
        )
    }

    pub(super) fn sample(&mut self) -> (Option<u64>, Option<u64>) {
        let (threads, fds) = self.server_now();
        self.threads.see(threads);
        self.fds.see(fds);
        self.memory.see(proc_status_field(Some(self.pid), "VmRSS"));
        self.bench.see(thread_count(None));
        (threads, fds)
    }
}

/// The server's threads and descriptors at rest: after one request has
/// shown that it serves (its hub, sweeper and hashing threads are up), and
/// once the counts have held still for a moment.
pub(super) fn server_baseline(
    options: &ChurnOptions,
) -> Result<(Option<u64>, Option<u64>), BenchError> {
    {
        let stream = TcpStream::connect(options.addr)?;
        stream.set_read_timeout(Some(REPLY_DEADLINE))?;
        (&stream).write_all(wire_line(Request::Help).as_bytes())?;
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line)?;
        if !line.starts_with("OK HELP") {
            return Err(BenchError::Setup(format!(
                "the server answered HELP with {:?}",
                line.trim_end()
            )));
        }
    }
    let sampler = Sampler::new(options.pid);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = sampler.server_now();
    let mut steady = 0;
    while steady < 5 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        let now = sampler.server_now();
        steady = if now == last { steady + 1 } else { 0 };
        last = now;
    }
    Ok(last)
}
