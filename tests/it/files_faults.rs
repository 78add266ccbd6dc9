//! Files between real peers when the transfer goes wrong: alice's seat
//! names a port of the test's (`--advertise-port`), where a `Relay` passes
//! bob's `FETCH` on to alice's real chat port, cuts it off, holds it back,
//! or plays a lying sender itself; a member played by hand offers a name
//! with a path; a real file's name holds control characters.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};

use p2pchat::crypto::Identity;
use p2pchat::files::transfer::checksum_of;

use crate::files::{lobby_with, noise};
use crate::support::{
    Client, PASSWORD, PeerProcess, READ_TIMEOUT, TestServer, register_and_join, temp_dir,
};

/// What the relay does with each transfer connection, in turn.
enum Plan {
    /// Passes everything on to alice's chat port.
    Forward,
    /// Passes on alice's first `n` bytes (its `SENDING` line counted),
    /// then closes both ways.
    Cut(u64),
    /// Passes on alice's `SENDING` line and one 64 KiB piece per word on
    /// the channel; once the channel ends, the rest.
    Gated(Receiver<()>),
    /// Passes on alice's `SENDING` line, then nothing more until the
    /// channel ends: a peer gone silent in the middle of a transfer.
    Held(Receiver<()>),
    /// Plays the sender: answers the `FETCH` line with what this makes of
    /// it, and closes.
    Answer(Liar),
}

/// What a lying sender answers a `FETCH` line.
type Liar = Box<dyn FnOnce(&str) -> Vec<u8> + Send>;

/// One transfer connection as the relay saw it.
struct Passed {
    /// The recipient's `FETCH` line.
    fetch: String,
    /// How many bytes went to the recipient.
    bytes: u64,
}

struct Relay {
    port: u16,
    listener: Option<TcpListener>,
    passed: Receiver<Passed>,
    passed_tx: Sender<Passed>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    fn bind() -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let (passed_tx, passed) = unbounded();
        Relay {
            port: listener.local_addr().unwrap().port(),
            listener: Some(listener),
            passed,
            passed_tx,
            thread: None,
        }
    }

    /// Serves one connection per plan, in order, relaying to `to`.
    fn run(&mut self, to: u16, plans: Vec<Plan>) {
        let listener = self.listener.take().unwrap();
        let passed = self.passed_tx.clone();
        self.thread = Some(thread::spawn(move || {
            for plan in plans {
                let (down, _) = listener.accept().unwrap();
                let _ = passed.send(relay(down, to, plan));
            }
        }));
    }

    /// The next connection, once it is over.
    fn next(&self) -> Passed {
        self.passed
            .recv_timeout(READ_TIMEOUT * 2)
            .expect("a transfer connection came and ended")
    }
}

/// One connection from the recipient (`down`), carried out as `plan` says.
fn relay(down: TcpStream, to: u16, plan: Plan) -> Passed {
    down.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut fetch = String::new();
    BufReader::new(&down).read_line(&mut fetch).unwrap();
    let bytes = match plan {
        Plan::Answer(answer) => {
            let answer = answer(fetch.trim_end());
            let _ = (&down).write_all(&answer);
            answer.len() as u64
        }
        Plan::Forward => pass(&down, to, &fetch, u64::MAX, None),
        Plan::Cut(limit) => pass(&down, to, &fetch, limit, None),
        Plan::Gated(gate) => pass(&down, to, &fetch, u64::MAX, Some(gate)),
        Plan::Held(held) => {
            let up = TcpStream::connect(("127.0.0.1", to)).unwrap();
            (&up).write_all(fetch.as_bytes()).unwrap();
            let mut header = String::new();
            BufReader::new(&up).read_line(&mut header).unwrap();
            let _ = (&down).write_all(header.as_bytes());
            let _ = held.recv_timeout(READ_TIMEOUT * 3);
            header.len() as u64
        }
    };
    let _ = down.shutdown(Shutdown::Both);
    Passed {
        fetch: fetch.trim_end().to_string(),
        bytes,
    }
}

