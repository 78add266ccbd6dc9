//! What issue 17 asks of the registry, over real sockets and the real
//! binary: what one client may take (tickets, connections per address, the
//! deadline to join, REGISTERs), consistent presence, the database file,
//! traces that hide passwords, and a clean stop on SIGTERM.
//!
//! Nothing here sleeps: a test waits for the line it expects under a read
//! timeout, and each loop is bounded in count.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use p2pchat::registry::RegistrationLimit;

use crate::support::{
    Client, PASSWORD, ServerProcess, TestServer, check, db_with_users, invite, join,
    register_and_join, temp_dir,
};

#[test]
fn a_new_invite_replaces_the_pairs_old_ticket() {
    let server = TestServer::start();
    let mut alice = register_and_join(server.addr(), "alice", 5000);
    let mut bob = register_and_join(server.addr(), "bob", 5001);
    let first = invite(&mut alice, "bob");
    let second = invite(&mut alice, "bob");
    assert_ne!(first, second);
    assert_eq!(
        bob.ask(&format!("CHECK {first}")),
        "ERR BAD_TICKET that ticket is unknown, used, expired or not for you"
    );
    assert_eq!(bob.ask(&format!("CHECK {second}")), "OK TICKET alice bob");
}

#[test]
fn nobody_invites_themselves() {
    let server = TestServer::start();
    let mut alice = register_and_join(server.addr(), "alice", 5000);
    assert_eq!(
        alice.ask("INVITE ALICE"),
        "ERR BAD_ARGS you cannot invite yourself"
    );
}

#[test]
fn the_unused_tickets_of_one_user_are_capped() {
    let server = TestServer::with_config(|config| config.max_invites_per_user = 2);
    let mut alice = register_and_join(server.addr(), "alice", 5000);
    let mut bob = register_and_join(server.addr(), "bob", 5001);
    let _carol = register_and_join(server.addr(), "carol", 5002);
    let _dave = register_and_join(server.addr(), "dave", 5003);
    let for_bob = invite(&mut alice, "bob");
    invite(&mut alice, "carol");
    assert_eq!(
        alice.ask("INVITE dave"),
        "ERR TOO_MANY_INVITES you hold 2 unused tickets already; wait for them to be used or to expire"
    );
    // Renewing a ticket at the cap is fine, and a used one frees its place.
    let for_bob = {
        let renewed = invite(&mut alice, "bob");
        assert_ne!(renewed, for_bob);
        renewed
    };
    assert_eq!(bob.ask(&format!("CHECK {for_bob}")), "OK TICKET alice bob");
    invite(&mut alice, "dave");
}

/// Sends `HELLO` until the answer is `BYE TIMEOUT`; panics after `rounds`.
#[track_caller]
fn hello_until_bye(client: &mut Client, rounds: usize) {
    for _ in 0..rounds {
        match client.ask("HELLO").as_str() {
            "BYE TIMEOUT" => return client.expect_eof(),
            "ERR NOT_JOINED JOIN first: JOIN <name> <password> <port>" | "OK HELLO" => {}
            other => panic!("HELLO got {other:?}"),
        }
    }
    panic!("no BYE TIMEOUT after {rounds} HELLOs");
}

#[test]
fn a_connection_that_does_not_join_in_time_is_closed_however_busy() {
    let dir = temp_dir();
    let db = db_with_users(dir.path(), &[("alice", PASSWORD)]);
    // Long enough for one JOIN (a single cheap hash) on a busy machine.
    let server = TestServer::with_config(|config| {
        config.db_path = db;
        config.join_timeout = Duration::from_secs(1);
    });
    let mut joined = server.client();
    join(&mut joined, "alice", 5000);
    let mut busy = server.client();
    // Each HELLO is a line, which keeps a connection alive, but only a
    // JOIN lifts the deadline to join.
    hello_until_bye(&mut busy, 1_000_000);
    // The connection that joined is past the deadline too, and stays.
    assert_eq!(joined.ask("HELLO"), "OK HELLO");
}

