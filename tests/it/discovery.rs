//! Finding the registry on the LAN, with real multicast DNS between the
//! real binaries, each test in a network namespace of its own (see
//! `support::Netns`): one registry found and used, several listed, none and
//! the fallback, the announcement withdrawn when the registry stops, and a
//! registry that presents another key than announced refused. Where no
//! namespace can be made, a test says so and checks nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use p2pchat::crypto::Fingerprint;
use p2pchat::discovery::{self, AnnounceConfig, Announcement, Announcer, SERVICE_TYPE};

use crate::support::{
    AtTerminal, Netns, PASSWORD, PeerProcess, READ_TIMEOUT, ServerProcess, TerminalPeer, temp_dir,
};

/// How long a peer here looks for registries (`--discovery-wait`). A test
/// has seen the registry announced before the peer starts, but that answer
/// was multicast, and mDNS multicasts a record at most once a second (RFC
/// 6762 section 6): the peer's first query may go unanswered, and its
/// second, a second later, is answered. The 2 s a user waits is checked in
/// `the_production_search_window_is_the_documented_one`.
const SEARCH_WINDOW: &str = "1.5";

/// The window where no registry runs: nothing can answer in any window.
const EMPTY_SEARCH_WINDOW: &str = "0.2";

/// A TLS registry announcing itself as `name` inside `netns`, its
/// database and key in `dir`, and its key's fingerprint as it prints it.
fn registry(netns: &Netns, dir: &Path, name: &str) -> (ServerProcess, Fingerprint) {
    registry_with(netns, dir, &["--announce-name", name])
}

fn registry_with(netns: &Netns, dir: &Path, extra: &[&str]) -> (ServerProcess, Fingerprint) {
    std::fs::create_dir_all(dir).unwrap();
    let mut command = netns.command(env!("CARGO_BIN_EXE_server"));
    command
        .args(["--bind", "127.0.0.1:0"])
        .args(extra)
        .arg("--db")
        .arg(dir.join("registry.db"));
    let mut server = ServerProcess::spawn(command);
    let line = server.next_line();
    let fingerprint = line
        .strip_prefix("fingerprint ")
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| panic!("no fingerprint in {line:?}"));
    (server, fingerprint)
}

/// A peer started without `--server` inside `netns`, keeping the keys it
/// sees in a data directory of its own under `dir`.
fn peer(netns: &Netns, name: &str, dir: &Path) -> PeerProcess {
    peer_searching(netns, name, dir, SEARCH_WINDOW)
}

/// `peer`, looking for registries for `window` seconds.
fn peer_searching(netns: &Netns, name: &str, dir: &Path, window: &str) -> PeerProcess {
    let mut command = netns.command(env!("CARGO_BIN_EXE_peer"));
    command
        .arg("--log-dir")
        .arg(dir.join("logs"))
        .arg("--data-dir")
        .arg(dir.join(format!("data-{name}")))
        .args(["--discovery-wait", window]);
    PeerProcess::spawn(name, command)
}

/// Browses inside `netns` until every one of `names` has answered, so a
/// peer started next finds them without depending on how fast they
/// announced. Returns as soon as the last one is heard.
#[track_caller]
fn wait_until_announced(netns: &Netns, names: &[&str]) {
    let mut missing: Vec<String> = names.iter().map(|name| format!("{name}.")).collect();
    let deadline = Instant::now() + READ_TIMEOUT;
    let (daemon, events) = netns.run(|| {
        let daemon = mdns_sd::ServiceDaemon::new().unwrap();
        let events = daemon.browse(SERVICE_TYPE).unwrap();
        (daemon, events)
    });
    while !missing.is_empty() {
        match events.recv_deadline(deadline) {
            Ok(mdns_sd::ServiceEvent::ServiceResolved(service)) => {
                missing.retain(|name| !service.get_fullname().starts_with(name.as_str()));
            }
            Ok(_) => {}
            Err(_) => panic!("{missing:?} not announced within {READ_TIMEOUT:?}"),
        }
    }
    let _ = daemon.shutdown();
}

