//! The lobby benchmark: one member floods a lobby, every other member counts
//! what arrives, in order, and how long each line took.
//!
//! The lobby is either a real `Lobby` hub hosted by this process, its members
//! admitted over loopback TCP, or a channel on an IRC server, so both are
//! measured by the same load code. Each message carries its sequence number
//! and the nanoseconds since a shared `Instant` at which it was sent.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, unbounded};

use super::{
    BenchError, Histogram, Latency, Lines, Poller, ReadEnd, peak_memory, reset_peak_memory,
};
use p2pchat::line::LineReader;
use p2pchat::lobby::{Lobby, LobbyConfig};

/// The IRC channel the load joins.
const CHANNEL: &str = "#bench";

/// What the load talks to.
#[derive(Debug, Clone)]
pub enum Target {
    /// A `Lobby` hub started by the benchmark, in this process.
    Hub,
    /// A channel on the IRC server at `addr`.
    Irc(IrcTarget),
}

#[derive(Debug, Clone)]
pub struct IrcTarget {
    pub addr: SocketAddr,
    /// An `[Operator]` name and password: the sender becomes an operator and
    /// sets user mode `+F` (ngIRCd's relaxed flood protection).
    pub oper: Option<(String, String)>,
    /// The server's process, to read its peak memory.
    pub pid: Option<u32>,
}

/// How a lobby run is set up.
#[derive(Debug, Clone)]
pub struct LobbyOptions {
    /// Everyone in the lobby, the sender included (the hub's leader is not
    /// counted: it is not a connection).
    pub members: usize,
    pub messages: u64,
    /// Messages per second; 0 sends as fast as the connection takes them.
    pub rate: f64,
    /// The length of each message's text, in bytes.
    pub size: usize,
    /// Threads that read the receivers' sockets.
    pub readers: usize,
    /// How long, after the last send, the receivers may take to get it all.
    pub timeout: Duration,
    /// Print a progress line to stderr every second.
    pub progress: bool,
    pub target: Target,
}

impl LobbyOptions {
    pub fn new(members: usize, messages: u64) -> LobbyOptions {
        LobbyOptions {
            members,
            messages,
            rate: 0.0,
            size: 64,
            readers: 2,
            timeout: Duration::from_secs(30),
            progress: false,
            target: Target::Hub,
        }
    }
}

/// What a lobby run measured.
#[derive(Debug, Clone)]
pub struct LobbyReport {
    pub target: String,
    pub members: usize,
    pub messages: u64,
    pub rate: f64,
    pub size: usize,
    /// `(members - 1) × messages`.
    pub expected: u64,
    /// Messages received, each once, whatever their order.
    pub delivered: u64,
    /// Expected deliveries that never came.
    pub lost: u64,
    /// Messages that came with a sequence number other than the next one.
    pub out_of_order: u64,
    /// Receivers whose connection closed before the end.
    pub disconnected: u64,
    /// From the first send to the last delivery.
    pub elapsed: Duration,
    /// From the first send to the last send.
    pub send_time: Duration,
    /// Per delivery, from send to receipt.
    pub latency: Latency,
    pub bytes_received: u64,
    pub lines_received: u64,
    /// The peak resident memory of the process that relays, in bytes.
    pub peak_memory: Option<u64>,
    /// Which process `peak_memory` is of.
    pub memory_of: String,
    /// Whether the IRC sender got flood protection lifted (`None` for the hub).
    pub flood_exempt: Option<bool>,
}

impl LobbyReport {
    pub fn deliveries_per_sec(&self) -> f64 {
        per_sec(self.delivered, self.elapsed)
    }

    /// Messages relayed to everyone per second.
    pub fn messages_per_sec(&self) -> f64 {
        per_sec(self.messages, self.elapsed)
    }
}

fn per_sec(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// How the load speaks to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Hub,
    Irc,
}

impl Proto {
    /// True for the line that shows a receiver is in the lobby.
    fn is_ready(self, line: &[u8]) -> bool {
        match self {
            Proto::Hub => line.starts_with(b"MEMBERS "),
            // RPL_ENDOFNAMES ends the reply to JOIN.
            Proto::Irc => contains(line, b" 366 "),
        }
    }

