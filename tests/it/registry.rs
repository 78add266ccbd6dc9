//! The registry server over real sockets on 127.0.0.1 and real SQLite files:
//! every request and reply, presence, takeover, timeouts, shutdown, and what
//! ends up in the database file.
//!
//! The test registry hashes with cheap parameters (`FAST_HASHES`); the
//! tests of JOINs queued behind each other's hashes give their accounts
//! production-cost hashes (`db_with_slow_users`).

use std::sync::Barrier;
use std::thread;
use std::time::Duration;

use p2pchat::wire::HELP_TEXT;
use rusqlite::Connection;

use crate::support::{
    Client, PASSWORD, TestServer, ask_until, check, db_with_slow_users, db_with_users, join,
    register_and_join, temp_dir,
};

/// Checks a `LIST`: the header and then exactly these rows.
#[track_caller]
fn check_list(client: &mut Client, rows: &[&str]) {
    assert_eq!(client.ask("LIST"), format!("OK LIST {}", rows.len()));
    for row in rows {
        assert_eq!(client.recv(), *row);
    }
}

/// The `status` column of every user, by name.
fn statuses(db: &std::path::Path) -> Vec<(String, i64)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT user_name, status FROM users ORDER BY user_name")
        .unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn offline(names: &[&str]) -> Vec<(String, i64)> {
    names.iter().map(|n| (n.to_string(), 0)).collect()
}

#[test]
fn requests_that_need_no_account() {
    let server = TestServer::start();
    let mut c = server.client();
    let help = format!("OK HELP {HELP_TEXT}");
    let long_name = format!("REGISTER {} s3cret", "n".repeat(33));
    let long_password = format!("REGISTER alice {}", "p".repeat(129));
    let cases = [
        ("HELP", help.as_str()),
        ("help", "OK HELP"),
        (
            "HELLO",
            "ERR NOT_JOINED JOIN first: JOIN <name> <password> <port>",
        ),
        ("LIST", "ERR NOT_JOINED"),
        ("search alice", "ERR NOT_JOINED"),
        ("LOGOUT", "ERR NOT_JOINED"),
        (
            "FOO bar",
            "ERR UNKNOWN_COMMAND unknown command FOO; try HELP",
        ),
        (
            "REGISTER alice",
            "ERR BAD_ARGS usage: REGISTER <name> <password>",
        ),
        (
            "JOIN alice pw",
            "ERR BAD_ARGS usage: JOIN <name> <password> <port> [key]",
        ),
        ("HELLO there", "ERR BAD_ARGS usage: HELLO"),
        ("LIST all", "ERR BAD_ARGS usage: LIST"),
        ("SEARCH", "ERR BAD_ARGS usage: SEARCH <name>"),
        ("LOGOUT now", "ERR BAD_ARGS usage: LOGOUT"),
        ("HELP me", "ERR BAD_ARGS usage: HELP"),
        ("REGISTER bad!name s3cret", "ERR BAD_NAME"),
        (&long_name, "ERR BAD_NAME"),
        ("SEARCH no/name", "ERR BAD_NAME"),
        ("REGISTER alice abc", "ERR BAD_PASSWORD"),
        (&long_password, "ERR BAD_PASSWORD"),
        ("JOIN alice s3cret 0", "ERR BAD_PORT"),
        ("JOIN alice s3cret 65536", "ERR BAD_PORT"),
        (
            "JOIN alice s3cret x",
            "ERR BAD_PORT the port must be a number from 1 to 65535",
        ),
        (
            "JOIN nobody s3cret 5000",
            "ERR BAD_CREDENTIALS wrong user name or password",
        ),
    ];
    for (request, expected) in cases {
        check(&mut c, request, expected);
    }
}