/// Passes `fetch` on to alice at `to`, and at most `limit` of her bytes
/// back, a piece per word of `gate` if there is one; the bytes passed.
fn pass(down: &TcpStream, to: u16, fetch: &str, limit: u64, gate: Option<Receiver<()>>) -> u64 {
    let mut up = TcpStream::connect(("127.0.0.1", to)).unwrap();
    up.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    up.write_all(fetch.as_bytes()).unwrap();
    let mut up = BufReader::new(up);
    let mut header = String::new();
    up.read_line(&mut header).unwrap();
    let _ = (&*down).write_all(header.as_bytes());
    let mut passed = header.len() as u64;
    let mut buf = vec![0; 64 * 1024];
    while passed < limit {
        if let Some(gate) = &gate {
            // A word lets one piece through; an ended gate, everything.
            let _ = gate.recv_timeout(READ_TIMEOUT);
        }
        let want = buf
            .len()
            .min(usize::try_from(limit - passed).unwrap_or(usize::MAX));
        let n = match up.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if (&*down).write_all(&buf[..n]).is_err() {
            break;
        }
        passed += n as u64;
    }
    let _ = up.get_ref().shutdown(Shutdown::Both);
    passed
}

/// Alice (whose seat names the relay's port) leads a lobby with bob.
fn lobby(
    server: &TestServer,
    relay: &Relay,
    logs: &Path,
    downloads: &Path,
) -> (PeerProcess, PeerProcess, u16) {
    let port = relay.port.to_string();
    lobby_with(server, logs, downloads, |name| match name {
        "alice" => vec!["--advertise-port".to_string(), port.clone()],
        _ => Vec::new(),
    })
}

/// The offer id in a `FETCH <who> <id> <from>` line.
fn fetched_id(fetch: &str) -> String {
    fetch.split(' ').nth(2).unwrap().to_string()
}

/// The byte a `FETCH <who> <id> <from>` line starts from.
fn fetched_from(fetch: &str) -> u64 {
    fetch.rsplit(' ').next().unwrap().parse().unwrap()
}

/// What is left in `dir` that is not a whole file: `.part`s and notes.
fn leftovers(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part") || n.ends_with(".sum"))
        .collect()
}

#[test]
fn a_transfer_cut_off_halfway_resumes_from_the_kept_part_with_fewer_bytes() {
    let server = TestServer::start();
    let (logs, downloads, outbox) = (temp_dir(), temp_dir(), temp_dir());
    let mut relay = Relay::bind();
    let (mut alice, mut bob, port) = lobby(&server, &relay, logs.path(), downloads.path());
    let size = 1 << 20;
    relay.run(port, vec![Plan::Cut(size / 2), Plan::Forward]);
    let bytes = noise(size as usize);
    let path = outbox.path().join("big.bin");
    fs::write(&path, &bytes).unwrap();
    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("alice offers big.bin ");
    bob.types("/accept");
    let cut = bob.sees("Receiving big.bin from alice failed: cut off after ");
    assert!(
        cut.contains(&format!(" of {size} bytes; "))
            && cut.contains("big.bin.")
            && cut.ends_with(".part kept to resume."),
        "{cut}"
    );
    let first = relay.next();
    assert_eq!(fetched_from(&first.fetch), 0);

    // The same file offered again goes on from what was kept.
    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("alice offers big.bin ");
    bob.types("/accept");
    let accepted = bob.sees("Accepted big.bin from alice: receiving into ");
    bob.sees("Saved big.bin from alice at ");
    let second = relay.next();
    let from = fetched_from(&second.fetch);
    assert!(
        accepted.ends_with(&format!(", resuming at byte {from}.")),
        "{accepted}"
    );
    assert!(from > 0 && from < size, "{from}");
    assert!(
        second.bytes < size,
        "{} bytes the second time",
        second.bytes
    );
    alice.sees(&format!(
        "Sending big.bin to bob: done ({} bytes sent).",
        size - from
    ));
    let received = downloads.path().join("bob");
    assert_eq!(fs::read(received.join("big.bin")).unwrap(), bytes);
    assert!(
        leftovers(&received).is_empty(),
        "{:?}",
        leftovers(&received)
    );
}

