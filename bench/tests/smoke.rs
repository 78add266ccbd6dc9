//! The benchmarks' load code as a smoke test: tiny runs that must lose
//! nothing and time nobody out. These never assert a speed; the figures are
//! `bench`'s business. Unix-only, like the load generators.
#![cfg(unix)]

use std::time::Duration;

use p2pchat_bench::lobby::{self, LobbyOptions};
use p2pchat_bench::registry::{self, RegistryOptions, ServerAt};

#[track_caller]
fn check_lobby(members: usize, messages: u64, rate: f64) {
    let mut options = LobbyOptions::new(members, messages);
    options.rate = rate;
    let report = lobby::run(&options).unwrap();
    let expected = (members as u64 - 1) * messages;
    assert_eq!(report.expected, expected);
    assert_eq!(report.delivered, expected, "{report:?}");
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.out_of_order, 0, "{report:?}");
    assert_eq!(report.disconnected, 0, "{report:?}");
    assert_eq!(report.latency.count, expected);
}

#[test]
fn lobby_loses_nothing() {
    check_lobby(5, 50, 0.0);
    check_lobby(2, 20, 0.0);
    check_lobby(3, 10, 2000.0);
}

#[test]
fn registry_times_nobody_out() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    assert_eq!(registry::prepare_db(&db, 5).unwrap(), 5);
    // A second preparation reuses the accounts.
    assert_eq!(registry::prepare_db(&db, 5).unwrap(), 0);
    let mut options = RegistryOptions::new(5);
    options.duration = Duration::from_millis(300);
    options.hello_interval = Duration::from_millis(20);
    // Far longer than any HELLO gap, even in a loaded debug build.
    options.hello_timeout = Duration::from_secs(5);
    // Every peer LISTs or SEARCHes now and then.
    options.list_fraction = 0.25;
    options.server = ServerAt::InProcess(db);
    let report = registry::run(&options).unwrap();
    assert_eq!(report.joined, 5, "{report:?}");
    assert_eq!(report.join_failures, 0, "{report:?}");
    assert_eq!(report.wrongly_offline, 0, "{report:?}");
    assert_eq!(report.bad_replies, 0, "{report:?}");
    assert_eq!(report.final_list_rows, 5, "{report:?}");
    assert!(report.hello.count > 0, "{report:?}");
    assert!(report.list.count > 0, "{report:?}");
}

/// The value of `name` in the flat JSON object `bench --json` prints: a
/// number, `true`/`false`, a string with its quotes, or an array as text.
fn json_field<'a>(json: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    let start = json
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {json}"))
        + key.len();
    let rest = &json[start..];
    let (mut depth, mut in_string, mut escaped) = (0, false, false);
    for (at, c) in rest.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            ',' | '}' if depth == 0 => return &rest[..at],
            _ => {}
        }
    }
    rest
}

#[test]
fn churn_leaves_the_server_as_it_found_it() {
    // The whole scenario runs in a `bench` process of its own, with the
    // server in a child of that: the thread counts it compares are then
    // its own, not those of whatever other tests run beside this one.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--json", "churn", "--peers", "8", "--duration", "0.5"])
        // The hello timeout is far longer than a peer's pace between two
        // requests, so that a loaded machine's pauses never time out a
        // peer that is not meant to time out.
        .args([
            "--hello-timeout",
            "1.5",
            "--session",
            "0.15",
            "--pause",
            "0.05",
        ])
        .args(["--lobbies", "2", "--seed", "7"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json = stdout.trim();
    assert!(out.status.success(), "{json}\n{stderr}");
    let field = |name: &str| json_field(json, name);
    let number = |name: &str| -> u64 {
        field(name)
            .parse()
            .unwrap_or_else(|_| panic!("{name} in {json}"))
    };
    for figure in ["server_threads", "server_fds", "bench_threads"] {
        let baseline = field(&format!("{figure}_baseline"));
        assert_ne!(baseline, "null", "{figure}: {json}");
        assert_eq!(
            field(&format!("{figure}_end")),
            baseline,
            "{figure}: {json}"
        );
    }
    assert_eq!(field("settled"), "true", "{json}");
    assert_eq!(field("online_settled"), "[\"bench00008\"]", "{json}");
    assert_eq!(field("online_end"), "[]", "{json}");
    assert_eq!(number("unexpected"), 0, "{json}");
    assert_eq!(number("broken"), 0, "{json}");
    assert_eq!(number("lobby_lost"), 0, "{json}");
    assert_eq!(number("lobby_unexpected"), 0, "{json}");
    assert_eq!(field("problems"), "[]", "{json}");
    // Every session is accounted for, exactly once.
    let ended: u64 = ["left", "crashed", "timed_out", "replaced", "cut", "broken"]
        .iter()
        .map(|name| number(name))
        .sum();
    assert!(number("sessions") > 0, "{json}");
    assert_eq!(ended, number("sessions"), "{json}");
    assert!(number("lobby_delivered") > 0, "{json}");
    assert_eq!(
        number("lobby_delivered"),
        number("lobby_expected"),
        "{json}"
    );
}
