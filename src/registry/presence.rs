//! The presence writer: a thread that brings the database's status,
//! address and `last_seen` up to date with the hub's in-memory presence,
//! which is the truth LIST and SEARCH answer from.
//!
//! The hub only sends it changes and never waits for the disk. Changes are
//! coalesced per user (the latest stands; a `Seen` does not undo an
//! `Online` or `Offline`), written in one transaction per batch, and
//! retried with a growing pause when the database fails. A change may carry
//! a `done` sender, dropped once its first write has been tried: the
//! connection thread that waits on it (a JOIN, a LOGOUT), not the hub, pays
//! for the disk. This thread owns its own `Store` connection.

use std::collections::HashMap;
use std::io;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, unbounded};

use crate::db::{Presence, Store};

/// The first pause after a failed write; it doubles up to `MAX_RETRY`.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(2);

/// How many times the last changes are tried when the server stops.
const FINAL_TRIES: usize = 3;

/// One change for the writer, and whom to tell once it has been tried.
struct Change {
    presence: Presence,
    done: Option<Sender<()>>,
}

/// The changes not yet written: the latest per user.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// Keyed by the lower-case name.
    changes: HashMap<String, Presence>,
}

impl Pending {
    pub(super) fn add(&mut self, change: Presence) {
        let key = change.name().to_lowercase();
        if matches!(change, Presence::Seen { .. }) && self.changes.contains_key(&key) {
            // An Online or Offline write stamps last_seen as well.
            return;
        }
        self.changes.insert(key, change);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes to write, in name order so that a test can read them.
    pub(super) fn batch(&self) -> Vec<Presence> {
        let mut batch: Vec<Presence> = self.changes.values().cloned().collect();
        batch.sort_by(|a, b| a.name().cmp(b.name()));
        batch
    }

    pub(super) fn clear(&mut self) {
        self.changes.clear();
    }
}

/// The handle the hub holds: where changes go, and the thread to join.
pub(super) struct PresenceWriter {
    changes: Sender<Change>,
    thread: JoinHandle<()>,
}

impl PresenceWriter {
    /// Starts the writer on its own connection to the database.
    pub(super) fn start(store: Store, log: Option<Sender<String>>) -> io::Result<PresenceWriter> {
        let (changes, inbox) = unbounded();
        let thread = thread::Builder::new()
            .name("registry-presence".into())
            .spawn(move || write_until_closed(store, &inbox, log.as_ref()))?;
        Ok(PresenceWriter { changes, thread })
    }

    /// Queues a change; `done` is dropped once it has been tried.
    pub(super) fn send(&self, presence: Presence, done: Option<Sender<()>>) {
        // The writer only stops when this handle is dropped.
        let _ = self.changes.send(Change { presence, done });
    }

    /// Writes what is left and stops the writer.
    pub(super) fn finish(self) {
        drop(self.changes);
        let _ = self.thread.join();
    }
}

fn log_line(log: Option<&Sender<String>>, line: String) {
    if let Some(log) = log {
        let _ = log.try_send(format!("{} {line}", super::config::log_stamp()));
    }
}

fn write_until_closed(mut store: Store, inbox: &Receiver<Change>, log: Option<&Sender<String>>) {
    let mut pending = Pending::default();
    let mut waiting: Vec<Sender<()>> = Vec::new();
    let mut backoff = Backoff::default();
    loop {
        let closed = gather(inbox, backoff.next_try, &mut pending, &mut waiting);
        if closed {
            for _ in 0..FINAL_TRIES {
                if pending.is_empty() || write(&mut store, &mut pending, log) {
                    break;
                }
            }
            return;
        }
        if backoff.next_try.is_some_and(|at| Instant::now() < at) {
            continue;
        }
        let written = pending.is_empty() || write(&mut store, &mut pending, log);
        backoff.after(written, Instant::now());
        // Tried, whether or not it worked: whoever waits goes on.
        waiting.clear();
    }
}

/// Waits for a change (until `until`, when a retry is due), then takes it
/// and whatever else has arrived, for the same transaction. Returns
/// whether the inbox has closed.
fn gather(
    inbox: &Receiver<Change>,
    until: Option<Instant>,
    pending: &mut Pending,
    waiting: &mut Vec<Sender<()>>,
) -> bool {
    let first = match until {
        None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
        Some(at) => inbox.recv_deadline(at),
    };
    let closed = match first {
        Ok(change) => {
            take(change, pending, waiting);
            false
        }
        Err(RecvTimeoutError::Timeout) => false,
        Err(RecvTimeoutError::Disconnected) => true,
    };
    for change in inbox.try_iter() {
        take(change, pending, waiting);
    }
    closed
}

/// When to try writing again after a failure: doubling from
/// `FIRST_RETRY` up to `MAX_RETRY`, reset by a success.
struct Backoff {
    retry: Duration,
    next_try: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            retry: FIRST_RETRY,
            next_try: None,
        }
    }
}

impl Backoff {
    fn after(&mut self, written: bool, now: Instant) {
        if written {
            *self = Backoff::default();
        } else {
            self.next_try = Some(now + self.retry);
            self.retry = (self.retry * 2).min(MAX_RETRY);
        }
    }
}

fn take(change: Change, pending: &mut Pending, waiting: &mut Vec<Sender<()>>) {
    pending.add(change.presence);
    waiting.extend(change.done);
}

/// Writes the pending changes; true if they are on disk.
fn write(store: &mut Store, pending: &mut Pending, log: Option<&Sender<String>>) -> bool {
    match store.write_presence(&pending.batch()) {
        Ok(()) => {
            pending.clear();
            true
        }
        Err(err) => {
            log_line(
                log,
                format!("error: presence not saved yet, will retry: {err}"),
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn online(name: &str, port: u16) -> Presence {
        Presence::Online {
            name: name.into(),
            ip: "10.0.0.1".parse().unwrap(),
            port,
            client_port: 40000,
            public_key: None,
        }
    }
    fn offline(name: &str) -> Presence {
        Presence::Offline { name: name.into() }
    }
    fn seen(name: &str) -> Presence {
        Presence::Seen { name: name.into() }
    }

    #[track_caller]
    fn check(changes: &[Presence], batch: &[Presence]) {
        let mut pending = Pending::default();
        for change in changes {
            pending.add(change.clone());
        }
        assert_eq!(pending.batch(), batch);
    }

    #[test]
    fn the_latest_change_per_user_stands() {
        check(
            &[online("alice", 1), offline("ALICE"), online("bob", 2)],
            &[offline("ALICE"), online("bob", 2)],
        );
        check(
            &[offline("alice"), online("Alice", 3)],
            &[online("Alice", 3)],
        );
    }

    #[test]
    fn seen_does_not_undo_online_or_offline() {
        check(&[online("alice", 1), seen("alice")], &[online("alice", 1)]);
        check(&[offline("alice"), seen("alice")], &[offline("alice")]);
        check(&[seen("alice"), seen("alice")], &[seen("alice")]);
        check(&[seen("alice"), offline("alice")], &[offline("alice")]);
    }
}