#[test]
fn a_sender_that_lies_about_the_size_or_the_bytes_is_refused_and_leaves_no_part() {
    let server = TestServer::start();
    let (logs, downloads, outbox) = (temp_dir(), temp_dir(), temp_dir());
    let mut relay = Relay::bind();
    let (mut alice, mut bob, port) = lobby(&server, &relay, logs.path(), downloads.path());
    let answer = |count: u64, bytes: &'static [u8]| {
        Plan::Answer(Box::new(move |fetch: &str| {
            let mut answer = format!("SENDING {} 0 {count}\n", fetched_id(fetch)).into_bytes();
            answer.extend_from_slice(bytes);
            answer
        }))
    };
    let lies = [
        (
            answer(6, b"123456"),
            "the sender announced 6 bytes, not the 5 offered",
        ),
        (
            answer(5, b"abcde"),
            "the bytes do not match the offered checksum",
        ),
        (
            answer(5, b"123456"),
            "the sender sent more bytes than the 5 offered",
        ),
    ];
    let (plans, refusals): (Vec<Plan>, Vec<&str>) = lies.into_iter().unzip();
    relay.run(port, plans);
    let path = outbox.path().join("five");
    fs::write(&path, b"12345").unwrap();
    let received = downloads.path().join("bob");
    for refusal in refusals {
        alice.types(&format!("/send bob {}", path.display()));
        bob.sees("alice offers five ");
        bob.types("/accept");
        bob.sees(&format!("Receiving five from alice failed: {refusal}."));
        // The sender hears of it, and why, through the lobby.
        alice.sees(&format!("bob refused five: {refusal}."));
        relay.next();
        assert!(!received.join("five").exists(), "{refusal}");
        assert!(
            leftovers(&received).is_empty(),
            "{refusal}: {:?}",
            leftovers(&received)
        );
    }
}

#[test]
fn cancel_from_either_side_stops_the_transfer_on_both() {
    let server = TestServer::start();
    let (logs, downloads, outbox) = (temp_dir(), temp_dir(), temp_dir());
    let mut relay = Relay::bind();
    let (mut alice, mut bob, port) = lobby(&server, &relay, logs.path(), downloads.path());
    let (first_gate, first) = unbounded();
    let (second_gate, second) = unbounded();
    relay.run(port, vec![Plan::Gated(first), Plan::Gated(second)]);
    let path = outbox.path().join("big.bin");
    fs::write(&path, noise(32 << 20)).unwrap();

    // The recipient cancels: its fetch stops at the next piece, and the
    // sender hears of it through the lobby.
    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("alice offers big.bin ");
    bob.types("/accept");
    bob.sees("Receiving big.bin from alice: started at byte 0.");
    bob.types("/cancel");
    bob.sees("Cancelled big.bin with alice.");
    first_gate.send(()).unwrap();
    bob.sees("Receiving big.bin from alice failed: cancelled; ");
    alice.sees("bob cancelled the transfer of big.bin.");
    drop(first_gate);
    relay.next();

    // The sender cancels: its thread stops at the next piece it writes,
    // and the recipient hears of it through the lobby.
    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("alice offers big.bin ");
    bob.types("/accept");
    alice.sees("Sending big.bin to bob: started at byte ");
    alice.types("/cancel");
    alice.sees("Cancelled big.bin with bob.");
    bob.sees("alice cancelled the transfer of big.bin.");
    drop(second_gate);
    // Alice's thread stops at its next piece, or sooner, when bob's end,
    // cancelled by her line, closes under it.
    alice.sees("Sending big.bin to bob failed: ");
    bob.sees("Receiving big.bin from alice failed: ");
    relay.next();
    assert!(!downloads.path().join("bob").join("big.bin").exists());
}

#[test]
fn an_offered_name_with_a_path_is_saved_by_its_last_part_in_the_download_folder() {
    let server = TestServer::start();
    let (logs, downloads) = (temp_dir(), temp_dir());
    let dir = downloads.path().join("alice").join("in");
    let dir_arg = dir.to_str().unwrap().to_string();
    let mut alice = PeerProcess::start_with(
        "alice",
        server.addr(),
        logs.path(),
        &["--download-dir", &dir_arg],
    );
    alice.join(PASSWORD);
    // Mallory is a member played by hand: a registry account, a chat port
    // of the test's, and a key of her own announced with `OK`.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let _registry = register_and_join(server.addr(), "mallory", port);
    let mallory = Identity::generate().unwrap();
    for line in ["2", "mallory", "Yes", "3"] {
        alice.types(line);
    }
    let mut chat = Client::accept(&listener);
    assert!(chat.recv().starts_with("CHAT_REQUEST alice "));
    chat.send(&format!("OK {}", mallory.public()));
    alice.sees("Client ('mallory') connected");
    let (sum, size) = checksum_of(&b"hello"[..]).unwrap();
    let id = "0123456789abcdef";
    chat.send(&format!("FILE alice OFFER {id} {size} {sum} ../../x"));
    alice.sees(&format!("mallory offers ../../x ({size} bytes, {sum})"));
    alice.types("/accept");
    // Alice fetches from mallory's seat: the test's own port.
    let (fetch, _) = listener.accept().unwrap();
    fetch.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut line = String::new();
    BufReader::new(&fetch).read_line(&mut line).unwrap();
    assert_eq!(line, format!("FETCH alice {id} 0\n"));
    (&fetch)
        .write_all(format!("SENDING {id} 0 5\nhello").as_bytes())
        .unwrap();
    drop(fetch);
    let saved = alice.sees("Saved ../../x from mallory at ");
    assert!(
        saved.contains(&dir.join("x").display().to_string()),
        "{saved}"
    );
    assert_eq!(fs::read(dir.join("x")).unwrap(), b"hello");
    // Nothing landed above the download folder.
    for above in [
        downloads.path().join("x"),
        downloads.path().join("alice").join("x"),
    ] {
        assert!(!above.exists(), "{}", above.display());
    }
}