#[test]
fn register_join_search_logout() {
    let server = TestServer::start();
    let mut c = server.client();
    let cases = [
        ("REGISTER Alice s3cret-pw", "OK REGISTERED Alice"),
        ("register ALICE other-pw", "ERR NAME_TAKEN"),
        ("JOIN alice wrong-pw 5000", "ERR BAD_CREDENTIALS"),
        // Names are unique ignoring case; the registered case is kept.
        (
            "join alice s3cret-pw 5000",
            "OK JOINED Alice 127.0.0.1 5000",
        ),
        ("JOIN Alice s3cret-pw 5001", "ERR ALREADY_JOINED"),
        ("HELLO", "OK HELLO"),
        ("hello", "OK HELLO"),
        ("SEARCH ALICE", "OK USER Alice 127.0.0.1 5000"),
        ("SEARCH nobody", "ERR NOT_FOUND nobody is not registered"),
        ("REGISTER bob s3cret-pw", "OK REGISTERED bob"),
        ("SEARCH Bob", "ERR OFFLINE bob is offline"),
    ];
    for (request, expected) in cases {
        check(&mut c, request, expected);
    }
    check_list(&mut c, &["USER Alice 127.0.0.1 5000"]);
    check(&mut c, "LOGOUT", "OK BYE");
    c.expect_eof();
}

#[test]
fn list_is_sorted_by_name_and_includes_the_caller() {
    let server = TestServer::start();
    let mut carol = register_and_join(server.addr(), "carol", 7003);
    let _alice = register_and_join(server.addr(), "alice", 7001);
    let _bob = register_and_join(server.addr(), "Bob", 7002);
    check_list(
        &mut carol,
        &[
            "USER alice 127.0.0.1 7001",
            "USER Bob 127.0.0.1 7002",
            "USER carol 127.0.0.1 7003",
        ],
    );
}

#[test]
fn requests_in_one_packet_are_answered_in_order() {
    let server = TestServer::start();
    let mut c = server.client();
    c.send_raw(b"HELP\n\r\n   \nHELLO\nFOO\n\nSEARCH\n");
    assert!(c.recv().starts_with("OK HELP "));
    assert!(c.recv().starts_with("ERR NOT_JOINED "));
    assert!(c.recv().starts_with("ERR UNKNOWN_COMMAND "));
    assert_eq!(c.recv(), "ERR BAD_ARGS usage: SEARCH <name>");
    // The empty lines got no reply: the next line answers the next request.
    check(&mut c, "LOGOUT", "ERR NOT_JOINED");
}

#[test]
fn crlf_line_endings() {
    let server = TestServer::start();
    let mut c = server.client();
    c.send_raw(b"HELP\r\n");
    assert!(c.recv().starts_with("OK HELP "));
    c.send_raw(b"REGISTER carol s3cret-pw\r\n");
    assert_eq!(c.recv(), "OK REGISTERED carol");
    // The `\r` was not part of the password.
    c.send_raw(b"JOIN carol s3cret-pw 5000\n");
    assert_eq!(c.recv(), "OK JOINED carol 127.0.0.1 5000");
    c.send_raw(b"\r\nHELLO\r\n");
    assert_eq!(c.recv(), "OK HELLO");
}

