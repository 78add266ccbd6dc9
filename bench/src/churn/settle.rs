//! After the load: the watcher joins and LISTs until only it is online,
//! the database is read, the watcher logs out, and the server's threads and
//! descriptors must come back down. It must never open the live database
//! with `Store::open`: it reads it through a read-only connection of its own.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use p2pchat::db::DbError;
use p2pchat::wire::Request;

use super::sampler::Sampler;
use super::{ChurnOptions, ChurnReport, REPLY_DEADLINE};
use crate::registry::{BENCH_PASSWORD, peer_name};
use crate::wire_line;
use crate::{BenchError, proc_status_field, thread_count};

/// After the load: joins as the watcher and LISTs until only the watcher is
/// online, reads the database, logs out, reads it again, and waits (with a
/// deadline) for the server's threads and descriptors to come back down.
pub(super) fn settle(
    options: &ChurnOptions,
    report: &mut ChurnReport,
    sampler: &mut Sampler,
) -> Result<(), BenchError> {
    let start = Instant::now();
    let deadline = start + REPLY_DEADLINE + options.hello_timeout * 3;
    let name = peer_name(options.peers);
    let mut watcher = Watcher::join(options.addr, &name)?;
    list_until_settled(&mut watcher, &name, deadline, report)?;
    report.settle_time = start.elapsed();
    // The database follows the registry's memory (LIST) a moment later: a
    // writer thread brings it up to date off the hub's path.
    loop {
        report.online_settled = online_in_db(&options.db)?;
        if report.online_settled == [name.clone()] || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    watcher.logout()?;
    // `OK BYE` comes after the user went offline, so the database already
    // says so.
    report.online_end = online_in_db(&options.db)?;
    wait_for_server(sampler);
    Ok(())
}

/// LISTs every little while until the watcher alone is online, or until
/// `deadline`; the report keeps the last list and whether it settled.
fn list_until_settled(
    watcher: &mut Watcher,
    name: &str,
    deadline: Instant,
    report: &mut ChurnReport,
) -> Result<(), BenchError> {
    loop {
        report.settle_list = watcher.list()?;
        report.settled = report.settle_list == [name];
        if report.settled || Instant::now() >= deadline {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The connection threads of the last closes may still be on their way
/// out; waits for the server's threads and descriptors to come back to
/// their baseline, but not for ever, and records the end of every figure.
fn wait_for_server(sampler: &mut Sampler) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut threads, mut fds) = sampler.sample();
    while (threads != sampler.threads.baseline || fds != sampler.fds.baseline)
        && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(20));
        (threads, fds) = sampler.sample();
    }
    sampler.threads.end = threads;
    sampler.fds.end = fds;
    sampler.memory.end = proc_status_field(Some(sampler.pid), "VmRSS");
    sampler.bench.end = thread_count(None);
}

/// The watcher's connection: blocking, one request at a time, every reply
/// read under `REPLY_DEADLINE`.
struct Watcher {
    reader: BufReader<TcpStream>,
    line: String,
}

impl Watcher {
    /// Connects and joins as `name`.
    fn join(addr: SocketAddr, name: &str) -> Result<Watcher, BenchError> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(REPLY_DEADLINE))?;
        let mut watcher = Watcher {
            reader: BufReader::new(stream),
            line: String::new(),
        };
        watcher.send(&wire_line(Request::Join {
            name: name.into(),
            password: BENCH_PASSWORD.into(),
            port: 9999,
            key: None,
        }))?;
        watcher.read()?;
        if !watcher.line.starts_with("OK JOINED ") {
            return Err(watcher.wrong("JOIN"));
        }
        Ok(watcher)
    }

    /// The names a `LIST` shows.
    fn list(&mut self) -> Result<Vec<String>, BenchError> {
        self.send(&wire_line(Request::List))?;
        self.read()?;
        let Some(count) = self
            .line
            .trim_end()
            .strip_prefix("OK LIST ")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            return Err(self.wrong("LIST"));
        };
        let mut names = Vec::with_capacity(count);
        for _ in 0..count {
            self.read()?;
            let row = self.line.strip_prefix("USER ");
            if let Some(name) = row.and_then(|r| r.split(' ').next()) {
                names.push(name.to_string());
            }
        }
        Ok(names)
    }

    /// Logs out, and reads on until the server closes the connection.
    fn logout(mut self) -> Result<(), BenchError> {
        self.send(&wire_line(Request::Logout))?;
        self.read()?;
        if self.line.trim_end() != "OK BYE" {
            return Err(self.wrong("LOGOUT"));
        }
        // The server closes the connection after `OK BYE`.
        let _ = self.read();
        Ok(())
    }

    fn send(&self, line: &str) -> io::Result<()> {
        self.reader.get_ref().write_all(line.as_bytes())
    }

    /// Reads the next line in place of the last.
    fn read(&mut self) -> io::Result<usize> {
        self.line.clear();
        self.reader.read_line(&mut self.line)
    }

    /// The error for an answer to `request` that is not the one it needs.
    fn wrong(&self, request: &str) -> BenchError {
        BenchError::Setup(format!(
            "the watcher's {request} got {:?}",
            self.line.trim_end()
        ))
    }
}

/// The users the database marks online, from a read-only connection of our
/// own (`Store::open` would mark everyone offline under the live server).
pub fn online_in_db(path: &Path) -> Result<Vec<String>, BenchError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(DbError::from)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(DbError::from)?;
    let mut stmt = conn
        .prepare("SELECT user_name FROM users WHERE status = 1 ORDER BY user_name")
        .map_err(DbError::from)?;
    let names = stmt
        .query_map([], |row| row.get(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .map_err(DbError::from)?;
    Ok(names)
}