#[test]
fn a_file_named_with_control_characters_is_offered_and_saved_under_a_safe_name() {
    let server = TestServer::start();
    let (logs, downloads, outbox) = (temp_dir(), temp_dir(), temp_dir());
    let (mut alice, mut bob, _) =
        lobby_with(&server, logs.path(), downloads.path(), |_| Vec::new());
    let name = "..\u{1b}[2Jevil\u{7}.txt";
    let path = outbox.path().join(name);
    fs::write(&path, b"bell").unwrap();
    alice.types(&format!("/send bob {}", path.display()));
    // The sender offers it under the safe name, and the recipient makes
    // it safe again before it names a file.
    bob.sees("alice offers _[2Jevil_.txt ");
    bob.types("/accept");
    bob.sees("Saved _[2Jevil_.txt from alice at ");
    let received = downloads.path().join("bob");
    let names: Vec<String> = fs::read_dir(&received)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["_[2Jevil_.txt"]);
    assert_eq!(fs::read(received.join("_[2Jevil_.txt")).unwrap(), b"bell");
}

#[test]
fn cancel_and_quit_stop_a_transfer_at_once_even_when_the_other_side_is_silent() {
    // Each side's stall timeout is 30 s; a stop must not wait for it.
    let at_once = Duration::from_secs(15);
    let server = TestServer::start();
    let (logs, downloads, outbox) = (temp_dir(), temp_dir(), temp_dir());
    let mut relay = Relay::bind();
    let (mut alice, mut bob, port) = lobby(&server, &relay, logs.path(), downloads.path());
    // The relay serves one connection at a time: each is let go once its
    // part of the test is over.
    let (holds, plans): (Vec<Sender<()>>, Vec<Plan>) = (0..3)
        .map(|_| {
            let (hold, held) = unbounded();
            (hold, Plan::Held(held))
        })
        .unzip();
    let mut holds = holds.into_iter();
    relay.run(port, plans);
    let path = outbox.path().join("big.bin");
    fs::write(&path, noise(32 << 20)).unwrap();

    // The recipient cancels while its read waits on a silent sender.
    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("alice offers big.bin ");
    bob.types("/accept");
    bob.sees("Receiving big.bin from alice: started at byte 0.");
    let asked = Instant::now();
    bob.types("/cancel");
    bob.sees("Receiving big.bin from alice failed: cancelled; ");
    assert!(asked.elapsed() < at_once, "{:?}", asked.elapsed());
    alice.sees("bob cancelled the transfer of big.bin.");
    alice.sees("Sending big.bin to bob failed: cancelled.");
    drop(holds.next());
    relay.next();

    // The sender cancels while its write waits on a recipient that reads
    // nothing.
    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("alice offers big.bin ");
    bob.types("/accept");
    alice.sees("Sending big.bin to bob: started at byte ");
    let asked = Instant::now();
    alice.types("/cancel");
    alice.sees("Sending big.bin to bob failed: cancelled.");
    assert!(asked.elapsed() < at_once, "{:?}", asked.elapsed());
    bob.sees("Receiving big.bin from alice failed: cancelled; ");
    drop(holds.next());
    relay.next();

    // Quitting in the middle of a stalled transfer exits at once.
    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("alice offers big.bin ");
    bob.types("/accept");
    alice.sees("Sending big.bin to bob: started at byte ");
    let asked = Instant::now();
    alice.types("/quit");
    assert!(alice.exits().success());
    assert!(asked.elapsed() < at_once, "{:?}", asked.elapsed());
    drop(holds);
    relay.next();
}
