//! The driver's files: the threads that read and sum an offered file
//! (`file-hash`), fetch a file we accepted (`file-fetch`) and send one a
//! peer fetches (`file-send`), each the only reader and writer of its
//! socket and its file; the fetch connections waiting for the core's
//! answer, by number; and what stops each transfer (`files::stop`, which
//! may shut a socket down, never write to it). It carries out the core's
//! `FileOrder`s and tells the core what happens as `Event::File`, which
//! the driver hands on as `Incoming::File`. It decides nothing: the core
//! does.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::conn::{Conn, Received, Stream};
use crate::crypto::IdentityKey;
use crate::files::names::safe_name;
use crate::files::partial::{Quarters, resume_from};
use crate::files::stop::{Stop, Stops};
use crate::files::transfer::{self, TransferError};
use crate::files::{PartFile, disk};
use crate::progress::Throttle;
use crate::trace::Trace;
use crate::wire::{self, Fetch, FileOffer, OfferId, Sending};

use super::effect::{FetchJob, FileOrder, Incoming};
use super::msg::{Done, Event, Failure, FileConn, FileNews, TransferId, Way};
use super::tls::PeerTls;

/// How long a transfer connection may take to open, and how long a
/// transfer may stall before it counts as cut off.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const STALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a transfer tells its bytes done at most: often enough for a
/// bar that moves, rarely enough not to flood the core.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

pub(super) struct FileDesk {
    tls: PeerTls,
    trace: Trace,
    events: Sender<Event>,
    threads: Vec<JoinHandle<()>>,
    /// What stops each transfer running; dropped when it ends.
    stops: Stops<TransferId>,
    /// Fetch connections waiting for the core's answer, by number.
    fetches: HashMap<u64, FileConn>,
    next_fetch: u64,
}

/// A transfer thread's voice: its progress and its end, to the core.
struct Reporter {
    events: Sender<Event>,
    transfer: TransferId,
    stop: Arc<Stop>,
}

impl Reporter {
    fn tell(&self, news: FileNews) {
        let _ = self.events.send(Event::File(news));
    }

    fn started(&self, at: u64) {
        let transfer = self.transfer.clone();
        self.tell(FileNews::Started { transfer, at });
    }

    /// Hears the bytes done; says each quarter passed, and the bytes done
    /// as often as `told` lets it and at the last byte; false once the
    /// transfer is to stop.
    fn step(&self, told: &mut Told, done: u64) -> bool {
        if told.throttle.due(Instant::now()) || done == told.size {
            let transfer = self.transfer.clone();
            self.tell(FileNews::Progress { transfer, done });
        }
        if let Some(pct) = told.quarters.advance(done) {
            let transfer = self.transfer.clone();
            self.tell(FileNews::Quarter { transfer, pct });
        }
        !self.stop.is_stopped()
    }

    /// What `err` is to the user: a transfer stopped here ended because
    /// it was cancelled, whatever its shut socket made of it.
    fn why(&self, err: TransferError) -> TransferError {
        let shut = matches!(err, TransferError::Io(_) | TransferError::CutOff { .. });
        if shut && self.stop.is_stopped() {
            TransferError::Cancelled
        } else {
            err
        }
    }

    fn ended(&self, result: Result<Done, Failure>) {
        let transfer = self.transfer.clone();
        self.tell(FileNews::Ended { transfer, result });
    }
}

/// What a transfer has told of its progress so far.
struct Told {
    size: u64,
    quarters: Quarters,
    throttle: Throttle,
}

impl Told {
    /// A transfer of `size` bytes from byte `from`.
    fn new(size: u64, from: u64) -> Told {
        Told {
            size,
            quarters: Quarters::new(size, from),
            throttle: Throttle::new(PROGRESS_EVERY),
        }
    }
}

impl FileDesk {
    pub(super) fn new(tls: PeerTls, trace: Trace, events: Sender<Event>) -> FileDesk {
        FileDesk {
            tls,
            trace,
            events,
            threads: Vec::new(),
            stops: Stops::default(),
            fetches: HashMap::new(),
            next_fetch: 0,
        }
    }

    /// Carries out `order`; returns what the core hears at once.
    pub(super) fn carry(&mut self, order: FileOrder) -> Option<Incoming> {
        match order {
            FileOrder::Hash { path, to } => self.start_hash(path, to),
            FileOrder::Prepare { from, offer, dir } => {
                let news = prepare(from, offer, &dir, disk::free_space);
                return Some(Incoming::File(news));
            }
            FileOrder::Fetch(job) => self.start_fetch(job),
            FileOrder::Serve {
                fetch,
                to,
                path,
                offer,
                from,
            } => self.start_serve(fetch, to, path, offer, from),
            FileOrder::Refuse { fetch, code, text } => {
                if let Some(mut conn) = self.fetches.remove(&fetch) {
                    let _ = conn.send(&Sending::Err(code, text));
                }
            }
            FileOrder::Cancel(transfer) => {
                self.stops.stop(&transfer);
            }
        }
        None
    }

