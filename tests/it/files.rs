//! Files between real peer binaries, piped: offered through the lobby,
//! fetched directly from the sender, checked, saved under safe names.

use std::fs;
use std::path::Path;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use p2pchat::crypto::{self, Identity, ServerKey};

use crate::support::{PASSWORD, PeerProcess, READ_TIMEOUT, TestServer, temp_dir};

/// Alice leads a lobby with bob in it; each saves into its own folder.
fn lobby(
    server: &TestServer,
    logs: &Path,
    downloads: &Path,
    extra: &[&str],
) -> (PeerProcess, PeerProcess) {
    let extra: Vec<String> = extra.iter().map(|arg| arg.to_string()).collect();
    let (alice, bob, _) = lobby_with(server, logs, downloads, |_| extra.clone());
    (alice, bob)
}

/// Alice leads a lobby with bob in it; each saves into its own folder
/// under `downloads` and takes `extra(name)` as well. Returns alice's
/// real chat port too.
pub(super) fn lobby_with(
    server: &TestServer,
    logs: &Path,
    downloads: &Path,
    extra: impl Fn(&str) -> Vec<String>,
) -> (PeerProcess, PeerProcess, u16) {
    let start = |name: &str| {
        let dir = downloads.join(name).to_str().unwrap().to_string();
        let mut args = vec!["--download-dir".to_string(), dir];
        args.extend(extra(name));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        PeerProcess::start_with(name, server.addr(), logs, &args)
    };
    let (mut alice, mut bob) = (start("alice"), start("bob"));
    let port = alice.chat_port();
    alice.join(PASSWORD);
    bob.join(PASSWORD);
    for line in ["2", "bob", "Yes", "3"] {
        alice.types(line);
    }
    bob.sees("Chat request from 'alice'");
    bob.types("OK");
    bob.sees("You are in alice's lobby with: alice, bob");
    alice.sees("Client ('bob') connected");
    (alice, bob, port)
}

/// The offer's id in a line `... (offer <id>).`.
pub(super) fn offer_id(line: &str) -> String {
    let id = line.rsplit("(offer ").next().unwrap();
    id.trim_end_matches(").").to_string()
}

/// Bytes that look random and are the same on every run.
pub(super) fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn files_of_every_size_arrive_identical_and_never_overwrite() {
    let server = TestServer::start();
    let (logs, downloads, outbox) = (temp_dir(), temp_dir(), temp_dir());
    let (mut alice, mut bob) = lobby(&server, logs.path(), downloads.path(), &[]);
    let received = downloads.path().join("bob");
    let files = [
        ("empty", Vec::new()),
        ("one", vec![b'x']),
        ("big.bin", noise(10 << 20)),
    ];
    for (name, bytes) in &files {
        let path = outbox.path().join(name);
        fs::write(&path, bytes).unwrap();
        alice.types(&format!("/send bob {}", path.display()));
        alice.sees(&format!("Offered {name} "));
        bob.sees(&format!("alice offers {name} "));
        bob.types("/accept");
        bob.sees(&format!("Accepted {name} from alice"));
        bob.sees(&format!("Saved {name} from alice at "));
        alice.sees(&format!("Sending {name} to bob: done"));
        assert_eq!(&fs::read(received.join(name)).unwrap(), bytes, "{name}");
    }
    // Progress was told, piped, at the start, at each quarter of the big
    // file and at the end, once each, on both sides.
    for (bob_says, alice_says) in [
        (
            "Receiving big.bin from alice: started at byte 0.",
            "Sending big.bin to bob: started at byte 0.",
        ),
        (
            "Saved big.bin from alice at ",
            "Sending big.bin to bob: done (10485760 bytes sent).",
        ),
    ] {
        assert_eq!(bob.seen_count(bob_says), 1, "{bob_says}");
        assert_eq!(alice.seen_count(alice_says), 1, "{alice_says}");
    }
    for pct in [25, 50, 75, 100] {
        assert_eq!(
            bob.seen_count(&format!("Receiving big.bin from alice: {pct} %")),
            1
        );
        assert_eq!(
            alice.seen_count(&format!("Sending big.bin to bob: {pct} %")),
            1
        );
    }
    // The same name again is saved beside the first, numbered.
    let path = outbox.path().join("one");
    fs::write(&path, b"y").unwrap();
    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("alice offers one ");
    bob.types("/accept");
    bob.sees("Saved one from alice at ");
    assert_eq!(fs::read(received.join("one")).unwrap(), b"x");
    assert_eq!(fs::read(received.join("one (1)")).unwrap(), b"y");
    let leftovers: Vec<_> = fs::read_dir(&received)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part") || n.ends_with(".sum"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A declined offer moves nothing, and both sides say so.
    alice.types(&format!("/send all {}", path.display()));
    bob.sees("alice offers one ");
    bob.types("/decline");
    bob.sees("Declined one from alice.");
    alice.sees("bob declined one.");
    assert!(!received.join("one (2)").exists());

    bob.types("/quit");
    bob.sees("Bye.");
    alice.types("/quit");
    alice.sees("Bye.");
    assert!(alice.wait().0.success());
    assert!(bob.wait().0.success());
    let log = |who: &str| {
        let dir = logs.path().join(who);
        fs::read_dir(dir)
            .unwrap()
            .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
            .collect::<String>()
    };
    let (alice_log, bob_log) = (log("alice"), log("bob"));
    assert!(
        alice_log.contains("Offered big.bin") && alice_log.contains("bob declined one."),
        "{alice_log}"
    );
    assert!(
        bob_log.contains("Saved big.bin from alice at")
            && bob_log.contains("Declined one from alice."),
        "{bob_log}"
    );
}

