//! TLS to the registry over real sockets: what a relay in between sees and
//! can do, pinning on first use and in advance, the advice a person typing
//! plain text at the TLS port gets, and the server binary's key.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, unbounded};
use p2pchat::client::{
    FirstUse, LinkConfig, LinkNotice, RegistryLink, RegistrySecurity, RegistryTrust,
};
use p2pchat::crypto::Fingerprint;
use p2pchat::trace::Trace;

use crate::support::{Client, PASSWORD, ServerProcess, TestServer, temp_dir};

/// A TCP relay that records every byte both ways, and passes them to a
/// target a test can change between connections.
struct Relay {
    addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    seen: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
    /// One `()` per connection relayed (the latest 64; older ones are
    /// dropped when nobody reads them).
    accepted: crossbeam_channel::Receiver<()>,
}

impl Relay {
    fn to(target: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let target = Arc::new(Mutex::new(target));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (accepting, accepted) = crossbeam_channel::bounded(64);
        let acceptor = {
            let (target, seen, stop) = (target.clone(), seen.clone(), stop.clone());
            thread::spawn(move || {
                let mut pumps = Vec::new();
                for near in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(near) = near else { continue };
                    let _ = accepting.try_send(());
                    let far = TcpStream::connect(*target.lock().unwrap()).unwrap();
                    for (from, to) in [
                        (near.try_clone().unwrap(), far.try_clone().unwrap()),
                        (far, near),
                    ] {
                        let seen = seen.clone();
                        pumps.push(thread::spawn(move || pump(from, to, &seen)));
                    }
                }
                for pump in pumps {
                    let _ = pump.join();
                }
            })
        };
        Relay {
            addr,
            target,
            seen,
            stop,
            acceptor: Some(acceptor),
            accepted,
        }
    }

    fn send_to(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
    }

    fn seen(&self) -> Vec<u8> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocked accept.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, seen: &Mutex<Vec<u8>>) {
    let mut buf = [0; 4096];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A TLS link to `addr` that keeps its pins in `pins`, remembering a new
/// key (as a piped peer does) and counting how often it said so.
fn link(
    addr: SocketAddr,
    pins: &std::path::Path,
    advance: Option<Fingerprint>,
) -> (RegistryLink, Receiver<LinkNotice>, Arc<AtomicUsize>) {
    link_retrying(addr, pins, advance, Duration::from_secs(60))
}

/// As `link`, retrying a lost registry every `retry`.
fn link_retrying(
    addr: SocketAddr,
    pins: &std::path::Path,
    advance: Option<Fingerprint>,
    retry: Duration,
) -> (RegistryLink, Receiver<LinkNotice>, Arc<AtomicUsize>) {
    let remembered = Arc::new(AtomicUsize::new(0));
    let counter = remembered.clone();
    let first_use = FirstUse::Remember(Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    let trust = RegistryTrust::new(pins.join("known_keys"), advance, first_use).unwrap();
    let config = LinkConfig {
        addrs: vec![addr],
        hello_interval: Duration::from_secs(60),
        retry_min: retry,
        retry_max: retry,
        trace: Trace::off(),
        security: RegistrySecurity::Tls(Arc::new(trust)),
    };
    let (tx, rx) = unbounded();
    (RegistryLink::connect(config, tx).unwrap(), rx, remembered)
}

/// The reason the link gave for not reaching the registry at start.
#[track_caller]
fn refusal(notices: &Receiver<LinkNotice>) -> String {
    match notices.recv_timeout(Duration::from_secs(20)) {
        Ok(LinkNotice::KeyRefused { why, first: true }) => why,
        Ok(other) => panic!("another notice than a refused key at start: {other:?}"),
        Err(err) => panic!("no notice: {err}"),
    }
}

#[test]
fn a_relay_sees_no_password_and_another_key_behind_it_is_refused() {
    let server = TestServer::tls();
    let impostor = TestServer::tls();
    let (real, fake) = (
        server.fingerprint().unwrap(),
        impostor.fingerprint().unwrap(),
    );
    let relay = Relay::to(server.addr());
    let pins = temp_dir();

    // First use: the key is remembered (and said), and everything works.
    let (alice, _, remembered) = link(relay.addr, pins.path(), None);
    alice.register("alice", PASSWORD).unwrap();
    alice.join("alice", PASSWORD, 4000).unwrap();
    assert_eq!(alice.list().unwrap().len(), 1);
    assert_eq!(remembered.load(Ordering::SeqCst), 1);
    alice.close();
    let seen = relay.seen();
    assert!(
        seen.len() > 500,
        "the relay saw the handshake and the lines"
    );
    for plain in [PASSWORD.as_bytes(), b"REGISTER", b"JOIN", b"alice"] {
        assert!(
            !seen.windows(plain.len()).any(|w| w == plain),
            "the relay read {:?}",
            String::from_utf8_lossy(plain)
        );
    }

    // Second use: the known key passes in silence.
    let (again, _, remembered) = link(relay.addr, pins.path(), None);
    again.join("alice", PASSWORD, 4000).unwrap();
    assert_eq!(remembered.load(Ordering::SeqCst), 0);
    again.close();

    // The relay now presents another key: refused, with both fingerprints
    // and the file to edit, and nothing sent.
    relay.send_to(impostor.addr());
    let before = relay.seen().len();
    let (bob, notices, _) = link(relay.addr, pins.path(), None);
    let why = refusal(&notices);
    for text in [
        &real.to_string(),
        &fake.to_string(),
        "known_keys",
        "--trust-registry",
    ] {
        assert!(why.contains(text), "no {text:?} in {why:?}");
    }
    assert!(bob.join("alice", PASSWORD, 4000).is_err());
    bob.close();
    let after = relay.seen()[before..].to_vec();
    assert!(
        !after
            .windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes())
    );
}

#[test]
fn a_changed_key_met_on_a_background_reconnect_is_said_once_with_both_fingerprints() {
    let server = TestServer::tls();
    let impostor = TestServer::tls();
    let (real, fake) = (
        server.fingerprint().unwrap(),
        impostor.fingerprint().unwrap(),
    );
    let relay = Relay::to(server.addr());
    let pins = temp_dir();
    let (alice, notices, _) =
        link_retrying(relay.addr, pins.path(), None, Duration::from_millis(20));
    alice.register("alice", PASSWORD).unwrap();
    alice.join("alice", PASSWORD, 4000).unwrap();

    // The registry goes away, and whoever answers at its address next
    // presents another key: the link retries on its own, with nobody at a
    // prompt, and the user must still hear why it does not come back.
    relay.send_to(impostor.addr());
    let before = relay.seen().len();
    server.stop().unwrap();
    let why = loop {
        match notices.recv_timeout(Duration::from_secs(20)) {
            Ok(LinkNotice::KeyRefused { why, first: false }) => break why,
            Ok(LinkNotice::Back(_)) => panic!("joined the impostor"),
            Ok(_) => {}
            Err(err) => panic!("the changed key was never said: {err}"),
        }
    };
    for text in [
        &real.to_string(),
        &fake.to_string(),
        "known_keys",
        "--trust-registry",
    ] {
        assert!(why.contains(text), "no {text:?} in {why:?}");
    }
    // Said once, however often the link retries (every 20 ms) meanwhile:
    // wait for five more of its connections through the relay.
    let _ = relay.accepted.try_iter().count();
    for _ in 0..5 {
        relay
            .accepted
            .recv_timeout(Duration::from_secs(20))
            .expect("the link retries");
    }
    assert!(
        notices
            .try_iter()
            .all(|notice| !matches!(notice, LinkNotice::KeyRefused { .. })),
        "said more than once"
    );
    alice.close();
    let after = relay.seen()[before..].to_vec();
    for plain in [PASSWORD.as_bytes(), b"JOIN", b"HELLO"] {
        assert!(!after.windows(plain.len()).any(|w| w == plain));
    }
}

#[test]
fn a_key_pinned_in_advance_is_the_only_one_accepted() {
    let server = TestServer::tls();
    let other = TestServer::tls();
    let pins = temp_dir();
    let wrong = other.fingerprint().unwrap();
    let (link_wrong, notices, _) = link(server.addr(), pins.path(), Some(wrong));
    let why = refusal(&notices);
    let real = server.fingerprint().unwrap().to_string();
    for text in [&real, &wrong.to_string(), "--trust-registry"] {
        assert!(why.contains(text), "no {text:?} in {why:?}");
    }
    link_wrong.close();
    let (right, _, remembered) = link(server.addr(), pins.path(), server.fingerprint());
    right.register("carol", PASSWORD).unwrap();
    assert_eq!(remembered.load(Ordering::SeqCst), 0, "nothing to ask");
    right.close();
}

#[test]
fn a_tls_peer_at_a_plain_text_registry_is_told_to_use_plaintext() {
    let server = TestServer::start();
    let pins = temp_dir();
    let (link, notices, _) = link(server.addr(), pins.path(), None);
    let why = match notices.recv_timeout(Duration::from_secs(20)) {
        Ok(LinkNotice::NotYet { why, .. }) => why.to_string(),
        Ok(other) => panic!("another notice than not reachable yet: {other:?}"),
        Err(err) => panic!("no notice: {err}"),
    };
    assert!(why.contains("--plaintext"), "{why:?}");
    link.close();
}

#[test]
fn plain_text_at_the_tls_port_gets_one_line_of_advice() {
    let server = TestServer::tls();
    let mut person = Client::connect(server.addr());
    person.send("HELP");
    let advice = person.recv();
    for text in [
        "openssl s_client -quiet -connect",
        &server.addr().to_string(),
        "--plaintext",
    ] {
        assert!(advice.contains(text), "no {text:?} in {advice:?}");
    }
    person.expect_eof();
}

#[test]
fn the_server_binary_prints_its_fingerprint_and_keeps_its_key() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let mut first = ServerProcess::start_tls(&db, &[]);
    let line = first.next_line();
    assert!(line.starts_with("fingerprint SHA256:"), "{line:?}");
    let fingerprint: Fingerprint = line["fingerprint ".len()..].parse().unwrap();
    first.interrupt();
    let (status, _, _) = first.wait();
    assert!(status.success());
    #[cfg(unix)]
    for file in ["tls-key.pem", "seal-key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join("registry-key").join(file);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }
    let mut second = ServerProcess::start_tls(&db, &[]);
    assert_eq!(second.next_line(), format!("fingerprint {fingerprint}"));
    second.interrupt();

    // --plaintext says who can read it.
    let mut plain = ServerProcess::start(&db, &[]);
    assert!(plain.next_line().contains("anyone on the network can read"));
    plain.interrupt();
}

#[test]
fn the_registry_ends_a_tls_connection_with_close_notify() {
    let server = TestServer::tls();
    let config = p2pchat::crypto::client_config(
        p2pchat::crypto::ServerKey::pinned(server.fingerprint().unwrap()),
        None,
    )
    .unwrap();
    let tcp = TcpStream::connect(server.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut tls = p2pchat::crypto::connect(tcp, config, deadline).unwrap();
    let requests = format!("REGISTER erin {PASSWORD}\nJOIN erin {PASSWORD} 4000\nLOGOUT\n");
    tls.write_all(requests.as_bytes()).unwrap();
    // Everything up to a clean end: without the registry's close_notify,
    // the read ends in `UnexpectedEof` instead (what `openssl s_client`
    // reports as "unexpected eof while reading").
    let mut said = String::new();
    tls.read_to_string(&mut said).unwrap();
    assert!(said.ends_with("OK BYE\n"), "{said:?}");
}