    /// A peer's `FETCH`, its connection kept here by number.
    pub(super) fn fetched(
        &mut self,
        request: Fetch,
        proved: Option<IdentityKey>,
        conn: FileConn,
    ) -> Incoming {
        self.next_fetch += 1;
        let fetch = self.next_fetch;
        self.fetches.insert(fetch, conn);
        Incoming::Fetch {
            fetch,
            request,
            proved,
        }
    }

    /// What a files thread reported, as the core's input; a transfer that
    /// ended can no longer be stopped.
    pub(super) fn heard(&mut self, news: FileNews) -> Incoming {
        if let FileNews::Ended { transfer, .. } = &news {
            self.stops.ended(transfer);
        }
        Incoming::File(news)
    }

    /// Closes the fetch connections the core did not answer.
    pub(super) fn drop_unclaimed(&mut self) {
        self.fetches.clear();
    }

    /// Stops every transfer and waits for every thread; run as the peer
    /// quits.
    pub(super) fn finish(&mut self) {
        self.stops.stop_all();
        for handle in self.threads.drain(..) {
            let _ = handle.join();
        }
    }

    /// Runs `job` on a thread named `name`, kept to be joined by `finish`;
    /// `failed` is what the core hears if it cannot start.
    fn spawn(&mut self, name: &str, job: impl FnOnce() + Send + 'static, failed: FileNews) {
        self.threads.retain(|h| !h.is_finished());
        match thread::Builder::new().name(name.into()).spawn(job) {
            Ok(handle) => self.threads.push(handle),
            Err(_) => {
                let _ = self.events.send(Event::File(failed));
            }
        }
    }

    fn reporter(&mut self, transfer: TransferId) -> Reporter {
        let stop = self.stops.add(transfer.clone());
        Reporter {
            events: self.events.clone(),
            transfer,
            stop,
        }
    }

    /// Reads and sums `path` on a thread of its own.
    fn start_hash(&mut self, path: PathBuf, to: Option<String>) {
        let events = self.events.clone();
        let failed = FileNews::Hashed {
            path: path.clone(),
            to: to.clone(),
            result: Err("no thread to read the file".to_string()),
        };
        let job = move || {
            let result = offer_for(&path);
            let _ = events.send(Event::File(FileNews::Hashed { path, to, result }));
        };
        self.spawn("file-hash", job, failed);
    }

    /// The recipient's fetch, on a thread of its own.
    fn start_fetch(&mut self, job: FetchJob) {
        let transfer = TransferId {
            id: job.offer.id,
            peer: job.from.clone(),
            way: Way::Receiving,
        };
        let reporter = self.reporter(transfer.clone());
        let (tls, trace) = (self.tls.clone(), self.trace);
        let failed = no_thread(transfer);
        let run = move || {
            let result = fetch(&tls, trace, &job, &reporter).map_err(|err| reporter.why(err));
            reporter.ended(
                result
                    .map(Done::Saved)
                    .map_err(|err| failure(&err, &job.part)),
            );
        };
        self.spawn("file-fetch", run, failed);
    }

    /// The sender's side, on a thread of its own: `SENDING`, then the
    /// bytes.
    fn start_serve(&mut self, fetch: u64, to: String, path: PathBuf, offer: FileOffer, from: u64) {
        let transfer = TransferId {
            id: offer.id,
            peer: to,
            way: Way::Sending,
        };
        let Some(conn) = self.fetches.remove(&fetch) else {
            let result = Err(Failure::from("the connection is gone"));
            let _ = self
                .events
                .send(Event::File(FileNews::Ended { transfer, result }));
            return;
        };
        let reporter = self.reporter(transfer.clone());
        let failed = no_thread(transfer);
        let run = move || {
            let result = serve(conn, &path, &offer, from, &reporter).map_err(|e| reporter.why(e));
            let result = result.map(Done::Sent);
            reporter.ended(result.map_err(|err| Failure::from(err.to_string())));
        };
        self.spawn("file-send", run, failed);
    }
}

fn no_thread(transfer: TransferId) -> FileNews {
    let result = Err(Failure::from("no thread for the transfer"));
    FileNews::Ended { transfer, result }
}

/// Why a receipt failed, and whether its `.part` is kept to resume; the
/// sender hears why only when it is to blame.
fn failure(err: &TransferError, part: &PartFile) -> Failure {
    let why = if err.keeps_part() && part.part().exists() {
        format!("{err}; {} kept to resume", part.part().display())
    } else {
        err.to_string()
    };
    let to_sender = err.blames_sender().then(|| err.to_string());
    Failure { why, to_sender }
}