#[test]
fn one_address_holds_at_most_its_share_of_connections() {
    let server = TestServer::with_config(|config| config.max_per_address = 2);
    let mut first = server.client();
    let mut second = server.client();
    assert!(first.ask("HELP").starts_with("OK HELP"));
    assert!(second.ask("HELP").starts_with("OK HELP"));
    let mut third = server.client();
    assert_eq!(
        third.recv(),
        "ERR SERVER_FULL your address holds 2 connections already, the most one address may; try again later"
    );
    third.expect_eof();
    // A place given back is taken again; the acceptor learns of it at its
    // next connection, so a few may be refused before.
    assert_eq!(
        first.ask("LOGOUT"),
        "ERR NOT_JOINED JOIN first: JOIN <name> <password> <port>"
    );
    drop(first);
    let mut admitted = false;
    for _ in 0..1000 {
        let mut again = server.client();
        again.send("HELP");
        let reply = again.recv();
        if reply.starts_with("OK HELP") {
            admitted = true;
            break;
        }
        assert!(reply.starts_with("ERR SERVER_FULL"), "{reply}");
    }
    assert!(
        admitted,
        "the place of a closed connection was never given back"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn another_address_is_not_held_back_by_a_full_one() {
    let server = TestServer::with_config(|config| config.max_per_address = 1);
    let mut first = server.client();
    assert!(first.ask("HELP").starts_with("OK HELP"));
    assert!(server.client().recv().starts_with("ERR SERVER_FULL"));
    let mut other = Client::connect_from(Ipv4Addr::new(127, 0, 0, 2), server.addr());
    assert!(other.ask("HELP").starts_with("OK HELP"));
}

#[test]
fn registrations_from_one_address_are_limited() {
    let server = TestServer::with_config(|config| {
        config.registrations = RegistrationLimit {
            max: 2,
            window: Duration::from_secs(600),
        };
    });
    let mut c = server.client();
    check(
        &mut c,
        &format!("REGISTER alice {PASSWORD}"),
        "OK REGISTERED alice",
    );
    check(
        &mut c,
        &format!("REGISTER bob {PASSWORD}"),
        "OK REGISTERED bob",
    );
    let refused = c.ask(&format!("REGISTER carol {PASSWORD}"));
    assert!(
        refused.starts_with("ERR TOO_MANY_ATTEMPTS ")
            && refused.contains(" too many registrations from this address; try again in "),
        "{refused}"
    );
    // Another connection from the same address is refused too; JOIN is not.
    let mut other = server.client();
    assert!(
        other
            .ask(&format!("REGISTER carol {PASSWORD}"))
            .starts_with("ERR TOO_MANY_ATTEMPTS ")
    );
    join(&mut other, "alice", 5000);
    #[cfg(target_os = "linux")]
    {
        let mut elsewhere = Client::connect_from(Ipv4Addr::new(127, 0, 0, 2), server.addr());
        check(
            &mut elsewhere,
            &format!("REGISTER carol {PASSWORD}"),
            "OK REGISTERED carol",
        );
    }
}

#[test]
fn name_checks_say_free_or_taken_and_are_limited_per_address() {
    let server = TestServer::with_config(|config| {
        config.registrations = RegistrationLimit {
            max: 4,
            window: Duration::from_secs(600),
        };
    });
    let mut c = server.client();
    // No JOIN needed; the answer ignores case, as REGISTER does.
    check(&mut c, "NAME alice", "OK NAME_FREE alice");
    check(
        &mut c,
        &format!("REGISTER Alice {PASSWORD}"),
        "OK REGISTERED Alice",
    );
    check(
        &mut c,
        "name ALICE",
        "ERR NAME_TAKEN the name Alice is taken; pick another",
    );
    // A bad name is refused by the grammar and counts for nothing.
    check(
        &mut c,
        "NAME no/such",
        "ERR BAD_NAME a name is 1 to 32 characters of A-Z a-z 0-9 _ . -",
    );
    check(&mut c, "NAME", "ERR BAD_ARGS usage: NAME <name>");
    check(&mut c, "NAME bob", "OK NAME_FREE bob");
    check(&mut c, "NAME carol", "OK NAME_FREE carol");
    // The fifth check from this address, on any connection, waits; a
    // REGISTER is counted apart and still goes through.
    let mut other = server.client();
    let refused = other.ask("NAME dave");
    assert!(
        refused.starts_with("ERR TOO_MANY_ATTEMPTS ")
            && refused.contains(" ADDRESS too many name checks from this address; try again in "),
        "{refused}"
    );
    check(
        &mut other,
        &format!("REGISTER dave {PASSWORD}"),
        "OK REGISTERED dave",
    );
    #[cfg(target_os = "linux")]
    {
        let mut elsewhere = Client::connect_from(Ipv4Addr::new(127, 0, 0, 2), server.addr());
        check(
            &mut elsewhere,
            "NAME dave",
            "ERR NAME_TAKEN the name dave is taken; pick another",
        );
    }
}

#[test]
fn the_server_binary_takes_the_limits_as_options() {
    let dir = temp_dir();
    let db = db_with_users(dir.path(), &[("alice", PASSWORD)]);
    let server = ServerProcess::start(
        &db,
        &[
            "--max-failures",
            "1",
            "--lockout",
            "120",
            "--max-registrations",
            "1",
            "--max-per-address",
            "3",
        ],
    );
    let mut c = server.client();
    check(&mut c, "JOIN alice wrong-pw 5000", "ERR BAD_CREDENTIALS");
    let locked = c.ask(&format!("JOIN alice {PASSWORD} 5000"));
    assert!(
        locked.starts_with("ERR TOO_MANY_ATTEMPTS 120 ")
            || locked.starts_with("ERR TOO_MANY_ATTEMPTS 119 "),
        "{locked}"
    );
    check(
        &mut c,
        &format!("REGISTER bob {PASSWORD}"),
        "OK REGISTERED bob",
    );
    assert!(
        c.ask(&format!("REGISTER carol {PASSWORD}"))
            .starts_with("ERR TOO_MANY_ATTEMPTS ")
    );
    let _second = server.client();
    let _third = server.client();
    assert!(server.client().recv().starts_with("ERR SERVER_FULL "));
}

/// Runs the server binary on `db` and expects it to refuse to start.
#[track_caller]
fn refuses_to_start(db: &Path, says: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--bind", "127.0.0.1:0", "--db"])
        .arg(db)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with("server: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    for text in says {
        assert!(stderr.contains(text), "no {text:?} in {stderr}");
    }
}

#[test]
fn a_database_of_an_unknown_version_is_refused_without_a_panic() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let db_name = db.display().to_string();
    for version in [-1, 999] {
        rusqlite::Connection::open(&db)
            .unwrap()
            .pragma_update(None, "user_version", version)
            .unwrap();
        let says = format!("has schema version {version}");
        refuses_to_start(&db, &[&db_name, &says]);
    }
}

#[test]
fn a_database_that_cannot_be_opened_is_named_with_what_to_do() {
    let dir = temp_dir();
    let db = dir.path().join("no/such/folder/registry.db");
    refuses_to_start(
        &db,
        &[
            &format!("cannot open the database file {}: ", db.display()),
            "--db",
        ],
    );
}

#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_like_ctrl_c() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = temp_dir();
    let db = db_with_users(dir.path(), &[("alice", PASSWORD)]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args([
            "--plaintext",
            "--bind",
            "127.0.0.1:0",
            "--no-announce",
            "--db",
        ])
        .arg(&db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .strip_prefix("Registry listening on ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    let mut alice = Client::connect(addr);
    join(&mut alice, "alice", 5000);
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory effects; the pid is our child, not yet
    // waited for, so it cannot have been reused.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert_eq!(alice.recv(), "BYE SHUTDOWN");
    alice.expect_eof();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let rest = crate::support::read_to_string(stdout);
    assert!(
        rest.contains("Registry stopped; everyone is marked offline."),
        "{rest}"
    );
    let online: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM users WHERE status = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(online, 0);
}

#[test]
fn trace_hides_every_word_that_may_be_a_password() {
    let dir = temp_dir();
    let server = ServerProcess::start(&dir.path().join("registry.db"), &["--trace"]);
    let mut c = server.client();
    for line in [
        "JOIN hunter22secret",
        "REGISTER s3cretpw",
        "join alice my-secret-1 5000 extra",
        "REGISTER bob pw-with space",
    ] {
        assert!(c.ask(line).starts_with("ERR "), "{line}");
    }
    server.interrupt();
    assert_eq!(c.recv(), "BYE SHUTDOWN");
    let (status, _, stderr) = server.wait();
    assert_eq!(status.code(), Some(0), "{stderr}");
    for shown in [
        "JOIN ****",
        "REGISTER ****",
        "join alice ****",
        "REGISTER bob ****",
    ] {
        assert!(
            stderr.contains(&format!(" {shown}\n")),
            "no {shown:?} in\n{stderr}"
        );
    }
    for secret in [
        "hunter22secret",
        "s3cretpw",
        "my-secret-1",
        "pw-with",
        "space",
    ] {
        assert!(!stderr.contains(secret), "{secret} in the trace:\n{stderr}");
    }
}

/// The users the database marks online, read from a connection of our own.
fn online_in_db(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    let mut stmt = conn
        .prepare("SELECT user_name FROM users WHERE status = 1 ORDER BY user_name")
        .unwrap();
    stmt.query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Reads the database until it marks exactly `names` online; the presence
/// writer brings it up to date a moment after the registry's memory.
#[track_caller]
fn wait_for_online_in_db(db: &Path, names: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let online = online_in_db(db);
        if online == names {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the database says {online:?}, not {names:?}"
        );
        std::thread::yield_now();
    }
}

#[test]
fn a_takeover_while_the_database_is_locked_leaves_no_ghost_and_stalls_nobody() {
    let dir = temp_dir();
    let db = db_with_users(dir.path(), &[("alice", PASSWORD), ("bob", PASSWORD)]);
    // The JOIN and the LOGOUT made while the lock is held each wait for one
    // try of their presence write, which gives up after this.
    let server = TestServer::start_at_with(&db, |config| {
        config.hello_timeout = Duration::from_secs(30);
        config.presence_busy_timeout = Duration::from_millis(100);
    });
    let mut first = server.client();
    join(&mut first, "alice", 5000);
    let mut bob = server.client();
    join(&mut bob, "bob", 5001);
    wait_for_online_in_db(&db, &["alice", "bob"]);

    // Another process holds the write lock, as a backup tool might.
    let locker = rusqlite::Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut second = server.client();
    join(&mut second, "alice", 6000);
    assert_eq!(first.recv(), "BYE REPLACED");
    first.expect_eof();
    // Everyone else is served from memory meanwhile.
    check(&mut bob, "SEARCH alice", "OK USER alice 127.0.0.1 6000");
    assert_eq!(second.ask("LOGOUT"), "OK BYE");
    second.expect_eof();
    check(&mut bob, "SEARCH alice", "ERR OFFLINE alice is offline");
    assert_eq!(bob.ask("LIST"), "OK LIST 1");
    assert_eq!(bob.recv(), "USER bob 127.0.0.1 5001");

    // Once the lock goes, the database catches up: alice is not a ghost.
    locker.execute_batch("COMMIT").unwrap();
    wait_for_online_in_db(&db, &["bob"]);
}

fn last_seen(db: &Path, name: &str) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    conn.query_row(
        "SELECT last_seen FROM users WHERE user_name = ?1",
        [name],
        |row| row.get(0),
    )
    .unwrap()
}

#[test]
fn hellos_refresh_last_seen_in_the_database() {
    let dir = temp_dir();
    let db = db_with_users(dir.path(), &[("alice", PASSWORD)]);
    let server = TestServer::start_at(&db, Duration::from_millis(400));
    let mut alice = server.client();
    join(&mut alice, "alice", 5000);
    let joined = last_seen(&db, "alice");
    assert!(joined.ends_with('Z'), "{joined}");
    // Timestamps are to the second: HELLO until the sweep (every 100 ms
    // here) has written a later one, well within the hello timeout.
    let mut later = joined.clone();
    for _ in 0..1_000_000 {
        assert_eq!(alice.ask("HELLO"), "OK HELLO");
        later = last_seen(&db, "alice");
        if later != joined {
            break;
        }
    }
    assert!(later > joined, "last_seen stayed {joined}");
}