#[test]
fn takeover_replaces_the_old_connection() {
    let server = TestServer::start();
    let mut old = register_and_join(server.addr(), "alice", 5000);
    let mut new = server.client();
    // A wrong password takes nothing over.
    check(&mut new, "JOIN alice wrong-pw 6000", "ERR BAD_CREDENTIALS");
    check(&mut old, "HELLO", "OK HELLO");

    check(
        &mut new,
        "JOIN ALICE s3cret-pw 6000",
        "OK JOINED alice 127.0.0.1 6000",
    );
    assert_eq!(old.recv(), "BYE REPLACED");
    old.expect_eof();
    // The old connection closing did not take alice offline.
    check_list(&mut new, &["USER alice 127.0.0.1 6000"]);
    check(&mut new, "SEARCH alice", "OK USER alice 127.0.0.1 6000");
    let conn = Connection::open(server.db_path()).unwrap();
    let (status, port): (i64, i64) = conn
        .query_row(
            "SELECT status, port FROM users WHERE user_name = 'alice'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((status, port), (1, 6000));
}

#[test]
fn logout_marks_the_user_offline() {
    let server = TestServer::start();
    let mut alice = register_and_join(server.addr(), "alice", 5000);
    let mut bob = register_and_join(server.addr(), "bob", 5001);
    check(&mut alice, "LOGOUT", "OK BYE");
    alice.expect_eof();
    check(&mut bob, "SEARCH alice", "ERR OFFLINE alice is offline");
    check_list(&mut bob, &["USER bob 127.0.0.1 5001"]);
    assert_eq!(
        statuses(server.db_path()),
        [("alice".to_string(), 0), ("bob".to_string(), 1)]
    );
}

#[test]
fn disconnect_marks_the_user_offline() {
    let server = TestServer::start();
    let alice = register_and_join(server.addr(), "alice", 5000);
    let mut bob = register_and_join(server.addr(), "bob", 5001);
    drop(alice);
    // The server learns of the close when its read returns; ask until then.
    ask_until(&mut bob, "SEARCH alice", "ERR OFFLINE alice is offline");
    check_list(&mut bob, &["USER bob 127.0.0.1 5001"]);
}

#[test]
fn silent_connections_time_out() {
    let dir = temp_dir();
    let db = db_with_users(dir.path(), &[("alice", PASSWORD)]);
    let server = TestServer::start_at(&db, Duration::from_millis(200));
    let mut unjoined = server.client();
    let mut joined = server.client();
    join(&mut joined, "alice", 5000);
    assert_eq!(unjoined.recv(), "BYE TIMEOUT");
    unjoined.expect_eof();
    assert_eq!(joined.recv(), "BYE TIMEOUT");
    joined.expect_eof();
    assert_eq!(statuses(&db), offline(&["alice"]));
}

#[test]
fn any_complete_line_keeps_a_connection_alive() {
    let dir = temp_dir();
    let db = db_with_users(dir.path(), &[("alice", PASSWORD)]);
    // Long enough that the test's own pace between two lines on one
    // connection (a few milliseconds) never comes near it, even on a
    // loaded machine (each round waits 50 ms for the silent one); the test
    // waits it out twice. The rule is tested as data in the hub's tests.
    let server = TestServer::start_at(&db, Duration::from_millis(400));
    let mut joined = server.client();
    let mut unjoined = server.client();
    let mut silent = server.client();
    join(&mut joined, "alice", 5000);
    // The two talkers keep sending lines until the silent connection,
    // opened at the same moment, is closed for its silence: by then both
    // have lived past the timeout, kept alive by their lines.
    loop {
        check(&mut joined, "HELLO", "OK HELLO");
        check(&mut unjoined, "HELP", "OK HELP");
        if let Some(line) = silent.recv_within(Duration::from_millis(50)) {
            assert_eq!(line, "BYE TIMEOUT");
            break;
        }
    }
    silent.expect_eof();
    check(&mut joined, "SEARCH alice", "OK USER alice 127.0.0.1 5000");
    check(&mut unjoined, "HELP", "OK HELP");
    // Then silence: both are closed.
    assert_eq!(joined.recv(), "BYE TIMEOUT");
    joined.expect_eof();
    assert_eq!(unjoined.recv(), "BYE TIMEOUT");
    unjoined.expect_eof();
}

#[test]
fn a_join_that_waits_for_the_hashing_threads_is_not_silence() {
    // Far more JOINs at once than there are hashing threads, on a server
    // whose timeout is shorter than the queue takes to drain (two dozen
    // argon2 hashes on a few threads): a client that has sent its JOIN is
    // waiting for the answer, not silent, and must get it.
    const USERS: usize = 24;
    let names: Vec<String> = (0..USERS).map(|i| format!("user{i}")).collect();
    let dir = temp_dir();
    let accounts: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), PASSWORD)).collect();
    let db = db_with_slow_users(dir.path(), &accounts);
    let server = TestServer::start_at(&db, Duration::from_millis(100));
    let mut clients: Vec<Client> = names
        .iter()
        .zip(5000..)
        .map(|(name, port)| {
            let mut client = server.client();
            client.send(&format!("JOIN {name} {PASSWORD} {port}"));
            client
        })
        .collect();
    let mut joined = 0;
    for (port, (client, name)) in (5000..).zip(clients.iter_mut().zip(&names)) {
        let first = client.recv();
        // A connection the server had not yet read a line from when its
        // timeout passed is closed as silent, which is right; one whose
        // JOIN was read gets its answer, then times out as any other.
        if first != "BYE TIMEOUT" {
            assert_eq!(first, format!("OK JOINED {name} 127.0.0.1 {port}"));
            assert_eq!(client.recv(), "BYE TIMEOUT");
            joined += 1;
        }
        client.expect_eof();
    }
    assert!(
        joined > 0,
        "no JOIN was read before its connection timed out"
    );
}

