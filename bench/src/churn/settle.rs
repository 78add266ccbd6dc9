//! After the load: the watcher joins and LISTs until only it is online,
//! the database is read, the watcher logs out, and the server's threads and
//! descriptors must come back down. It must never open the live database
//! with `Store::open`: it reads it through a read-only connection of its own.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::sampler::Sampler;
use super::{ChurnOptions, ChurnReport, REPLY_DEADLINE};
use crate::registry::{BENCH_PASSWORD, peer_name};
use crate::{BenchError, proc_status_field, thread_count};
use p2pchat::db::DbError;

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
    let watcher = peer_name(options.peers);
    let stream = TcpStream::connect(options.addr)?;
    stream.set_read_timeout(Some(REPLY_DEADLINE))?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    (&stream).write_all(format!("JOIN {watcher} {BENCH_PASSWORD} 9999\n").as_bytes())?;
    reader.read_line(&mut line)?;
    if !line.starts_with("OK JOINED ") {
        return Err(BenchError::Setup(format!(
            "the watcher's JOIN got {:?}",
            line.trim_end()
        )));
    }
    loop {
        (&stream).write_all(b"LIST\n")?;
        line.clear();
        reader.read_line(&mut line)?;
        let Some(count) = line
            .trim_end()
            .strip_prefix("OK LIST ")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            return Err(BenchError::Setup(format!(
                "the watcher's LIST got {:?}",
                line.trim_end()
            )));
        };
        let mut names = Vec::with_capacity(count);
        for _ in 0..count {
            line.clear();
            reader.read_line(&mut line)?;
            if let Some(name) = line.strip_prefix("USER ").and_then(|r| r.split(' ').next()) {
                names.push(name.to_string());
            }
        }
        report.settle_list = names;
        report.settled = report.settle_list == [watcher.clone()];
        if report.settled || Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    report.settle_time = start.elapsed();
    report.online_settled = online_in_db(&options.db)?;
    (&stream).write_all(b"LOGOUT\n")?;
    line.clear();
    reader.read_line(&mut line)?;
    if line.trim_end() != "OK BYE" {
        return Err(BenchError::Setup(format!(
            "the watcher's LOGOUT got {:?}",
            line.trim_end()
        )));
    }
    // The server closes the connection after `OK BYE`.
    line.clear();
    let _ = reader.read_line(&mut line);
    drop(reader);
    drop(stream);
    // `OK BYE` comes after the user went offline, so the database already
    // says so.
    report.online_end = online_in_db(&options.db)?;

    // The connection threads of the last closes may still be on their way
    // out; wait for them, but not for ever.
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
    Ok(())
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
