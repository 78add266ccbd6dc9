//! The benchmarks' load code as a smoke test: tiny runs that must lose
//! nothing and time nobody out. These never assert a speed; the figures are
//! `bench`'s business.

use std::time::Duration;

use p2pchat::bench::ScratchDir;
use p2pchat::bench::lobby::{self, LobbyOptions};
use p2pchat::bench::registry::{self, RegistryOptions, ServerAt};

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
    let dir = ScratchDir::new("bench-test").unwrap();
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