#[test]
fn a_join_cut_off_by_the_join_deadline_hears_bye_not_a_refusal() {
    // JOINs queued behind each other's hashes past a short join deadline:
    // the hub ends those connections while their JOIN is still being
    // checked, and never acts on it. Each must hear BYE TIMEOUT (so that a
    // client knows to send it again), never an error that reads as an
    // answer to the JOIN.
    const USERS: usize = 24;
    let names: Vec<String> = (0..USERS).map(|i| format!("late{i}")).collect();
    let dir = temp_dir();
    let accounts: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), PASSWORD)).collect();
    let db = db_with_slow_users(dir.path(), &accounts);
    let server = TestServer::with_config(|config| {
        config.db_path = db;
        config.join_timeout = Duration::from_millis(100);
    });
    let mut clients: Vec<Client> = names
        .iter()
        .zip(5000..)
        .map(|(name, port)| {
            let mut client = server.client();
            client.send(&format!("JOIN {name} {PASSWORD} {port}"));
            client
        })
        .collect();
    for (port, (client, name)) in (5000..).zip(clients.iter_mut().zip(&names)) {
        let first = client.recv();
        assert!(
            first == "BYE TIMEOUT" || first == format!("OK JOINED {name} 127.0.0.1 {port}"),
            "{name} got {first:?}"
        );
    }
}

#[test]
fn a_trickle_of_bytes_without_a_newline_times_out() {
    let server = TestServer::with_timeout(Duration::from_millis(200));
    let mut c = server.client();
    c.send_raw(b"HEL");
    // Keep sending one byte of the same line every 20 ms: bytes are not a
    // line, so they do not count as activity.
    let mut got = None;
    for _ in 0..250 {
        if c.try_send_raw(b"L").is_err() {
            break;
        }
        got = c.recv_within(Duration::from_millis(20));
        if got.is_some() {
            break;
        }
    }
    let got = got.unwrap_or_else(|| c.recv());
    assert_eq!(got, "BYE TIMEOUT");
    c.expect_eof();
}

#[test]
fn start_up_marks_everyone_offline() {
    let dir = temp_dir();
    let db = db_with_users(dir.path(), &[("alice", PASSWORD)]);
    // As if a server had crashed while alice was online.
    Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE users SET status = 1, ip_address = '127.0.0.1', port = 5000",
            [],
        )
        .unwrap();
    let server = TestServer::start_in(dir.path());
    assert_eq!(statuses(&db), offline(&["alice"]));
    let mut bob = register_and_join(server.addr(), "bob", 5001);
    check_list(&mut bob, &["USER bob 127.0.0.1 5001"]);
    check(&mut bob, "SEARCH alice", "ERR OFFLINE alice is offline");
}

#[test]
fn restart_keeps_accounts() {
    let dir = temp_dir();
    let server = TestServer::start_in(dir.path());
    let _alice = register_and_join(server.addr(), "alice", 5000);
    server.stop().unwrap();
    let server = TestServer::start_in(dir.path());
    let mut alice = server.client();
    check(&mut alice, "REGISTER alice other-pw", "ERR NAME_TAKEN");
    join(&mut alice, "alice", 5002);
}

