//! p2pchat-bench: load generators for p2pchat: the lobby hub (or an IRC
//! channel) flooded by one sender, the registry under thousands of simulated
//! peers, and the churn soak test of peers and lobbies coming and going.
//!
//! # Layout
//!
//! - this file: the shared pieces: `BenchError`, the latency `Histogram`,
//!   `/proc` readings, `ScratchDir`, the socket `Poller`, the report helpers.
//! - `lobby`: one member floods a real `Lobby` hub (or an IRC channel).
//! - `registry`: thousands of peers JOIN a registry `Server` and say HELLO.
//! - `churn`: peers and lobbies come and go; the server must end as it began.
//! - `bin/bench`: the `bench` command line over these three.
//!
//! This crate owns the load side of every benchmark and the figures it
//! reports, and uses only p2pchat's public API. It must never need a thread
//! per simulated member or peer (a few threads multiplex non-blocking
//! sockets with `poll` or epoll), never leave loopback, and never loop
//! without a bound in count and in time. It measures; it does not judge:
//! deciding what is fast enough is for the reader of the report.
//!
//! It is unix-only (`poll`, epoll, raw descriptors, `/proc`): elsewhere the
//! library is empty and the binary says so and exits.
#![cfg(unix)]

pub mod churn;
pub mod lobby;
pub mod registry;

use std::fmt;
use std::io::{self, ErrorKind, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use p2pchat::db::DbError;
use p2pchat::registry::ServerError;

/// Why a benchmark could not run to the end.
#[derive(Debug)]
pub enum BenchError {
    Io(io::Error),
    Db(DbError),
    Server(ServerError),
    /// The system under test did not behave as the load needs, such as an
    /// IRC server that refused a nick or a join that never completed.
    Setup(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Io(err) => write!(f, "network error: {err}"),
            BenchError::Db(err) => err.fmt(f),
            BenchError::Server(err) => err.fmt(f),
            BenchError::Setup(text) => f.write_str(text),
        }
    }
}

impl std::error::Error for BenchError {}

impl From<io::Error> for BenchError {
    fn from(err: io::Error) -> BenchError {
        BenchError::Io(err)
    }
}

impl From<DbError> for BenchError {
    fn from(err: DbError) -> BenchError {
        BenchError::Db(err)
    }
}

impl From<ServerError> for BenchError {
    fn from(err: ServerError) -> BenchError {
        BenchError::Server(err)
    }
}

/// Sub-buckets per power of two: every recorded value is kept within 1/64
/// (1.6 %) of itself, in a fixed 30 KiB whatever the number of samples, so
/// a million deliveries do not inflate the memory the benchmark reports.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;

/// A log-linear histogram of nanoseconds.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram::new()
    }
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; (64 - SUB_BITS as usize + 1) * SUB],
            total: 0,
            max: 0,
        }
    }

    fn index(value: u64) -> usize {
        if value < SUB as u64 {
            return value as usize;
        }
        let shift = 63 - value.leading_zeros() - SUB_BITS;
        let mantissa = (value >> shift) as usize - SUB;
        ((shift as usize + 1) << SUB_BITS) + mantissa
    }

    /// The smallest value that lands in bucket `index`.
    fn floor(index: usize) -> u64 {
        if index < SUB {
            return index as u64;
        }
        let shift = (index >> SUB_BITS) - 1;
        ((SUB + (index & (SUB - 1))) as u64) << shift
    }

    pub fn record(&mut self, nanos: u64) {
        self.counts[Histogram::index(nanos)] += 1;
        self.total += 1;
        self.max = self.max.max(nanos);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value below which a fraction `q` of the samples fall.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_nanos(Histogram::floor(index).min(self.max));
            }
        }
        Duration::from_nanos(self.max)
    }

    pub fn max(&self) -> Duration {
        Duration::from_nanos(self.max)
    }

    pub fn summary(&self) -> Latency {
        Latency {
            count: self.total,
            p50: self.quantile(0.50),
            p99: self.quantile(0.99),
            max: self.max(),
        }
    }
}

/// The latency figures a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    pub count: u64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// A `kB` field of `/proc/<pid>/status` (`self` when `pid` is `None`), in
/// bytes; `None` where there is no such file (not Linux) or field.
pub fn proc_status_field(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_string(),
    };
    let status = std::fs::read_to_string(path).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let value = line[field.len()..].trim_start_matches(':').trim();
    let number: u64 = value.split_whitespace().next()?.parse().ok()?;
    Some(if value.ends_with("kB") {
        number * 1024
    } else {
        number
    })
}

/// The peak resident memory of a process (`VmHWM`), in bytes.
pub fn peak_memory(pid: Option<u32>) -> Option<u64> {
    proc_status_field(pid, "VmHWM")
}

/// The number of threads a process runs now.
pub fn thread_count(pid: Option<u32>) -> Option<u64> {
    proc_status_field(pid, "Threads")
}

