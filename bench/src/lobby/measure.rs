//! The measurement of a lobby run: the reader threads started, then the
//! sender's messages once every receiver is in, then the readers' tallies
//! added up into a `LobbyReport`. Every wait has a deadline.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};

use super::proto::message_text;
use super::reader::read_receivers;
use super::report::Tally;
use super::setup::Setup;
use super::{LobbyOptions, LobbyReport};
use crate::BenchError;

/// State shared by the sender and the reader threads.
pub(super) struct Shared {
    pub(super) origin: Instant,
    pub(super) stop: AtomicBool,
    pub(super) delivered: AtomicU64,
}

/// Starts the readers over `setup`'s receivers, sends every message, and
/// reports what the readers counted.
pub(super) fn measure(
    options: &LobbyOptions,
    setup: &mut Setup,
) -> Result<LobbyReport, BenchError> {
    let shared = Arc::new(Shared {
        origin: Instant::now(),
        stop: AtomicBool::new(false),
        delivered: AtomicU64::new(0),
    });
    let (ready_tx, ready) = unbounded();
    let (done_tx, done) = unbounded();
    let receivers = setup.receivers.len();
    let handles = spawn_readers(options, setup, &shared, &ready_tx, &done_tx)?;
    drop((ready_tx, done_tx));

    let outcome = send_all(
        options,
        setup,
        receivers,
        &shared,
        (&ready, &done),
        handles.len(),
    );
    shared.stop.store(true, Ordering::SeqCst);
    let mut total = Tally::default();
    for handle in handles {
        let tally = handle
            .join()
            .map_err(|_| BenchError::Setup("a reader thread panicked".into()))?;
        total.merge(&tally);
    }
    let (first_send, last_send) = outcome?;
    Ok(report(options, setup, &total, first_send, last_send))
}

/// Shares the receivers out among the reader threads and starts them;
/// each says on `ready_tx` when a receiver is in the lobby, and on
/// `done_tx` when it has finished.
fn spawn_readers(
    options: &LobbyOptions,
    setup: &mut Setup,
    shared: &Arc<Shared>,
    ready_tx: &Sender<()>,
    done_tx: &Sender<()>,
) -> Result<Vec<JoinHandle<Tally>>, BenchError> {
    let readers = options.readers.clamp(1, setup.receivers.len());
    let mut slices: Vec<Vec<_>> = (0..readers).map(|_| Vec::new()).collect();
    for (i, member) in std::mem::take(&mut setup.receivers).into_iter().enumerate() {
        member.read.socket().set_nonblocking(true)?;
        slices[i % readers].push(member);
    }
    let mut handles = Vec::with_capacity(readers);
    for (i, slice) in slices.into_iter().enumerate() {
        let mine = Arc::clone(shared);
        let ready_tx = ready_tx.clone();
        let done_tx = done_tx.clone();
        let proto = setup.proto;
        let messages = options.messages;
        let spawned = thread::Builder::new()
            .name(format!("bench-reader-{i}"))
            .spawn(move || {
                let tally = read_receivers(proto, slice, messages, &mine, &ready_tx);
                let _ = done_tx.send(());
                tally
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(err) => {
                shared.stop.store(true, Ordering::SeqCst);
                return Err(err.into());
            }
        }
    }
    Ok(handles)
}

/// The report of a run whose readers counted `total`, and whose sends
/// went from `first_send` to `last_send` (nanoseconds since the origin).
fn report(
    options: &LobbyOptions,
    setup: &Setup,
    total: &Tally,
    first_send: u64,
    last_send: u64,
) -> LobbyReport {
    let expected = (options.members as u64 - 1) * options.messages;
    LobbyReport {
        target: setup.target.clone(),
        members: options.members,
        messages: options.messages,
        rate: options.rate,
        size: options.size,
        expected,
        delivered: total.delivered,
        lost: expected.saturating_sub(total.delivered),
        out_of_order: total.out_of_order,
        disconnected: total.disconnected,
        elapsed: Duration::from_nanos(total.last_delivery.saturating_sub(first_send)),
        send_time: Duration::from_nanos(last_send.saturating_sub(first_send)),
        latency: total.latency.summary(),
        bytes_received: total.bytes,
        lines_received: total.lines,
        peak_memory: None,
        security: setup.security.label(),
        memory_of: setup.memory_of.clone(),
        baseline_memory: None,
        flood_exempt: setup.flood_exempt,
    }
}

/// Waits for every receiver to be in the lobby, sends every message, and
/// waits for the readers. Returns the first and last send times (nanoseconds
/// since the origin).
fn send_all(
    options: &LobbyOptions,
    setup: &mut Setup,
    receivers: usize,
    shared: &Shared,
    (ready, done): (&Receiver<()>, &Receiver<()>),
    readers: usize,
) -> Result<(u64, u64), BenchError> {
    await_receivers(receivers, ready)?;
    let sends = send_messages(options, setup, shared)?;
    await_readers(options, shared, done, readers);
    Ok(sends)
}

/// Waits, for at most a minute, until all `receivers` are in the lobby.
fn await_receivers(receivers: usize, ready: &Receiver<()>) -> Result<(), BenchError> {
    let join_deadline = Instant::now() + Duration::from_secs(60);
    for joined in 0..receivers {
        if ready.recv_deadline(join_deadline).is_err() {
            return Err(BenchError::Setup(format!(
                "only {joined} of {receivers} receivers got into the lobby"
            )));
        }
    }
    Ok(())
}

/// Sends every message, at the rate asked for if any; returns the first
/// and last send times.
fn send_messages(
    options: &LobbyOptions,
    setup: &mut Setup,
    shared: &Shared,
) -> Result<(u64, u64), BenchError> {
    let mut text = Vec::with_capacity(options.size + 40);
    let mut line = Vec::with_capacity(options.size + 40);
    let proto = setup.proto;
    let sender = &mut setup.sender;
    let nanos = || shared.origin.elapsed().as_nanos() as u64;
    let start = Instant::now();
    let mut first_send = None;
    let mut last_send = 0;
    let mut last_progress = Instant::now();
    for seq in 0..options.messages {
        if options.rate > 0.0 {
            let due = start + Duration::from_secs_f64(seq as f64 / options.rate);
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
        }
        let sent = nanos();
        first_send.get_or_insert(sent);
        last_send = sent;
        message_text(&mut text, seq, sent, options.size);
        line.clear();
        proto.send_line(&mut line, &text);
        sender.write_all(&line)?;
        if options.progress && last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            progress(options, shared, seq + 1);
        }
    }
    Ok((first_send.unwrap_or(0), last_send))
}

/// Waits until the readers finished, or the run's timeout passed.
fn await_readers(options: &LobbyOptions, shared: &Shared, done: &Receiver<()>, readers: usize) {
    let deadline = Instant::now() + options.timeout;
    let mut finished = 0;
    while finished < readers {
        let wait = (deadline.min(Instant::now() + Duration::from_secs(1)))
            .saturating_duration_since(Instant::now());
        match done.recv_timeout(wait) {
            Ok(()) => finished += 1,
            Err(_) if Instant::now() >= deadline => break,
            Err(_) => {
                if options.progress {
                    progress(options, shared, options.messages);
                }
            }
        }
    }
}

fn progress(options: &LobbyOptions, shared: &Shared, sent: u64) {
    let expected = (options.members as u64 - 1) * options.messages;
    eprintln!(
        "bench: sent {sent}/{}, delivered {}/{expected}",
        options.messages,
        shared.delivered.load(Ordering::Relaxed)
    );
}
