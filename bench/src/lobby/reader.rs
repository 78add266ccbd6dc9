//! A reader thread of a lobby run: polls its share of the receivers and
//! counts what each gets, in order or not, and how long it took. It only
//! reads, but for the `PONG` an IRC server's `PING` asks for.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crossbeam_channel::Sender;

use super::measure::Shared;
use super::proto::{Proto, parse_text};
use super::report::Tally;
use crate::link::Link;
use crate::{Lines, Poller, ReadEnd};

/// One receiver as a reader thread tracks it.
struct Receiver {
    member: Link,
    lines: Lines,
    heard: Heard,
    closed: bool,
}

/// What a receiver has heard so far.
#[derive(Default)]
struct Heard {
    /// The sequence number expected next; the receiver is done at `messages`.
    next: u64,
    ready: bool,
    /// A `PONG` is owed to the server.
    pong: Option<Vec<u8>>,
}

/// A reader thread's own state, besides its receivers.
struct Reader<'a> {
    proto: Proto,
    messages: u64,
    shared: &'a Shared,
    /// Told once per receiver that is in the lobby.
    ready: &'a Sender<()>,
    scratch: Vec<u8>,
    tally: Tally,
}

/// A reader thread: reads its receivers until each has every message, the
/// connection closed, or the run is stopped.
pub(super) fn read_receivers(
    proto: Proto,
    members: Vec<Link>,
    messages: u64,
    shared: &Shared,
    ready: &Sender<()>,
) -> Tally {
    let mut receivers: Vec<Receiver> = members
        .into_iter()
        .map(|member| Receiver {
            member,
            lines: Lines::default(),
            heard: Heard::default(),
            closed: false,
        })
        .collect();
    let mut reader = Reader {
        proto,
        messages,
        shared,
        ready,
        scratch: vec![0u8; 256 * 1024],
        tally: Tally::default(),
    };
    if let Some(poller) = watch(&receivers) {
        reader.run(&mut receivers, poller);
    }
    reader.tally
}

/// A poller that watches every receiver, its token its position; `None`
/// if there is none to be had.
fn watch(receivers: &[Receiver]) -> Option<Poller> {
    let mut poller = Poller::new().ok()?;
    for (token, receiver) in receivers.iter().enumerate() {
        poller.add(receiver.member.read.socket(), token).ok()?;
    }
    Some(poller)
}

impl Receiver {
    fn done(&self, messages: u64) -> bool {
        self.closed || (self.heard.ready && self.heard.next >= messages)
    }
}

impl Reader<'_> {
    /// Reads the receivers `poller` finds ready until each is done or the
    /// run is stopped, taking each off the poller once done.
    fn run(&mut self, receivers: &mut [Receiver], mut poller: Poller) {
        let mut watching = receivers.len();
        let mut ready_tokens = Vec::new();
        while watching > 0 && !self.shared.stop.load(Ordering::Relaxed) {
            if poller
                .wait(&mut ready_tokens, Duration::from_millis(20))
                .is_err()
            {
                break;
            }
            let before = self.tally.delivered;
            for &i in &ready_tokens {
                let receiver = &mut receivers[i];
                // Taken off the poller already; counted once.
                if receiver.done(self.messages) {
                    continue;
                }
                self.read(receiver);
                if receiver.done(self.messages) {
                    let _ = poller.remove(receiver.member.read.socket());
                    watching -= 1;
                }
            }
            self.shared
                .delivered
                .fetch_add(self.tally.delivered - before, Ordering::Relaxed);
        }
    }

    /// Reads what `receiver` has, answers a `PING`, and notes a close.
    fn read(&mut self, receiver: &mut Receiver) {
        let Receiver {
            member,
            lines,
            heard,
            ..
        } = receiver;
        let (proto, shared, ready) = (self.proto, self.shared, self.ready);
        let tally = &mut self.tally;
        let (bytes, end) = lines.read(&mut member.read, &mut self.scratch, |line| {
            heard.line(proto, line, tally, shared, ready);
        });
        self.tally.bytes += bytes as u64;
        if let Some(answer) = receiver.heard.pong.take() {
            // A PONG is a few bytes on an idle socket; if even that does
            // not fit, the server will drop us and the run says so.
            let _ = receiver.member.write.write_all(&answer);
        }
        if end == ReadEnd::Closed {
            receiver.closed = true;
            if receiver.heard.next < self.messages {
                self.tally.disconnected += 1;
            }
        }
    }
}

impl Heard {
    /// One line for this receiver: a message is counted, in order or not;
    /// the line that shows it is in the lobby is told once; a `PING` gets
    /// its `PONG` queued.
    fn line(
        &mut self,
        proto: Proto,
        line: &[u8],
        tally: &mut Tally,
        shared: &Shared,
        ready: &Sender<()>,
    ) {
        tally.lines += 1;
        let now = shared.origin.elapsed().as_nanos() as u64;
        let Some(text) = proto.text(line) else {
            if !self.ready && proto.is_ready(line) {
                self.ready = true;
                let _ = ready.send(());
            } else if proto == Proto::Irc && line.starts_with(b"PING") {
                let mut answer = b"PONG".to_vec();
                answer.extend_from_slice(&line[4..]);
                answer.extend_from_slice(b"\r\n");
                self.pong = Some(answer);
            }
            return;
        };
        let Some((seq, sent)) = parse_text(text) else {
            return;
        };
        if seq != self.next {
            tally.out_of_order += 1;
        }
        if seq >= self.next {
            self.next = seq + 1;
            tally.delivered += 1;
            tally.latency.record(now.saturating_sub(sent));
            tally.last_delivery = tally.last_delivery.max(now);
        }
    }
}