    /// The text of a chat line, or `None` for any other line.
    fn text(self, line: &[u8]) -> Option<&[u8]> {
        match self {
            Proto::Hub => {
                let rest = line.strip_prefix(b"MSG ")?;
                let space = rest.iter().position(|&b| b == b' ')?;
                Some(&rest[space + 1..])
            }
            Proto::Irc => {
                let marker = b" PRIVMSG #bench :";
                let at = find(line, marker)?;
                Some(&line[at + marker.len()..])
            }
        }
    }

    /// Appends the line that sends `text`.
    fn send_line(self, out: &mut Vec<u8>, text: &[u8]) {
        match self {
            Proto::Hub => {
                out.extend_from_slice(b"MSG ");
                out.extend_from_slice(text);
                out.push(b'\n');
            }
            Proto::Irc => {
                out.extend_from_slice(b"PRIVMSG #bench :");
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// The text of message `seq` sent at `nanos`: both numbers, padded with `x`
/// to `size` bytes.
fn message_text(out: &mut Vec<u8>, seq: u64, nanos: u64, size: usize) {
    out.clear();
    write!(out, "{seq} {nanos} ").expect("writing to a Vec cannot fail");
    while out.len() < size {
        out.push(b'x');
    }
}

/// The sequence number and send time a message text carries.
fn parse_text(text: &[u8]) -> Option<(u64, u64)> {
    let mut words = text.split(|&b| b == b' ');
    let seq = parse_u64(words.next()?)?;
    let nanos = parse_u64(words.next()?)?;
    Some((seq, nanos))
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
    })
}

/// Runs one lobby benchmark.
pub fn run(options: &LobbyOptions) -> Result<LobbyReport, BenchError> {
    if options.members < 2 {
        return Err(BenchError::Setup(
            "a lobby benchmark needs at least 2 members".into(),
        ));
    }
    if options.size > p2pchat::wire::MAX_TEXT.min(400) {
        return Err(BenchError::Setup(format!(
            "messages are at most {} bytes",
            p2pchat::wire::MAX_TEXT.min(400)
        )));
    }
    reset_peak_memory();
    let mut setup = match &options.target {
        Target::Hub => Setup::hub(options.members)?,
        Target::Irc(irc) => Setup::irc(irc, options.members)?,
    };
    let result = measure(options, &mut setup);
    let memory = match &options.target {
        Target::Hub => peak_memory(None),
        Target::Irc(irc) => irc.pid.and_then(|pid| peak_memory(Some(pid))),
    };
    setup.finish();
    let mut report = result?;
    report.peak_memory = memory;
    Ok(report)
}

/// The connections of one run, ready to measure.
struct Setup {
    proto: Proto,
    target: String,
    memory_of: String,
    sender: TcpStream,
    receivers: Vec<TcpStream>,
    lobby: Option<Lobby>,
    /// Reads and discards what arrives for the sender.
    drain: Option<JoinHandle<()>>,
    flood_exempt: Option<bool>,
}

impl Setup {
    fn hub(members: usize) -> Result<Setup, BenchError> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        // The leader's notices are not read: the benchmark has no user
        // interface, and a dropped receiver makes each notice a no-op.
        let (notices, _) = unbounded();
        let lobby = Lobby::start(LobbyConfig::new("leader"), notices)?;
        let admit = |name: String| -> io::Result<TcpStream> {
            let client = TcpStream::connect(addr)?;
            let (server, _) = listener.accept()?;
            let reader = LineReader::new(BufReader::new(server.try_clone()?));
            lobby.admit(name, reader, server);
            Ok(client)
        };
        let sender = admit("sender".into())?;
        let mut receivers = Vec::with_capacity(members - 1);
        for i in 1..members {
            receivers.push(admit(format!("m{i}"))?);
        }
        let drain = Some(spawn_drain(&sender)?);
        Ok(Setup {
            proto: Proto::Hub,
            target: "p2pchat".into(),
            memory_of: "bench process (hosts the hub and the load)".into(),
            sender,
            receivers,
            lobby: Some(lobby),
            drain,
            flood_exempt: None,
        })
    }

    fn irc(target: &IrcTarget, members: usize) -> Result<Setup, BenchError> {
        let sender = TcpStream::connect(target.addr)?;
        sender.set_nodelay(true)?;
        sender.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(sender.try_clone()?);
        let nick = "bsend";
        (&sender).write_all(format!("NICK {nick}\r\nUSER {nick} 0 * :bench\r\n").as_bytes())?;
        irc_wait(&mut reader, &[" 001 "], &[" 433 ", "ERROR"])?;
        let mut flood_exempt = false;
        if let Some((name, password)) = &target.oper {
            (&sender).write_all(format!("OPER {name} {password}\r\n").as_bytes())?;
            let got = irc_wait(&mut reader, &[" 381 ", " 464 ", " 491 "], &["ERROR"])?;
            if got.contains(" 381 ") {
                (&sender).write_all(format!("MODE {nick} +F\r\n").as_bytes())?;
                let got = irc_wait(&mut reader, &[" MODE ", " 481 ", " 501 "], &["ERROR"])?;
                flood_exempt = got.contains(" MODE ") && got.contains('F');
            }
        }
        (&sender).write_all(format!("JOIN {CHANNEL}\r\n").as_bytes())?;
        irc_wait(&mut reader, &[" 366 "], &["ERROR", " 471 ", " 405 "])?;
        drop(reader);
        sender.set_read_timeout(None)?;

        let mut receivers = Vec::with_capacity(members - 1);
        for i in 1..members {
            let stream = TcpStream::connect(target.addr)?;
            // The nick stays within RFC 2812's nine characters.
            let nick = format!("r{i}");
            let hello = format!("NICK {nick}\r\nUSER {nick} 0 * :bench\r\nJOIN {CHANNEL}\r\n");
            (&stream).write_all(hello.as_bytes())?;
            receivers.push(stream);
        }
        let drain = Some(spawn_drain(&sender)?);
        Ok(Setup {
            proto: Proto::Irc,
            target: format!("irc {}", target.addr),
            memory_of: match target.pid {
                Some(pid) => format!("IRC server process {pid}"),
                None => "IRC server (no --irc-pid given)".into(),
            },
            sender,
            receivers,
            lobby: None,
            drain,
            flood_exempt: Some(flood_exempt),
        })
    }

    /// Closes every connection and waits for the threads of the run.
    fn finish(&mut self) {
        if let Some(lobby) = self.lobby.take() {
            lobby.close("BENCH_OVER");
        }
        let _ = self.sender.shutdown(Shutdown::Both);
        for stream in &self.receivers {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(drain) = self.drain.take() {
            let _ = drain.join();
        }
    }
}

/// Reads IRC lines until one holds a string of `wanted` (returned) or of
/// `fatal` (an error), under the socket's read timeout.
fn irc_wait(
    reader: &mut BufReader<TcpStream>,
    wanted: &[&str],
    fatal: &[&str],
) -> Result<String, BenchError> {
    // Registration sends a few dozen lines; a server that sends a thousand
    // without the one we wait for is not going to send it.
    for _ in 0..1000 {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) => {
                return Err(BenchError::Setup(
                    "the IRC server closed the connection".into(),
                ));
            }
            Ok(_) => {}
            Err(err) => return Err(BenchError::Setup(format!("waiting for {wanted:?}: {err}"))),
        }
        if let Some(rest) = line.strip_prefix("PING") {
            let pong = format!("PONG{rest}");
            reader.get_ref().write_all(pong.as_bytes())?;
            continue;
        }
        if wanted.iter().any(|w| line.contains(w)) {
            return Ok(line);
        }
        if fatal.iter().any(|f| line.contains(f)) {
            return Err(BenchError::Setup(format!(
                "the IRC server said: {}",
                line.trim_end()
            )));
        }
    }
    Err(BenchError::Setup(format!(
        "no {wanted:?} from the IRC server"
    )))
}

