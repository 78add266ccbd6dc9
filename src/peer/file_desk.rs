//! The files a peer holds and moves: its offers both ways, the transfers
//! running, and the transfer threads. The app thread and the chat
//! connection threads (a `FETCH` arrives on the chat listener) share one
//! `FileDesk`, whose locks are held only to read or change a table, never
//! across I/O. A transfer runs on its own thread (`file-fetch` on the
//! recipient, the `chat-connection` thread that got the `FETCH` on the
//! sender), the only writer of its socket; it tells the app what happens
//! with `Event::File`.

use std::fs::File;
use std::io::BufReader;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::conn::{Conn, Received, Stream};
use crate::crypto::{IdentityKey, PeerKey};
use crate::files::partial::Quarters;
use crate::files::transfer::{self, TransferError};
use crate::files::{IncomingOffers, OfferLimits, OutgoingOffers, PartFile, Slot, Slots};
use crate::trace::Trace;
use crate::wire::{ErrorCode, Fetch, FileOffer, OfferId, Sending};

use super::msg::{Event, FileNews};
use super::tls::{PeerTls, proved_key_is};

/// How long a transfer connection may take to open, and how long a
/// transfer may stall before it counts as cut off.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Where files go and what is accepted: `--download-dir`,
/// `--max-file-size`, `--offer-timeout`.
#[derive(Debug, Clone)]
pub struct FileConfig {
    pub download_dir: PathBuf,
    pub max_file_size: u64,
    pub offer_timeout: Duration,
    pub max_transfers: usize,
}

impl Default for FileConfig {
    fn default() -> FileConfig {
        FileConfig {
            download_dir: default_download_dir(),
            max_file_size: crate::files::DEFAULT_MAX_FILE_SIZE,
            offer_timeout: crate::files::offers::DEFAULT_OFFER_TIMEOUT,
            max_transfers: crate::files::DEFAULT_MAX_TRANSFERS,
        }
    }
}

/// The platform's download folder for p2pchat (`~/Downloads/p2pchat`), or
/// `p2pchat-downloads` in the working folder where there is none.
pub fn default_download_dir() -> PathBuf {
    dirs::download_dir().map_or_else(|| PathBuf::from("p2pchat-downloads"), |d| d.join("p2pchat"))
}

/// Which way a transfer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Way {
    Sending,
    Receiving,
}

/// A transfer running, as `/files` shows it and `/cancel` stops it.
#[derive(Debug, Clone)]
pub(super) struct Running {
    pub(super) id: OfferId,
    pub(super) peer: String,
    pub(super) name: String,
    pub(super) way: Way,
    pub(super) size: u64,
    pub(super) done: Arc<AtomicU64>,
    pub(super) cancel: Arc<AtomicBool>,
}

/// What a recipient's fetch needs: whom, where, which key, which offer,
/// into which `.part`, from which byte.
pub(super) struct FetchJob {
    pub(super) me: String,
    pub(super) from: String,
    pub(super) addr: SocketAddr,
    pub(super) key: Option<PeerKey>,
    pub(super) offer: FileOffer,
    pub(super) part: PartFile,
    pub(super) resume: u64,
}

pub(super) struct FileDesk {
    pub(super) config: FileConfig,
    pub(super) incoming: Mutex<IncomingOffers>,
    pub(super) outgoing: Mutex<OutgoingOffers>,
    running: Mutex<Vec<Running>>,
    slots: Slots,
    threads: Mutex<Vec<JoinHandle<()>>>,
    events: Sender<Event>,
    trace: Trace,
}