#[test]
fn expired_and_too_large_offers_are_refused_and_an_unwritable_folder_fails_cleanly() {
    let server = TestServer::start();
    let (logs, downloads, outbox) = (temp_dir(), temp_dir(), temp_dir());
    // Bob's download folder is a file: nothing can be written in it.
    fs::write(downloads.path().join("bob"), b"not a folder").unwrap();
    let (mut alice, mut bob) = lobby(
        &server,
        logs.path(),
        downloads.path(),
        &["--offer-timeout", "0.3", "--max-file-size", "4"],
    );
    let path = outbox.path().join("five");
    fs::write(&path, b"12345").unwrap();
    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("Declined five from alice: it is larger than --max-file-size.");
    alice.sees("bob declined five.");

    let path = outbox.path().join("four");
    fs::write(&path, b"1234").unwrap();
    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("alice offers four ");
    bob.types("/accept");
    bob.sees("Declined four from alice: the download folder");
    alice.sees("bob declined four.");

    alice.types(&format!("/send bob {}", path.display()));
    bob.sees("alice offers four ");
    // The offer waits 0.3 s, then both sides say it expired, and there
    // is nothing to accept.
    bob.sees("The offer of four from alice expired unanswered.");
    alice.sees("Your offer of four expired.");
    bob.types("/accept");
    bob.sees("No file offer is waiting.");
}

#[test]
fn over_tls_a_file_is_fetched_only_with_the_key_of_its_recipients_seat() {
    let server = TestServer::tls();
    let fingerprint = server.fingerprint().unwrap().to_string();
    let (logs, downloads, outbox, data) = (temp_dir(), temp_dir(), temp_dir(), temp_dir());
    let (mut alice, mut bob, port) = lobby_with(&server, logs.path(), downloads.path(), |name| {
        let data = data.path().join(name).to_str().unwrap().to_string();
        ["--trust-registry", &fingerprint, "--data-dir", &data]
            .map(String::from)
            .to_vec()
    });
    let bytes = noise(300_000);
    let path = outbox.path().join("secret.bin");
    fs::write(&path, &bytes).unwrap();
    alice.types(&format!("/send bob {}", path.display()));
    let id = offer_id(&bob.sees("alice offers secret.bin "));
    let fetch = format!("FETCH bob {id} 0\n");

    // A stranger with a key of its own, claiming to be bob, is refused
    // before a byte of the file moves: the key is not bob's seat's.
    let mallory = Identity::generate().unwrap();
    let config =
        crypto::client_config(ServerKey::trust_on_first_use(), Some(mallory.tls())).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    let mut tls = crypto::connect(tcp, config, Instant::now() + READ_TIMEOUT).unwrap();
    tls.write_all(fetch.as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(tls).read_line(&mut answer).unwrap();
    assert!(answer.starts_with("ERR BAD_KEY "), "{answer:?}");
    // In plain text the listener does not even read the line.
    let mut plain = TcpStream::connect(("127.0.0.1", port)).unwrap();
    plain.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
    plain.write_all(fetch.as_bytes()).unwrap();
    let mut heard = Vec::new();
    let _ = plain.read_to_end(&mut heard);
    assert!(
        !String::from_utf8_lossy(&heard).contains("SENDING"),
        "{heard:?}"
    );

    // Bob, whose key it is, gets the file, over TLS both ways.
    bob.types("/accept");
    bob.sees("Receiving secret.bin from alice: started at byte 0.");
    bob.sees("Saved secret.bin from alice at ");
    alice.sees("Sending secret.bin to bob: done (300000 bytes sent).");
    let saved = downloads.path().join("bob").join("secret.bin");
    assert_eq!(fs::read(saved).unwrap(), bytes);
}