/// A thread that reads and discards what arrives on `stream` until it ends.
fn spawn_drain(stream: &TcpStream) -> io::Result<JoinHandle<()>> {
    let mut stream = stream.try_clone()?;
    thread::Builder::new()
        .name("bench-drain".into())
        .spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            while let Ok(1..) = io::Read::read(&mut stream, &mut buf) {}
        })
}

/// What one reader thread counted.
#[derive(Default)]
struct Tally {
    latency: Histogram,
    delivered: u64,
    out_of_order: u64,
    disconnected: u64,
    bytes: u64,
    lines: u64,
    /// Nanoseconds since the origin of the last delivery.
    last_delivery: u64,
}

/// State shared by the sender and the reader threads.
struct Shared {
    origin: Instant,
    stop: AtomicBool,
    delivered: AtomicU64,
}

fn measure(options: &LobbyOptions, setup: &mut Setup) -> Result<LobbyReport, BenchError> {
    let shared = Arc::new(Shared {
        origin: Instant::now(),
        stop: AtomicBool::new(false),
        delivered: AtomicU64::new(0),
    });
    let readers = options.readers.clamp(1, setup.receivers.len());
    let mut slices: Vec<Vec<TcpStream>> = (0..readers).map(|_| Vec::new()).collect();
    for (i, stream) in setup.receivers.iter().enumerate() {
        stream.set_nonblocking(true)?;
        slices[i % readers].push(stream.try_clone()?);
    }
    let (ready_tx, ready) = unbounded();
    let (done_tx, done) = unbounded();
    let mut handles = Vec::with_capacity(readers);
    for (i, slice) in slices.into_iter().enumerate() {
        let mine = Arc::clone(&shared);
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
    drop((ready_tx, done_tx));

    let outcome = send_all(options, setup, &shared, &ready, &done, handles.len());
    shared.stop.store(true, Ordering::SeqCst);
    let mut total = Tally::default();
    for handle in handles {
        let tally = handle
            .join()
            .map_err(|_| BenchError::Setup("a reader thread panicked".into()))?;
        total.latency.merge(&tally.latency);
        total.delivered += tally.delivered;
        total.out_of_order += tally.out_of_order;
        total.disconnected += tally.disconnected;
        total.bytes += tally.bytes;
        total.lines += tally.lines;
        total.last_delivery = total.last_delivery.max(tally.last_delivery);
    }
    let (first_send, last_send) = outcome?;
    let expected = (options.members as u64 - 1) * options.messages;
    Ok(LobbyReport {
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
        memory_of: setup.memory_of.clone(),
        flood_exempt: setup.flood_exempt,
    })
}

/// Waits for every receiver to be in the lobby, sends every message, and
/// waits for the readers. Returns the first and last send times (nanoseconds
/// since the origin).
fn send_all(
    options: &LobbyOptions,
    setup: &Setup,
    shared: &Shared,
    ready: &crossbeam_channel::Receiver<()>,
    done: &crossbeam_channel::Receiver<()>,
    readers: usize,
) -> Result<(u64, u64), BenchError> {
    let join_deadline = Instant::now() + Duration::from_secs(60);
    for joined in 0..setup.receivers.len() {
        if ready.recv_deadline(join_deadline).is_err() {
            return Err(BenchError::Setup(format!(
                "only {joined} of {} receivers got into the lobby",
                setup.receivers.len()
            )));
        }
    }

    let mut text = Vec::with_capacity(options.size + 40);
    let mut line = Vec::with_capacity(options.size + 40);
    let mut sender = &setup.sender;
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
        setup.proto.send_line(&mut line, &text);
        sender.write_all(&line)?;
        if options.progress && last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            progress(options, shared, seq + 1);
        }
    }

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
    Ok((first_send.unwrap_or(0), last_send))
}