/// Resets this process's `VmHWM` to its current resident size (Linux 4.0
/// and later), so the peak a run reports is the peak of that run and not of
/// whatever this process did before it. Best effort.
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A directory under the system's temporary directory, removed on drop.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    pub fn new(label: &str) -> io::Result<ScratchDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("p2pchat-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(ScratchDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Splits what a non-blocking socket delivers into lines, keeping a partial
/// line for the next read.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

/// What one `Lines::read` saw.
#[derive(Debug, PartialEq, Eq)]
enum ReadEnd {
    /// The socket has nothing more for now.
    WouldBlock,
    /// The other side closed the connection, or it broke.
    Closed,
}

impl Lines {
    /// Reads what `stream` has until it would block, calling `each` with
    /// every complete line (without `\n` or `\r`) and returns the number of
    /// bytes read alongside why it stopped. `scratch` is the read buffer.
    fn read(
        &mut self,
        mut stream: &TcpStream,
        scratch: &mut [u8],
        mut each: impl FnMut(&[u8]),
    ) -> (usize, ReadEnd) {
        let mut bytes = 0;
        loop {
            let got = match stream.read(scratch) {
                Ok(0) => return (bytes, ReadEnd::Closed),
                Ok(got) => got,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) if err.kind() == ErrorKind::WouldBlock => {
                    return (bytes, ReadEnd::WouldBlock);
                }
                Err(_) => return (bytes, ReadEnd::Closed),
            };
            bytes += got;
            self.split(&scratch[..got], &mut each);
            // A short read means the socket is drained; asking again would
            // only cost a system call that says so.
            if got < scratch.len() {
                return (bytes, ReadEnd::WouldBlock);
            }
        }
    }

    fn split(&mut self, mut data: &[u8], each: &mut impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            let Some(end) = data.iter().position(|&b| b == b'\n') else {
                self.partial.extend_from_slice(data);
                return;
            };
            self.partial.extend_from_slice(&data[..end]);
            each(trim_cr(&self.partial));
            self.partial.clear();
            data = &data[end + 1..];
        }
        while let Some(end) = data.iter().position(|&b| b == b'\n') {
            each(trim_cr(&data[..end]));
            data = &data[end + 1..];
        }
        self.partial.extend_from_slice(data);
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Waits until some of `fds` can be read, for at most `timeout`. Returns
/// early on a signal; the caller just polls again.
fn poll_readable(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<()> {
    let millis = timeout.as_millis().min(1000) as libc::c_int;
    // SAFETY: `fds` is a live, writable slice of exactly `fds.len()` pollfd
    // structures for the whole call.
    let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    if ready < 0 {
        let err = io::Error::last_os_error();
        if err.kind() != ErrorKind::Interrupted {
            return Err(err);
        }
    }
    Ok(())
}

/// Readiness of many non-blocking sockets at once, each known by a token.
/// On Linux this is epoll, whose cost per wake-up follows the sockets that
/// are ready rather than all that are watched: with hundreds of receivers
/// per reader thread, `poll` spends more CPU asking than the server under
/// test spends sending. Elsewhere it falls back to `poll`.
pub(crate) struct Poller {
    #[cfg(target_os = "linux")]
    epoll: std::os::fd::OwnedFd,
    #[cfg(not(target_os = "linux"))]
    watched: Vec<(libc::pollfd, usize)>,
}

impl Poller {
    #[cfg(target_os = "linux")]
    pub(crate) fn new() -> io::Result<Poller> {
        use std::os::fd::FromRawFd;
        // SAFETY: a plain system call; a descriptor it returns is ours alone.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh, open descriptor nothing else owns.
        let epoll = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(Poller { epoll })
    }

    /// Watches `stream` for reading (level-triggered) under `token`.
    #[cfg(target_os = "linux")]
    pub(crate) fn add(&mut self, stream: &TcpStream, token: usize) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, stream, token)
    }

    /// Stops watching `stream`.
    #[cfg(target_os = "linux")]
    pub(crate) fn remove(&mut self, stream: &TcpStream) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_DEL, stream, 0)
    }

    #[cfg(target_os = "linux")]
    fn control(&self, op: libc::c_int, stream: &TcpStream, token: usize) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token as u64,
        };
        // SAFETY: both descriptors are open for the whole call, and `event`
        // is a live epoll_event the kernel only reads.
        let done =
            unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), op, stream.as_raw_fd(), &mut event) };
        if done < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits at most `timeout` for some watched socket to become readable
    /// (or closed), and puts the tokens of those that are into `ready`.
    /// A signal just ends the wait early, with nothing ready.
    #[cfg(target_os = "linux")]
    pub(crate) fn wait(&mut self, ready: &mut Vec<usize>, timeout: Duration) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        const MAX_EVENTS: usize = 256;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; MAX_EVENTS];
        let millis = timeout.as_millis().min(1000) as libc::c_int;
        ready.clear();
        // SAFETY: `events` is a live, writable array of `MAX_EVENTS` entries
        // for the whole call, and the epoll descriptor is open.
        let count = unsafe {
            libc::epoll_wait(
                self.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                MAX_EVENTS as libc::c_int,
                millis,
            )
        };
        if count < 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(err)
            };
        }
        ready.extend(
            events[..count.unsigned_abs() as usize]
                .iter()
                .map(|e| e.u64 as usize),
        );
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn new() -> io::Result<Poller> {
        Ok(Poller {
            watched: Vec::new(),
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn add(&mut self, stream: &TcpStream, token: usize) -> io::Result<()> {
        self.watched.push((pollfd(stream), token));
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn remove(&mut self, stream: &TcpStream) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        self.watched.retain(|(fd, _)| fd.fd != stream.as_raw_fd());
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn wait(&mut self, ready: &mut Vec<usize>, timeout: Duration) -> io::Result<()> {
        let mut fds: Vec<libc::pollfd> = self.watched.iter().map(|(fd, _)| *fd).collect();
        ready.clear();
        poll_readable(&mut fds, timeout)?;
        ready.extend(
            fds.iter()
                .zip(&self.watched)
                .filter(|(fd, _)| fd.revents != 0)
                .map(|(_, (_, token))| *token),
        );
        Ok(())
    }
}

fn pollfd(stream: &TcpStream) -> libc::pollfd {
    use std::os::fd::AsRawFd;
    libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Formats a duration for a table: microseconds below 10 ms, else ms.
pub fn show_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 10_000.0 {
        format!("{micros:.0}µs")
    } else {
        format!("{:.1}ms", micros / 1000.0)
    }
}

/// Formats a byte count in MiB.
pub fn show_mib(bytes: Option<u64>) -> String {
    bytes.map_or("?".to_string(), |b| {
        format!("{:.1} MiB", b as f64 / 1048576.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_bucket(value: u64) {
        let index = Histogram::index(value);
        let floor = Histogram::floor(index);
        assert!(floor <= value, "{value}: floor {floor}");
        assert!(
            value - floor <= value / SUB as u64,
            "{value}: floor {floor} is too far below"
        );
        if index + 1 < Histogram::new().counts.len() {
            assert!(Histogram::floor(index + 1) > value, "{value}");
        }
    }

    #[test]
    fn buckets_hold_their_values() {
        for value in (0..5000).chain([65_535, 1 << 20, 123_456_789, u64::MAX / 3, u64::MAX]) {
            check_bucket(value);
        }
    }

    #[test]
    fn quantiles() {
        let mut h = Histogram::new();
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert!((49_000..=50_000).contains(&(s.p50.as_nanos() as u64)));
        assert!((97_000..=99_000).contains(&(s.p99.as_nanos() as u64)));
        assert_eq!(s.max, Duration::from_micros(100));
    }

    #[test]
    fn lines_split_anywhere() {
        let input = b"MEMBERS a b\r\nMSG a 1\nMSG a 2\n";
        for at in 0..=input.len() {
            let mut lines = Lines::default();
            let mut got = Vec::new();
            lines.split(&input[..at], &mut |l: &[u8]| got.push(l.to_vec()));
            lines.split(&input[at..], &mut |l: &[u8]| got.push(l.to_vec()));
            assert_eq!(
                got,
                [
                    b"MEMBERS a b".to_vec(),
                    b"MSG a 1".to_vec(),
                    b"MSG a 2".to_vec()
                ],
                "split at {at}"
            );
        }
    }

    #[test]
    fn poller_reports_the_sockets_with_something_to_read() {
        use std::io::Write;
        use std::net::TcpListener;

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut pairs = Vec::new();
        for _ in 0..3 {
            let client = TcpStream::connect(addr).unwrap();
            let (server, _) = listener.accept().unwrap();
            pairs.push((client, server));
        }
        let mut poller = Poller::new().unwrap();
        for (token, (client, _)) in pairs.iter().enumerate() {
            poller.add(client, token * 10).unwrap();
        }
        let mut ready = Vec::new();
        poller.wait(&mut ready, Duration::ZERO).unwrap();
        assert_eq!(ready, Vec::<usize>::new(), "nothing was sent yet");

        (&pairs[1].1).write_all(b"x\n").unwrap();
        let (closed_client, closed_server) = pairs.remove(2);
        drop(closed_server);
        // Level-triggered: both stay ready, however many waits it takes to
        // see them together.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while ready.len() < 2 && std::time::Instant::now() < deadline {
            poller.wait(&mut ready, Duration::from_millis(100)).unwrap();
        }
        ready.sort();
        assert_eq!(ready, [10, 20], "one socket has a line, one was closed");

        poller.remove(&pairs[1].0).unwrap();
        poller.wait(&mut ready, Duration::ZERO).unwrap();
        assert_eq!(ready, [20], "a removed socket is not reported");
        drop(closed_client);
    }
}