/// A user's peer looks for 2 s, as `--help`, the README and the protocol
/// say; the tests shorten it with the hidden `--discovery-wait`.
#[test]
fn the_production_search_window_is_the_documented_one() {
    assert_eq!(discovery::DEFAULT_SEARCH_WINDOW, Duration::from_secs(2));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).unwrap();
    for (path, said) in [
        (
            "README.md",
            "Looking for a registry on the LAN for 2 s (--server HOST:PORT skips this)...",
        ),
        ("docs/PROTOCOL.md", "`_p2pchat._tcp.local.` for 2 s"),
        ("src/bin/peer/main.rs", "registries on the LAN for 2 s"),
    ] {
        assert!(read(path).contains(said), "{path} does not say {said:?}");
    }
}

#[test]
fn one_registry_is_found_and_used() {
    let Some(netns) = Netns::new("one_registry_is_found_and_used") else {
        return;
    };
    let dir = temp_dir();
    let (server, key) = registry(&netns, &dir.path().join("room"), "Room 101");
    wait_until_announced(&netns, &["Room 101"]);
    let mut alice = peer(&netns, "alice", dir.path());
    alice.sees(&format!(
        "Looking for a registry on the LAN for {SEARCH_WINDOW} s (--server HOST:PORT skips this)"
    ));
    assert_eq!(
        alice.sees("Using the registry "),
        format!(
            "Using the registry Room 101 at {}, key {key}.",
            server.addr()
        )
    );
    // The first contact is decided as with --server: piped, the key is
    // remembered and shown, to compare with the one the server printed.
    let remembered = alice.sees("presents key");
    assert!(remembered.contains(&key.to_string()), "{remembered}");
    alice.join(PASSWORD);
    let (status, printed, _) = alice.wait();
    assert!(status.success(), "{printed:?}");
}

#[test]
fn several_registries_are_listed_and_a_piped_peer_is_told_to_choose() {
    let Some(netns) = Netns::new("several_registries_are_listed") else {
        return;
    };
    let dir = temp_dir();
    let (a, key_a) = registry(&netns, &dir.path().join("a"), "Room A");
    let (b, key_b) = registry(&netns, &dir.path().join("b"), "Room B");
    assert_ne!(key_a, key_b);
    wait_until_announced(&netns, &["Room A", "Room B"]);
    let (status, printed, stderr) = peer(&netns, "carol", dir.path()).wait();
    assert_eq!(status.code(), Some(2), "{printed:?} {stderr}");
    let listed: Vec<&str> = printed
        .iter()
        .skip_while(|line| !line.starts_with("Several registries answered"))
        .map(String::as_str)
        .collect();
    let line = |server: &ServerProcess, name: &str, key: Fingerprint| {
        let addr = server.addr();
        format!("  --server {addr}   ({name} at {addr}, key {key})")
    };
    assert_eq!(
        listed,
        [
            "Several registries answered; choose one with --server:".to_string(),
            line(&a, "Room A", key_a),
            line(&b, "Room B", key_b),
        ]
    );
    assert_eq!(
        stderr,
        "peer: several registries answered; start again with --server HOST:PORT\n"
    );
}

#[test]
fn at_a_terminal_the_peer_asks_which_registry() {
    let Some(netns) = Netns::new("at_a_terminal_the_peer_asks_which_registry") else {
        return;
    };
    let dir = temp_dir();
    let (a, key_a) = registry(&netns, &dir.path().join("a"), "Room A");
    let (b, key_b) = registry(&netns, &dir.path().join("b"), "Room B");
    wait_until_announced(&netns, &["Room A", "Room B"]);
    let mut command = netns.command(env!("CARGO_BIN_EXE_peer"));
    command
        .arg("--log-dir")
        .arg(dir.path().join("logs"))
        .arg("--data-dir")
        .arg(dir.path().join("data-erin"))
        .args(["--discovery-wait", SEARCH_WINDOW]);
    let mut erin = TerminalPeer::spawn(command);
    erin.wait_until("the list and the question", |_, _, raw| {
        raw.contains("Which one (1-2)? ")
    });
    let (rows, ..) = erin.screen();
    for listed in [
        format!("  1. Room A at {}, key {key_a}", a.addr()),
        format!("  2. Room B at {}, key {key_b}", b.addr()),
    ] {
        assert!(
            rows.iter().any(|row| row.trim_end() == listed),
            "no {listed:?} in {rows:#?}"
        );
    }
    // Anything but a number listed asks again.
    erin.press("3\r");
    erin.sees_times("Which one (1-2)? ", 2);
    erin.press("2\r");
    erin.sees_times(
        &format!("Using the registry Room B at {}, key {key_b}.", b.addr()),
        1,
    );
    // The first contact asks, as with --server.
    erin.wait_until("the question about the key", |_, _, raw| {
        raw.contains("Trust it? [y/N]")
    });
    erin.press("y\r");
    erin.sees_times("press '1' for registration", 1);
}