#[test]
fn shutdown_says_bye_to_every_connection_and_leaves_everyone_offline() {
    let dir = temp_dir();
    let server = TestServer::start_in(dir.path());
    let db = server.db_path().to_path_buf();
    let mut alice = register_and_join(server.addr(), "alice", 5000);
    let mut bob = register_and_join(server.addr(), "bob", 5001);
    let mut unjoined = server.client();
    check(&mut unjoined, "HELP", "OK HELP");
    assert_eq!(
        statuses(&db),
        [("alice".to_string(), 1), ("bob".to_string(), 1)]
    );
    server.stop().unwrap();
    for c in [&mut alice, &mut bob, &mut unjoined] {
        assert_eq!(c.recv(), "BYE SHUTDOWN");
        c.expect_eof();
    }
    assert_eq!(statuses(&db), offline(&["alice", "bob"]));
}

#[test]
fn the_password_is_never_stored() {
    let secret = "Unguessable-Passw0rd";
    let dir = temp_dir();
    let server = TestServer::start_in(dir.path());
    let db = server.db_path().to_path_buf();
    let mut c = server.client();
    check(
        &mut c,
        &format!("REGISTER alice {secret}"),
        "OK REGISTERED alice",
    );
    check(
        &mut c,
        &format!("JOIN alice {secret} 5000"),
        "OK JOINED alice 127.0.0.1 5000",
    );
    let assert_absent = || {
        assert!(db.exists());
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let path = format!("{}{suffix}", db.display());
            if let Ok(bytes) = std::fs::read(&path) {
                let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                assert!(!found, "the password is in {path}");
            }
        }
    };
    assert_absent();

    let conn = Connection::open(&db).unwrap();
    let row: (
        String,
        String,
        i64,
        String,
        i64,
        i64,
        Option<String>,
        Option<String>,
    ) = conn
        .query_row(
            "SELECT user_name, password_hash, status, ip_address, port, client_port,
                    created_at, last_seen FROM users",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            },
        )
        .unwrap();
    let (name, hash, status, ip, port, client_port, created_at, last_seen) = row;
    assert_eq!(name, "alice");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert_eq!((status, ip.as_str(), port), (1, "127.0.0.1", 5000));
    assert_eq!(client_port, i64::from(c.local_addr().port()));
    assert!(created_at.is_some() && last_seen.is_some());
    drop(conn);

    server.stop().unwrap();
    assert_absent();
}

