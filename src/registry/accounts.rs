//! The account writer: the thread that adds accounts to the database, each
//! synced to disk before its `OK REGISTERED`, so that the few milliseconds
//! of that sync hold up only the client registering, never the hub.
//!
//! It owns its own `Store` connection and does nothing else; it never sees
//! a plain password (it gets the hash).

use std::fmt;
use std::io;
use std::thread::{self, JoinHandle};

use crossbeam_channel::{Sender, bounded, unbounded};

use crate::db::Store;
use crate::wire::{ErrorCode, Reply};

/// One account to add, and where the answer goes.
struct NewAccount {
    name: String,
    hash: String,
    reply: Sender<Reply>,
}

/// Where connection threads send new accounts; cheap to clone.
#[derive(Clone)]
pub(super) struct AccountQueue {
    jobs: Sender<NewAccount>,
}

impl AccountQueue {
    /// Adds an account and waits until it is on disk, or refused.
    pub(super) fn add(&self, name: String, hash: String) -> Option<Reply> {
        let (reply, answer) = bounded(1);
        self.jobs.send(NewAccount { name, hash, reply }).ok()?;
        answer.recv().ok()
    }
}

/// The writer's thread, joined once every `AccountQueue` is gone.
pub(super) struct AccountWriter {
    queue: Option<AccountQueue>,
    thread: Option<JoinHandle<()>>,
}

impl AccountWriter {
    pub(super) fn start(store: Store, log: Option<Sender<String>>) -> io::Result<AccountWriter> {
        let (jobs, inbox) = unbounded::<NewAccount>();
        let thread = thread::Builder::new()
            .name("registry-accounts".into())
            .spawn(move || {
                for job in inbox {
                    let answer = add(&store, &job.name, &job.hash, log.as_ref());
                    let _ = job.reply.send(answer);
                }
            })?;
        Ok(AccountWriter {
            queue: Some(AccountQueue { jobs }),
            thread: Some(thread),
        })
    }

    pub(super) fn queue(&self) -> AccountQueue {
        self.queue.clone().expect("the queue is only taken in drop")
    }
}

impl Drop for AccountWriter {
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn log(log: Option<&Sender<String>>, what: fmt::Arguments<'_>) {
    if let Some(log) = log {
        let _ = log.try_send(format!("{} {what}", super::config::log_stamp()));
    }
}

fn add(store: &Store, name: &str, hash: &str, to: Option<&Sender<String>>) -> Reply {
    match store.add_user(name, hash) {
        Ok(true) => {
            log(to, format_args!("registered {name}"));
            Reply::Registered(name.to_string())
        }
        Ok(false) => Reply::Err(
            ErrorCode::NameTaken,
            format!("the name {name} is taken; pick another"),
        ),
        Err(err) => {
            if let Some(to) = to {
                let _ = to.try_send(format!("{} error: {err}", super::config::log_stamp()));
            }
            Reply::Err(
                ErrorCode::Internal,
                "the registry database failed; try again".into(),
            )
        }
    }
}