#[test]
fn with_no_registry_the_peer_tries_the_default_and_names_server() {
    let Some(netns) = Netns::new("with_no_registry_the_peer_tries_the_default") else {
        return;
    };
    let dir = temp_dir();
    let mut dave = peer_searching(&netns, "dave", dir.path(), EMPTY_SEARCH_WINDOW);
    dave.sees("Looking for a registry on the LAN");
    assert_eq!(
        dave.sees("No registry answered"),
        "No registry answered on the LAN; trying 127.0.0.1:7777 \
         (another registry: start with --server HOST:PORT)."
    );
    let unreachable = dave.sees("The registry is not reachable yet at 127.0.0.1:7777");
    assert!(unreachable.contains("--server HOST:PORT"), "{unreachable}");
    assert!(dave.wait().0.success());
}

#[test]
fn a_stopped_registry_withdraws_its_announcement() {
    let Some(netns) = Netns::new("a_stopped_registry_withdraws_its_announcement") else {
        return;
    };
    let dir = temp_dir();
    let (server, _) = registry(&netns, dir.path(), "Room 9");
    // A browser that keeps running hears the goodbye, where a new search
    // would simply find nothing.
    let (browsing, events) = netns.run(|| {
        let daemon = mdns_sd::ServiceDaemon::new().unwrap();
        let events = daemon.browse(SERVICE_TYPE).unwrap();
        (daemon, events)
    });
    let deadline = Instant::now() + READ_TIMEOUT;
    let next = |what: &str| {
        events
            .recv_deadline(deadline)
            .unwrap_or_else(|_| panic!("no {what} within {READ_TIMEOUT:?}"))
    };
    while !matches!(next("announcement"), mdns_sd::ServiceEvent::ServiceResolved(s)
        if s.get_fullname().starts_with("Room 9."))
    {}
    server.interrupt();
    while !matches!(next("goodbye"), mdns_sd::ServiceEvent::ServiceRemoved(_, name)
        if name.starts_with("Room 9."))
    {}
    let (status, stdout, stderr) = server.wait();
    assert!(status.success(), "{stdout} {stderr}");
    assert!(stdout.contains("Registry stopped"), "{stdout}");
    assert_eq!(stderr, "");
    let _ = browsing.shutdown();
}

#[test]
fn a_registry_presenting_another_key_than_announced_is_refused() {
    let Some(netns) = Netns::new("a_registry_presenting_another_key_than_announced") else {
        return;
    };
    let dir = temp_dir();
    // The real registry does not announce itself; a stranger announces it
    // under a name, with a key that is not the registry's.
    let (server, real) = registry_with(&netns, &dir.path().join("room"), &["--no-announce"]);
    let fake: Fingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        .parse()
        .unwrap();
    let config = AnnounceConfig {
        name: "Room 101".into(),
        registry: server.addr(),
        announcement: Announcement {
            version: discovery::PROTOCOL_VERSION,
            tls: true,
            fingerprint: Some(fake),
            online: None,
        },
    };
    let stranger = netns.run(move || Announcer::start(&config).unwrap());
    wait_until_announced(&netns, &["Room 101"]);
    let mut bob = peer(&netns, "bob", dir.path());
    assert_eq!(
        bob.sees("Using the registry "),
        format!(
            "Using the registry Room 101 at {}, key {fake}.",
            server.addr()
        )
    );
    let refused = bob.sees("its announcement on the LAN named");
    for text in [
        &real.to_string(),
        &fake.to_string(),
        "--server",
        "--trust-registry",
    ] {
        assert!(refused.contains(text), "no {text:?} in {refused:?}");
    }
    // The key was neither asked about nor remembered.
    let (_, printed, _) = bob.wait();
    assert!(
        !printed.iter().any(|line| line.contains("remembered in")),
        "{printed:#?}"
    );
    stranger.stop().unwrap();
}
