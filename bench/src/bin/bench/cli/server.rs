//! The servers a load runs against in child processes of their own: the
//! registry (with its database of bench accounts) and the lobby hub. Each
//! child prints its address and how to talk to it, is stopped by closing
//! its stdin, and is always waited for.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use p2pchat_bench::churn::{self, ChurnOptions, ChurnReport};
use p2pchat_bench::lobby::{self, LobbyOptions, LobbyReport, RemoteHub, Target};
use p2pchat_bench::registry::{self, RegistryOptions, RegistryReport, ServerAt};
use p2pchat_bench::{BenchError, Security};

/// Prepares the database, starts the server (in a child process unless
/// `in_process`), and runs the load against it.
pub(super) fn run_registry(
    mut options: RegistryOptions,
    db: Option<PathBuf>,
    in_process: bool,
) -> Result<RegistryReport, BenchError> {
    let (db, _scratch) = bench_db(db, "bench", options.peers)?;
    if in_process {
        options.server = ServerAt::InProcess(db);
        return registry::run(&options);
    }
    let serve = serve_registry(&db, options.hello_timeout, options.tls)?;
    with_child(serve, |addr, pid, security| {
        options.server = ServerAt::Child {
            addr,
            pid,
            security,
        };
        registry::run(&options)
    })
}

/// Starts a lobby hub for `options.members` in a child process, over TLS
/// if `tls`, and runs the load against it.
pub(super) fn run_lobby(mut options: LobbyOptions, tls: bool) -> Result<LobbyReport, BenchError> {
    let mut serve = Command::new(std::env::current_exe()?);
    serve
        .arg("serve-lobby")
        .arg("--members")
        .arg(options.members.to_string());
    if tls {
        serve.arg("--tls");
    }
    with_child(serve, |addr, pid, security| {
        options.target = Target::RemoteHub(RemoteHub {
            addr,
            security,
            pid,
        });
        lobby::run(&options)
    })
}

/// Prepares the database, starts the server in a child process with
/// `hello_timeout`, and runs the churn against it.
pub(super) fn run_churn(
    peers: usize,
    hello_timeout: Duration,
    db: Option<PathBuf>,
    configure: impl FnOnce(&mut ChurnOptions),
) -> Result<ChurnReport, BenchError> {
    let (db, _scratch) = bench_db(db, "churn", churn::accounts(peers))?;
    // The churn's peers speak plain text.
    let serve = serve_registry(&db, hello_timeout, false)?;
    with_child(serve, |addr, pid, _| {
        let mut options = ChurnOptions::new(peers, addr, pid, db.clone());
        configure(&mut options);
        churn::run(&options)
    })
}

/// The database a run uses: `db` if given, else a new one in a temporary
/// directory that lives as long as the returned guard; either way with
/// `accounts` bench accounts in it.
fn bench_db(
    db: Option<PathBuf>,
    label: &str,
    accounts: usize,
) -> Result<(PathBuf, Option<tempfile::TempDir>), BenchError> {
    let (db, scratch) = match db {
        Some(db) => (db, None),
        None => {
            let scratch = tempfile::Builder::new()
                .prefix(&format!("p2pchat-{label}-"))
                .tempdir()?;
            (scratch.path().join("registry.db"), Some(scratch))
        }
    };
    let created = registry::prepare_db(&db, accounts)?;
    if created > 0 {
        eprintln!("bench: created {created} accounts in {}", db.display());
    }
    Ok((db, scratch))
}

/// The command that runs a registry server on `db` for a load: this
/// binary's hidden `serve-registry`, over TLS if `tls`.
fn serve_registry(
    db: &std::path::Path,
    hello_timeout: Duration,
    tls: bool,
) -> Result<Command, BenchError> {
    let mut serve = Command::new(std::env::current_exe()?);
    serve
        .arg("serve-registry")
        .arg("--db")
        .arg(db)
        .arg("--hello-timeout")
        .arg(hello_timeout.as_secs_f64().to_string());
    if tls {
        serve.arg("--tls");
    }
    Ok(serve)
}

/// Runs `serve` (a `bench serve-…` command) as a child process, runs
/// `load` with its address, pid and how to talk to it, then stops it:
/// closing its stdin is the child's signal to shut down cleanly, and we
/// wait for it.
fn with_child<T>(
    mut serve: Command,
    load: impl FnOnce(SocketAddr, u32, Security) -> Result<T, BenchError>,
) -> Result<T, BenchError> {
    let mut child = serve.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
    let result =
        read_hello(&mut child).and_then(|(addr, security)| load(addr, child.id(), security));
    drop(child.stdin.take());
    let _ = child.wait();
    result
}

/// The child prints the address it listens on as its first line, and its
/// key's fingerprint (or `plaintext`) as its second.
fn read_hello(child: &mut Child) -> Result<(SocketAddr, Security), BenchError> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::Setup("the server child has no stdout".into()))?;
    let mut stdout = BufReader::new(stdout);
    let mut line = String::new();
    stdout.read_line(&mut line)?;
    let addr = line.trim().parse().map_err(|_| {
        BenchError::Setup(format!("the server child said {line:?}, not an address"))
    })?;
    line.clear();
    stdout.read_line(&mut line)?;
    let security = match line.trim() {
        "plaintext" => Security::Plain,
        word => Security::Tls(word.parse().map_err(|_| {
            BenchError::Setup(format!("the server child said {line:?}, not a fingerprint"))
        })?),
    };
    Ok((addr, security))
}