/// A lock whose holder panicked still guards a usable table.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FileDesk {
    pub(super) fn new(config: FileConfig, events: Sender<Event>, trace: Trace) -> FileDesk {
        let limits = OfferLimits {
            ttl: config.offer_timeout,
            ..OfferLimits::default()
        };
        FileDesk {
            slots: Slots::new(config.max_transfers),
            incoming: Mutex::new(IncomingOffers::new(limits)),
            outgoing: Mutex::new(OutgoingOffers::new(limits)),
            running: Mutex::new(Vec::new()),
            threads: Mutex::new(Vec::new()),
            config,
            events,
            trace,
        }
    }

    pub(super) fn incoming(&self) -> MutexGuard<'_, IncomingOffers> {
        lock(&self.incoming)
    }

    pub(super) fn outgoing(&self) -> MutexGuard<'_, OutgoingOffers> {
        lock(&self.outgoing)
    }

    pub(super) fn running(&self) -> Vec<Running> {
        lock(&self.running).clone()
    }

    /// Stops the transfers of offer `id` (with `peer`, if named); whether
    /// any was running.
    pub(super) fn cancel(&self, id: OfferId, peer: Option<&str>) -> bool {
        let running = lock(&self.running);
        let mut any = false;
        for r in running
            .iter()
            .filter(|r| r.id == id && peer.is_none_or(|p| p == r.peer))
        {
            r.cancel.store(true, Ordering::SeqCst);
            any = true;
        }
        any
    }

    fn begin(&self, id: OfferId, peer: &str, name: &str, way: Way, size: u64) -> Running {
        let running = Running {
            id,
            peer: peer.to_string(),
            name: name.to_string(),
            way,
            size,
            done: Arc::new(AtomicU64::new(0)),
            cancel: Arc::new(AtomicBool::new(false)),
        };
        lock(&self.running).push(running.clone());
        running
    }

    fn end(&self, id: OfferId, peer: &str, way: Way) {
        lock(&self.running).retain(|r| !(r.id == id && r.peer == peer && r.way == way));
    }

    /// A slot for one more transfer, if fewer than the most run.
    pub(super) fn slot(&self) -> Option<Slot> {
        self.slots.take()
    }

    fn tell(&self, news: FileNews) {
        let _ = self.events.send(Event::File(news));
    }

    pub(super) fn events(&self) -> Sender<Event> {
        self.events.clone()
    }

    /// Runs `job` on a thread named `name`, kept to be joined by `finish`.
    pub(super) fn spawn(&self, name: &str, job: impl FnOnce() + Send + 'static) {
        let spawned = thread::Builder::new().name(name.into()).spawn(job);
        let mut threads = lock(&self.threads);
        threads.retain(|h| !h.is_finished());
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(err) => self.tell(FileNews::note(format!("No {name} thread: {err}"))),
        }
    }

    /// Starts the recipient's fetch on its own thread, holding `slot`.
    pub(super) fn start_fetch(self: &Arc<Self>, tls: PeerTls, job: FetchJob, slot: Slot) {
        let desk = Arc::clone(self);
        self.spawn("file-fetch", move || {
            let _slot = slot;
            desk.fetch(&tls, job);
        });
    }

    /// Waits for every transfer thread; run at shutdown, after each was
    /// told to stop.
    pub(super) fn finish(&self) {
        for r in lock(&self.running).iter() {
            r.cancel.store(true, Ordering::SeqCst);
        }
        let threads = std::mem::take(&mut *lock(&self.threads));
        for handle in threads {
            let _ = handle.join();
        }
    }

    /// The recipient's side: connect to the sender (its seat's address,
    /// held to its seat's key), `FETCH`, check `SENDING`, receive.
    fn fetch(&self, tls: &PeerTls, job: FetchJob) {
        let offer = &job.offer;
        let running = self.begin(offer.id, &job.from, &offer.name, Way::Receiving, offer.size);
        let result = self.fetch_bytes(tls, &job, &running);
        self.end(offer.id, &job.from, Way::Receiving);
        let news = match result {
            Ok(path) => FileNews::note(format!(
                "Saved {} from {} at {} ({} bytes, checksum verified).",
                offer.name,
                job.from,
                path.display(),
                offer.size
            )),
            Err(err) => {
                let kept = if err.keeps_part() && job.part.part().exists() {
                    format!("; {} kept to resume", job.part.part().display())
                } else {
                    String::new()
                };
                FileNews::Failed {
                    peer: job.from.clone(),
                    id: offer.id,
                    line: format!(
                        "Receiving {} from {} failed: {err}{kept}.",
                        offer.name, job.from
                    ),
                }
            }
        };
        self.tell(news);
    }

    fn fetch_bytes(
        &self,
        tls: &PeerTls,
        job: &FetchJob,
        running: &Running,
    ) -> Result<PathBuf, TransferError> {
        let offer = &job.offer;
        let io =
            |err: super::tls::LinkError| TransferError::Io(std::io::Error::other(err.to_string()));
        let stream = tls
            .connect(job.addr, CONNECT_TIMEOUT, job.key.as_ref())
            .map_err(io)?;
        stream.socket().set_read_timeout(Some(STALL_TIMEOUT))?;
        let mut conn: Conn<Stream, Sending, Fetch> = Conn::new(stream, &job.from, self.trace)?;
        conn.send(&Fetch {
            who: job.me.clone(),
            id: offer.id,
            from: job.resume,
        })?;
        let expected = offer.size - job.resume;
        match conn.recv()? {
            Received::Line(Sending::Bytes { id, from, count })
                if id == offer.id && from == job.resume && count == expected => {}
            Received::Line(Sending::Bytes { count, .. }) => {
                job.part.remove();
                return Err(TransferError::Io(std::io::Error::other(format!(
                    "the sender announced {count} bytes, not the {expected} offered: refused"
                ))));
            }
            Received::Line(Sending::Err(_, text)) => {
                return Err(TransferError::Io(std::io::Error::other(format!(
                    "the sender refused: {text}"
                ))));
            }
            _ => {
                return Err(TransferError::Io(std::io::Error::other(
                    "the sender did not answer FETCH",
                )));
            }
        }
        let (reader, _writer) = conn.into_split();
        let mut bytes: BufReader<_> = reader.into_buffered();
        std::fs::create_dir_all(&job.part.dir)?;
        let mut quarters = Quarters::new(offer.size, job.resume);
        let what = format!("Receiving {} from {}", offer.name, job.from);
        self.tell(FileNews::note(format!(
            "{what}: started at byte {}.",
            job.resume
        )));
        transfer::receive_bytes(&mut bytes, &job.part, offer, job.resume, &mut |done| {
            running.done.store(done, Ordering::Relaxed);
            if let Some(pct) = quarters.advance(done) {
                self.tell(FileNews::note(format!("{what}: {pct} %.")));
            }
            !running.cancel.load(Ordering::SeqCst)
        })
    }

    /// The sender's side, on the chat connection thread that read
    /// `fetch`: the offer must be ours, accepted by `fetch.who`, whose key
    /// (under TLS) is the one the connection proved; then `SENDING` and the
    /// bytes.
    pub(super) fn serve(
        &self,
        conn: Conn<Stream, String, Sending>,
        fetch: &Fetch,
        proved: Option<IdentityKey>,
    ) {
        let mut conn = conn;
        // A recipient that stops reading holds this thread no longer than
        // a stall may last.
        let _ = conn.socket().set_write_timeout(Some(STALL_TIMEOUT));
        let checked = self.check_fetch(fetch, proved);
        let (path, offer, slot) = match checked {
            Ok(found) => found,
            Err((code, text)) => {
                let _ = conn.send(&Sending::Err(code, text));
                return;
            }
        };
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(err) => {
                let _ = conn.send(&Sending::Err(
                    ErrorCode::Internal,
                    format!("cannot read the file: {err}"),
                ));
                return;
            }
        };
        let count = offer.size - fetch.from;
        let running = self.begin(offer.id, &fetch.who, &offer.name, Way::Sending, offer.size);
        let what = format!("Sending {} to {}", offer.name, fetch.who);
        let header = Sending::Bytes {
            id: offer.id,
            from: fetch.from,
            count,
        };
        let result = conn
            .send(&header)
            .map_err(TransferError::from)
            .and_then(|()| {
                self.tell(FileNews::note(format!(
                    "{what}: started at byte {}.",
                    fetch.from
                )));
                let (_reader, writer) = conn.into_split();
                let mut out = writer.into_inner();
                let mut quarters = Quarters::new(offer.size, fetch.from);
                transfer::send_bytes(&mut file, fetch.from, count, &mut out, &mut |done| {
                    running.done.store(done, Ordering::Relaxed);
                    if let Some(pct) = quarters.advance(done) {
                        self.tell(FileNews::note(format!("{what}: {pct} %.")));
                    }
                    !running.cancel.load(Ordering::SeqCst)
                })
            });
        self.end(offer.id, &fetch.who, Way::Sending);
        drop(slot);
        self.tell(FileNews::note(match result {
            Ok(()) => format!("{what}: done ({count} bytes sent)."),
            Err(err) => format!("{what} failed: {err}."),
        }));
    }

    fn check_fetch(
        &self,
        fetch: &Fetch,
        proved: Option<IdentityKey>,
    ) -> Result<(PathBuf, FileOffer, Slot), (ErrorCode, String)> {
        let outgoing = self.outgoing();
        let found = outgoing
            .fetchable(fetch.id, &fetch.who, Instant::now())
            .ok_or((
                ErrorCode::NotFound,
                "no such offer accepted by you".to_string(),
            ))?;
        let key = found.keys.get(&fetch.who).cloned().flatten();
        proved_key_is(proved, key.as_ref()).map_err(|err| (ErrorCode::BadKey, err.to_string()))?;
        if fetch.from > found.offer.size {
            return Err((
                ErrorCode::BadArgs,
                "that byte is past the end of the file".into(),
            ));
        }
        let slot = self.slot().ok_or((
            ErrorCode::ServerFull,
            "too many transfers at once; try again".to_string(),
        ))?;
        Ok((found.path.clone(), found.offer.clone(), slot))
    }
}
