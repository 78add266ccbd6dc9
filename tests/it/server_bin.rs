//! The `server` binary, run as a user would run it: its options, its error
//! exits, a session over TCP, `--trace`, and a clean stop on Ctrl-C.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

use p2pchat::wire::HELP_TEXT;

use crate::support::{ServerProcess, db_with_users, register_and_join, temp_dir};

const PASSWORD: &str = "Trace-Me-Not-42";

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_server"))
}

/// Runs `server` with `args` to completion; the options tests need no
/// network and end at once.
fn run(args: &[&str]) -> Output {
    server()
        .args(args)
        .output()
        .expect("the server binary runs")
}

/// Starts the server on `db` with `extra` options, checking its first
/// line: where it listens and on which database.
#[track_caller]
fn start(db: &Path, extra: &[&str]) -> ServerProcess {
    let server = ServerProcess::start(db, extra);
    assert_eq!(
        server.first_line(),
        format!(
            "Registry listening on {} with database {}",
            server.addr(),
            db.display()
        )
    );
    server
}

#[test]
fn help_names_every_option() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for option in ["--bind", "--db", "--hello-timeout", "--trace", "--version"] {
        assert!(
            help.contains(option),
            "--help does not mention {option}:\n{help}"
        );
    }
}

#[track_caller]
fn check_bad_args(args: &[&str], message: &str) {
    let out = run(args);
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains(message),
        "{args:?}: expected {message:?} in:\n{stderr}"
    );
}

#[test]
fn bad_arguments_exit_with_a_message() {
    check_bad_args(
        &["--hello-timeout", "abc"],
        "abc is not a positive number of seconds",
    );
    check_bad_args(
        &["--hello-timeout", "0"],
        "0 is not a positive number of seconds",
    );
    check_bad_args(
        &["--hello-timeout=-1"],
        "-1 is not a positive number of seconds",
    );
    check_bad_args(&["--bind", "nowhere"], "invalid value 'nowhere'");
    check_bad_args(&["--colour"], "unexpected argument '--colour'");
}

#[test]
fn start_up_failures_exit_2() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let db = db.to_str().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let missing_dir = dir.path().join("no/such/dir/registry.db");
    for (args, message) in [
        (
            vec!["--bind", taken.as_str(), "--db", db],
            format!("server: cannot listen on {taken}"),
        ),
        (
            vec![
                "--bind",
                "127.0.0.1:0",
                "--db",
                missing_dir.to_str().unwrap(),
            ],
            "server: cannot open the database file".to_string(),
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(&message), "{args:?}: {stderr}");
    }
}