fn progress(options: &LobbyOptions, shared: &Shared, sent: u64) {
    let expected = (options.members as u64 - 1) * options.messages;
    eprintln!(
        "bench: sent {sent}/{}, delivered {}/{expected}",
        options.messages,
        shared.delivered.load(Ordering::Relaxed)
    );
}

/// One receiver as a reader thread tracks it.
struct Receiver {
    stream: TcpStream,
    lines: Lines,
    /// The sequence number expected next; the receiver is done at `messages`.
    next: u64,
    ready: bool,
    closed: bool,
    /// A `PONG` is owed to the server.
    pong: Option<Vec<u8>>,
}

/// A reader thread: reads its receivers until each has every message, the
/// connection closed, or the run is stopped.
fn read_receivers(
    proto: Proto,
    streams: Vec<TcpStream>,
    messages: u64,
    shared: &Shared,
    ready: &Sender<()>,
) -> Tally {
    let mut receivers: Vec<Receiver> = streams
        .into_iter()
        .map(|stream| Receiver {
            stream,
            lines: Lines::default(),
            next: 0,
            ready: false,
            closed: false,
            pong: None,
        })
        .collect();
    let mut tally = Tally::default();
    let mut scratch = vec![0u8; 256 * 1024];
    let done = |r: &Receiver| r.closed || (r.ready && r.next >= messages);
    let mut poller = match Poller::new() {
        Ok(poller) => poller,
        Err(_) => return tally,
    };
    for (token, receiver) in receivers.iter().enumerate() {
        if poller.add(&receiver.stream, token).is_err() {
            return tally;
        }
    }
    let mut watching = receivers.len();
    let mut ready_tokens = Vec::new();
    while watching > 0 && !shared.stop.load(Ordering::Relaxed) {
        if poller
            .wait(&mut ready_tokens, Duration::from_millis(20))
            .is_err()
        {
            break;
        }
        let before = tally.delivered;
        for &i in &ready_tokens {
            let receiver = &mut receivers[i];
            // Taken off the poller already; counted once.
            if done(receiver) {
                continue;
            }
            let Receiver {
                stream,
                lines,
                next,
                ready: is_ready,
                pong,
                ..
            } = receiver;
            let (bytes, end) = lines.read(stream, &mut scratch, |line| {
                tally.lines += 1;
                let now = shared.origin.elapsed().as_nanos() as u64;
                let Some(text) = proto.text(line) else {
                    if !*is_ready && proto.is_ready(line) {
                        *is_ready = true;
                        let _ = ready.send(());
                    } else if proto == Proto::Irc && line.starts_with(b"PING") {
                        let mut answer = b"PONG".to_vec();
                        answer.extend_from_slice(&line[4..]);
                        answer.extend_from_slice(b"\r\n");
                        *pong = Some(answer);
                    }
                    return;
                };
                let Some((seq, sent)) = parse_text(text) else {
                    return;
                };
                if seq != *next {
                    tally.out_of_order += 1;
                }
                if seq >= *next {
                    *next = seq + 1;
                    tally.delivered += 1;
                    tally.latency.record(now.saturating_sub(sent));
                    tally.last_delivery = tally.last_delivery.max(now);
                }
            });
            tally.bytes += bytes as u64;
            if let Some(answer) = receiver.pong.take() {
                // A PONG is a few bytes on an idle socket; if even that does
                // not fit, the server will drop us and the run says so.
                let _ = (&receiver.stream).write_all(&answer);
            }
            if end == ReadEnd::Closed {
                receiver.closed = true;
                if receiver.next < messages {
                    tally.disconnected += 1;
                }
            }
            if done(receiver) {
                let _ = poller.remove(&receiver.stream);
                watching -= 1;
            }
        }
        shared
            .delivered
            .fetch_add(tally.delivered - before, Ordering::Relaxed);
    }
    tally
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_text_round_trips() {
        let mut text = Vec::new();
        message_text(&mut text, 42, 1_234_567, 64);
        assert_eq!(text.len(), 64);
        assert_eq!(parse_text(&text), Some((42, 1_234_567)));
        message_text(&mut text, 7, 99, 4);
        assert_eq!(text, b"7 99 ");
        assert_eq!(parse_text(b"7 x"), None);
    }

    #[test]
    fn chat_lines() {
        assert_eq!(Proto::Hub.text(b"MSG sender 1 2 xx"), Some(&b"1 2 xx"[..]));
        assert_eq!(Proto::Hub.text(b"JOINED m3"), None);
        assert_eq!(
            Proto::Irc.text(b":bsend!~bsend@localhost PRIVMSG #bench :1 2 xx"),
            Some(&b"1 2 xx"[..])
        );
        assert!(Proto::Irc.is_ready(b":irc.bench 366 r1 #bench :End of NAMES list"));
        assert!(Proto::Hub.is_ready(b"MEMBERS leader sender m1"));
    }
}