/// Room for `offer` from `from` in `dir`: the folder made, what a kept
/// `.part` is worth, the free space (as `free_space` tells it) checked.
fn prepare(
    from: String,
    offer: FileOffer,
    dir: &Path,
    free_space: impl Fn(&Path) -> Option<u64>,
) -> FileNews {
    let shown = dir.display();
    if let Err(err) = disk::private_dir(dir) {
        let why = format!("the download folder {shown} cannot be made: {err}");
        return FileNews::Unprepared { from, offer, why };
    }
    let part = PartFile::for_offer(dir, &offer);
    disk::sweep_parts(dir, std::time::SystemTime::now(), &part.part());
    let (note, len) = part.kept();
    let resume = resume_from(note.as_deref(), len, &offer);
    let needed = offer.size - resume;
    if let Err(free) = disk::room_for(free_space(dir), needed) {
        let why = format!("only {free} bytes are free in {shown}");
        return FileNews::Unprepared { from, offer, why };
    }
    FileNews::Prepared {
        from,
        offer,
        part,
        resume,
    }
}

/// The offer of the file at `path`: its safe name, size, checksum and a
/// fresh random id.
fn offer_for(path: &Path) -> Result<FileOffer, String> {
    let shown = path.display();
    if !path.is_file() {
        return Err(format!("{shown} is not a file"));
    }
    let unreadable = |err: io::Error| format!("{shown} cannot be read: {err}");
    let file = File::open(path).map_err(unreadable)?;
    let (sum, size) = transfer::checksum_of(BufReader::new(file)).map_err(unreadable)?;
    let offered = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let name = safe_name(&offered.unwrap_or_default());
    wire::check_file_name(&name).map_err(|err| err.text)?;
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|err| format!("no random offer id: {err}"))?;
    Ok(FileOffer {
        id: OfferId(u64::from_le_bytes(bytes)),
        size,
        sum,
        name,
    })
}

/// The recipient's side: connect to the sender's seat (held to its key),
/// `FETCH`, check `SENDING`, receive into the `.part`.
fn fetch(
    tls: &PeerTls,
    trace: Trace,
    job: &FetchJob,
    reporter: &Reporter,
) -> Result<PathBuf, TransferError> {
    let offer = &job.offer;
    let other = |text: String| TransferError::Io(io::Error::other(text));
    let stream = tls
        .connect(job.seat.addr, CONNECT_TIMEOUT, Some(&job.seat.key))
        .map_err(|err| other(err.to_string()))?;
    stream.socket().set_read_timeout(Some(STALL_TIMEOUT))?;
    reporter.stop.arm(stream.socket());
    let mut conn: Conn<Stream, Sending, Fetch> = Conn::new(stream, &job.from, trace)?;
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
            return Err(TransferError::Announced { count, expected });
        }
        Received::Line(Sending::Err(_, text)) => {
            return Err(other(format!("the sender refused: {text}")));
        }
        _ => return Err(other("the sender did not answer FETCH".to_string())),
    }
    let (reader, _writer) = conn.into_split();
    let mut bytes = reader.into_buffered();
    let mut told = Told::new(offer.size, job.resume);
    reporter.started(job.resume);
    transfer::receive_bytes(&mut bytes, &job.part, offer, job.resume, &mut |done| {
        reporter.step(&mut told, done)
    })
}

/// The sender's side: `SENDING`, then `offer`'s bytes from byte `from`;
/// the count sent.
fn serve(
    mut conn: FileConn,
    path: &Path,
    offer: &FileOffer,
    from: u64,
    reporter: &Reporter,
) -> Result<u64, TransferError> {
    // A recipient that stops reading holds this thread no longer than a
    // stall may last.
    let _ = conn.socket().set_write_timeout(Some(STALL_TIMEOUT));
    reporter.stop.arm(conn.socket());
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) => {
            let text = format!("cannot read the file: {err}");
            let _ = conn.send(&Sending::Err(wire::ErrorCode::Internal, text));
            return Err(err.into());
        }
    };
    let count = offer.size - from;
    conn.send(&Sending::Bytes {
        id: offer.id,
        from,
        count,
    })?;
    reporter.started(from);
    let (_reader, writer) = conn.into_split();
    let mut out = writer.into_inner();
    let mut told = Told::new(offer.size, from);
    transfer::send_bytes(&mut file, from, count, &mut out, &mut |done| {
        reporter.step(&mut told, done)
    })?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Checksum;

    fn ten_bytes() -> FileOffer {
        FileOffer {
            id: OfferId(1),
            size: 10,
            sum: Checksum([7; 32]),
            name: "x".into(),
        }
    }

    /// What `prepare` makes of a free space of `free` bytes: the reason
    /// it refused, or the byte it resumes at.
    fn prepared(free: Option<u64>) -> Result<u64, String> {
        let dir = tempfile::tempdir().unwrap();
        match prepare("carol".into(), ten_bytes(), dir.path(), |_| free) {
            FileNews::Prepared { resume, .. } => Ok(resume),
            FileNews::Unprepared { why, .. } => {
                Err(why.replace(&dir.path().display().to_string(), "<dir>"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_offer_is_refused_when_the_disk_has_less_room_than_it_needs() {
        assert_eq!(
            prepared(Some(9)),
            Err("only 9 bytes are free in <dir>".into())
        );
        assert_eq!(
            prepared(Some(0)),
            Err("only 0 bytes are free in <dir>".into())
        );
        assert_eq!(prepared(Some(10)), Ok(0));
        assert_eq!(prepared(None), Ok(0));
    }
}