#[test]
fn serves_a_session_and_stops_cleanly_on_sigint() {
    let dir = temp_dir();
    let db = dir.path().join("registry.db");
    let server = start(&db, &["--trace", "--hello-timeout", "5"]);
    let mut c = server.client();
    assert_eq!(
        c.ask(&format!("REGISTER alice {PASSWORD}")),
        "OK REGISTERED alice"
    );
    assert_eq!(
        c.ask(&format!("join alice {PASSWORD} 5000")),
        "OK JOINED alice 127.0.0.1 5000"
    );
    assert_eq!(c.ask("HELLO"), "OK HELLO");
    assert_eq!(c.ask("LIST"), "OK LIST 1");
    assert_eq!(c.recv(), "USER alice 127.0.0.1 5000");
    let mut wrong = server.client();
    assert!(
        wrong
            .ask("JOIN alice Not-The-Password 5001")
            .starts_with("ERR BAD_CREDENTIALS ")
    );

    server.interrupt();
    assert_eq!(c.recv(), "BYE SHUTDOWN");
    c.expect_eof();
    let (status, stdout, stderr) = server.wait();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");

    for line in [
        "registered alice",
        "alice online at 127.0.0.1 port 5000",
        "failed join for alice from 127.0.0.1: wrong name or password",
        "alice offline",
    ] {
        assert!(stdout.contains(line), "no {line:?} in stdout:\n{stdout}");
    }
    // Every log line but the last carries the date and the time.
    let stamp = chrono::Local::now().format("%Y-%m-%d ").to_string();
    let yesterday = (chrono::Local::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d ")
        .to_string();
    for line in stdout.lines().filter(|l| l.contains("alice")) {
        assert!(
            line.starts_with(&stamp) || line.starts_with(&yesterday),
            "no date: {line:?}"
        );
    }
    assert!(!stdout.contains("Not-The-Password"), "{stdout}");
    assert!(
        stdout.ends_with("Registry stopped; everyone is marked offline.\n"),
        "stdout:\n{stdout}"
    );

    let client = c.local_addr();
    for line in [
        format!("<< {client} REGISTER alice ****"),
        format!(">> {client} OK REGISTERED alice"),
        format!("<< {client} join alice **** 5000"),
        format!(">> {client} OK JOINED alice 127.0.0.1 5000"),
        format!("<< {client} LIST"),
        format!(">> {client} USER alice 127.0.0.1 5000"),
        format!(">> {client} BYE SHUTDOWN"),
    ] {
        assert!(
            stderr.lines().any(|l| l == line),
            "no {line:?} in the trace:\n{stderr}"
        );
    }
    // Heartbeats only with --trace-all.
    assert!(
        !stderr.contains("HELLO"),
        "--trace shows heartbeats:\n{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "the trace shows the password");
    assert!(!stdout.contains(PASSWORD), "stdout shows the password");

    let conn = rusqlite::Connection::open(&db).unwrap();
    let online: i64 = conn
        .query_row("SELECT COUNT(*) FROM users WHERE status = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(online, 0);
}

#[test]
fn trace_all_shows_the_heartbeats_too() {
    let dir = temp_dir();
    let server = start(&dir.path().join("registry.db"), &["--trace-all"]);
    let mut c = server.client();
    assert_eq!(
        c.ask("HELLO"),
        "ERR NOT_JOINED JOIN first: JOIN <name> <password> <port>"
    );
    assert!(c.ask("HELP").starts_with("OK HELP "));
    server.interrupt();
    assert_eq!(c.recv(), "BYE SHUTDOWN");
    let (_, _, stderr) = server.wait();
    let client = c.local_addr();
    for line in [format!("<< {client} HELLO"), format!("<< {client} HELP")] {
        assert!(stderr.lines().any(|l| l == line), "no {line:?}:\n{stderr}");
    }
}

#[test]
fn the_log_shows_a_lockout_without_the_password() {
    let dir = temp_dir();
    let server = start(&dir.path().join("registry.db"), &["--max-failures", "1"]);
    let mut c = server.client();
    assert_eq!(
        c.ask(&format!("REGISTER bob {PASSWORD}")),
        "OK REGISTERED bob"
    );
    assert!(
        c.ask("JOIN bob Wrong-Guess-1 5000")
            .starts_with("ERR BAD_CREDENTIALS ")
    );
    assert!(
        c.ask("JOIN bob Wrong-Guess-2 5000")
            .starts_with("ERR TOO_MANY_ATTEMPTS ")
    );
    server.interrupt();
    assert_eq!(c.recv(), "BYE SHUTDOWN");
    let (_, stdout, _) = server.wait();
    for line in [
        "failed join for bob from 127.0.0.1: wrong name or password",
        "refused a join for bob from 127.0.0.1: this ",
    ] {
        assert!(stdout.contains(line), "no {line:?} in stdout:\n{stdout}");
    }
    assert!(!stdout.contains("Wrong-Guess"), "{stdout}");
}

#[test]
fn without_trace_nothing_goes_to_stderr() {
    let dir = temp_dir();
    let server = start(&dir.path().join("registry.db"), &[]);
    let mut c = server.client();
    assert!(c.ask("HELP").starts_with("OK HELP "));
    server.interrupt();
    assert_eq!(c.recv(), "BYE SHUTDOWN");
    let (status, _, stderr) = server.wait();
    assert!(status.success());
    assert_eq!(stderr, "");
}

// The server accepts a request with spaces before its keyword, so the trace
// must hide the password of such a line too (see `wire::redact`).
#[test]
fn trace_hides_the_password_of_a_line_with_leading_spaces() {
    let dir = temp_dir();
    let server = start(&dir.path().join("registry.db"), &["--trace"]);
    let mut c = server.client();
    assert_eq!(
        c.ask(&format!("  REGISTER bob {PASSWORD}")),
        "OK REGISTERED bob"
    );
    server.interrupt();
    assert_eq!(c.recv(), "BYE SHUTDOWN");
    let (status, _, stderr) = server.wait();
    assert!(status.success());
    assert!(
        !stderr.contains(PASSWORD),
        "the trace shows the password:\n{stderr}"
    );
}

// Nobody may be reading the server's log, as when whoever started it has
// gone: what it prints then goes to a closed pipe, and it must go on
// serving all the same.
#[test]
fn a_closed_standard_output_does_not_stop_the_server() {
    let dir = temp_dir();
    let mut server = start(&dir.path().join("registry.db"), &[]);
    server.close_stdout();
    // Each of these makes the server print a line.
    let mut alice = register_and_join(server.addr(), "alice", 5000);
    let mut bob = register_and_join(server.addr(), "bob", 5001);
    assert_eq!(bob.ask("LOGOUT"), "OK BYE");
    assert_eq!(alice.ask("HELP"), format!("OK HELP {HELP_TEXT}"));
    assert_eq!(server.client().ask("HELP"), format!("OK HELP {HELP_TEXT}"));
    server.interrupt();
    assert_eq!(alice.recv(), "BYE SHUTDOWN");
    let (status, _, stderr) = server.wait();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
}

// Someone may start the server with its output piped to a program that
// stops reading. The pipe fills, and then printing blocks; it must block
// only the printing, never the registry.
#[cfg(target_os = "linux")]
#[test]
fn a_full_log_pipe_does_not_stall_the_server() {
    let dir = temp_dir();
    // Alice's account is made beforehand with a cheap hash, so that her 80
    // JOINs check it in microseconds: the binary hashes new accounts with
    // the production parameters, but checks each hash with its own.
    let db = db_with_users(dir.path(), &[("alice", PASSWORD)]);
    // Nobody reads the log at the end, so the exit waits this long for it.
    let server = start(&db, &["--printer-grace", "0.2"]);
    server.shrink_stdout_pipe();
    // Each round prints two log lines, about 70 bytes: 80 rounds overfill
    // a 4 KiB pipe.
    for port in 5001..5081 {
        let mut again = server.client();
        let joined = again.ask(&format!("JOIN alice {PASSWORD} {port}"));
        assert!(joined.starts_with("OK JOINED"), "round {port}: {joined}");
        assert_eq!(again.ask("LOGOUT"), "OK BYE");
    }
    let mut bob = register_and_join(server.addr(), "bob", 6000);
    assert_eq!(bob.ask("LIST"), "OK LIST 1");
    assert_eq!(bob.recv(), "USER bob 127.0.0.1 6000");
    // Nor may the full pipe hold up the exit.
    server.interrupt();
    assert_eq!(bob.recv(), "BYE SHUTDOWN");
    let (status, _, stderr) = server.wait();
    assert_eq!(status.code(), Some(0), "stderr:\n{stderr}");
}

// However a REGISTER or JOIN is spelled (tabs, no-break spaces, several
// spaces, lower case, words missing, extra or swapped), no reply and no
// line of the trace, received or sent, holds its password.
#[test]
fn no_reply_and_no_trace_line_holds_a_password_however_it_is_spelled() {
    let dir = temp_dir();
    let server = start(&dir.path().join("registry.db"), &["--trace"]);
    let mut c = server.client();
    let pw = PASSWORD;
    let lines = [
        format!("REGISTER\tcarol\t{pw}"),
        format!("JOIN\tcarol\t{pw}\t5000"),
        format!("register\u{a0}dave\u{a0}{pw}"),
        format!("join\u{a0}dave\u{a0}{pw}\u{a0}5001"),
        format!("  register   erin   {pw}  "),
        format!("JOIN erin {pw}"),
        format!("JOIN {pw}"),
        format!("REGISTER {pw}"),
        format!("REGISTER frank {pw} extra"),
        format!("JOIN erin {pw} 5002 extra"),
        format!("JOIN erin 5002 {pw}"),
        format!("JOINX erin {pw} 5002"),
        pw.to_string(),
    ];
    for line in &lines {
        let reply = c.ask(line);
        assert!(!reply.contains(pw), "{line:?} got {reply:?}");
    }
    server.interrupt();
    assert_eq!(c.recv(), "BYE SHUTDOWN");
    let (status, stdout, stderr) = server.wait();
    assert!(status.success());
    for out in [&stdout, &stderr] {
        assert!(!out.contains(pw), "the output shows the password:\n{out}");
    }
    // The tab-separated REGISTER was read as meant.
    assert!(stderr.contains("OK REGISTERED carol"), "{stderr}");
}