#[test]
fn concurrent_registrations_of_one_name() {
    let server = TestServer::start();
    let names = [
        "dave", "Dave", "DAVE", "dAvE", "dave", "daVe", "DAve", "davE",
    ];
    let start = Barrier::new(names.len());
    let replies: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = names
            .iter()
            .map(|name| {
                let mut c = server.client();
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    c.ask(&format!("REGISTER {name} {PASSWORD}"))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let registered = replies
        .iter()
        .filter(|r| r.starts_with("OK REGISTERED "))
        .count();
    let taken = replies
        .iter()
        .filter(|r| r.starts_with("ERR NAME_TAKEN "))
        .count();
    assert_eq!((registered, taken), (1, names.len() - 1), "{replies:#?}");
    let conn = Connection::open(server.db_path()).unwrap();
    let count: i64 = conn
        .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 1);
}

#[test]
fn invalid_utf8_keeps_the_connection_usable() {
    let server = TestServer::start();
    let mut c = server.client();
    c.send_raw(b"\xff\xfe\n");
    assert_eq!(c.recv(), "ERR BAD_ENCODING lines must be UTF-8");
    c.send_raw(b"SEARCH caf\xe9\r\n");
    assert_eq!(c.recv(), "ERR BAD_ENCODING lines must be UTF-8");
    check(&mut c, "HELP", "OK HELP");
}

#[test]
fn longest_line_is_accepted() {
    let server = TestServer::start();
    let mut c = server.client();
    let longest = "A".repeat(1024);
    check(&mut c, &longest, "ERR UNKNOWN_COMMAND");
    c.send_raw(format!("{longest}\r\n").as_bytes());
    assert!(c.recv().starts_with("ERR UNKNOWN_COMMAND "));
    check(&mut c, "HELP", "OK HELP");
}

#[test]
fn over_long_line_closes_the_connection() {
    let server = TestServer::start();
    for line in [
        format!("{}\n", "A".repeat(1025)),
        format!("HELP {}\r\n", "x".repeat(1020)),
        // No newline at all: the server does not wait for one.
        "A".repeat(4000),
    ] {
        let mut c = server.client();
        c.send_raw(line.as_bytes());
        assert_eq!(
            c.recv(),
            "ERR LINE_TOO_LONG lines are at most 1024 bytes; closing"
        );
        c.expect_eof();
    }
}

#[test]
fn bad_input_on_one_connection_does_not_disturb_others() {
    let server = TestServer::start();
    let mut alice = register_and_join(server.addr(), "alice", 5000);
    let mut rude = server.client();
    rude.send_raw(b"\xff\n\x00\x01\nJOIN\n");
    assert!(rude.recv().starts_with("ERR BAD_ENCODING "));
    assert!(rude.recv().starts_with("ERR UNKNOWN_COMMAND "));
    assert!(rude.recv().starts_with("ERR BAD_ARGS "));
    rude.send_raw("B".repeat(5000).as_bytes());
    assert!(rude.recv().starts_with("ERR LINE_TOO_LONG "));
    rude.expect_eof();
    check(&mut alice, "HELLO", "OK HELLO");
    check_list(&mut alice, &["USER alice 127.0.0.1 5000"]);
}

#[test]
fn database_file() {
    let server = TestServer::start();
    let conn = Connection::open(server.db_path()).unwrap();
    let version: i32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, p2pchat::db::SCHEMA_VERSION);
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(server.db_path()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
}

/// `AWAY [text]` marks the user away for whoever lists or searches, after
/// everything else on its `USER` line; `BACK` and a logout clear it; a
/// text too long or with control characters is refused with a clear
/// `ERR`; nobody sets it before `JOIN`.
#[test]
fn away_is_seen_in_list_and_search_until_back_or_logout() {
    let server = TestServer::start();
    let mut stranger = server.client();
    check(
        &mut stranger,
        "AWAY lunch",
        "ERR NOT_JOINED JOIN first: JOIN <name> <password> <port>",
    );
    let mut erin = register_and_join(server.addr(), "erin", 7005);
    let mut carol = register_and_join(server.addr(), "carol", 7003);
    check(&mut erin, "AWAY out to  lunch", "OK AWAY out to  lunch");
    check_list(
        &mut carol,
        &[
            "USER carol 127.0.0.1 7003",
            "USER erin 127.0.0.1 7005 AWAY out to  lunch",
        ],
    );
    check(
        &mut carol,
        "SEARCH erin",
        "OK USER erin 127.0.0.1 7005 AWAY out to  lunch",
    );
    check(
        &mut erin,
        &format!("AWAY {}", "x".repeat(121)),
        "ERR TEXT_TOO_LONG an away text is at most 120 bytes",
    );
    check(
        &mut erin,
        "AWAY a\u{1b}[2J",
        "ERR BAD_TEXT message text must not hold control or bidi characters (U+001B)",
    );
    // Refused texts change nothing.
    check(
        &mut carol,
        "SEARCH erin",
        "OK USER erin 127.0.0.1 7005 AWAY out to  lunch",
    );
    check(&mut erin, "AWAY", "OK AWAY");
    // `check` takes a reply that goes on after the expected words: these
    // must be the whole line.
    assert_eq!(carol.ask("SEARCH erin"), "OK USER erin 127.0.0.1 7005 AWAY");
    check(&mut erin, "BACK", "OK BACK");
    assert_eq!(carol.ask("SEARCH erin"), "OK USER erin 127.0.0.1 7005");
    check(&mut erin, "AWAY brb", "OK AWAY brb");
    check(&mut erin, "LOGOUT", "OK BYE");
    erin.expect_eof();
    // A new session starts here.
    let mut again = server.client();
    join(&mut again, "erin", 7006);
    assert_eq!(carol.ask("SEARCH erin"), "OK USER erin 127.0.0.1 7006");
}
