//! The registry server a load runs against: its database of bench
//! accounts, and the child process it runs in, stopped by closing its
//! stdin and always waited for.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use p2pchat_bench::BenchError;
use p2pchat_bench::churn::{self, ChurnOptions, ChurnReport};
use p2pchat_bench::registry::{self, RegistryOptions, RegistryReport, ServerAt};

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
    with_child_server(&db, options.hello_timeout, |addr, pid| {
        options.server = ServerAt::Child { addr, pid };
        registry::run(&options)
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
    with_child_server(&db, hello_timeout, |addr, pid| {
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

/// Starts a registry server on `db` in a child process, runs `load` with its
/// address and pid, then stops it: closing its stdin is the child's signal
/// to shut down cleanly, and we wait for it.
fn with_child_server<T>(
    db: &std::path::Path,
    hello_timeout: Duration,
    load: impl FnOnce(SocketAddr, u32) -> Result<T, BenchError>,
) -> Result<T, BenchError> {
    let mut child = spawn_server(db, hello_timeout)?;
    let result = read_addr(&mut child).and_then(|addr| load(addr, child.id()));
    drop(child.stdin.take());
    let _ = child.wait();
    result
}

fn spawn_server(db: &std::path::Path, hello_timeout: Duration) -> Result<Child, BenchError> {
    let exe = std::env::current_exe()?;
    let child = Command::new(exe)
        .arg("serve-registry")
        .arg("--db")
        .arg(db)
        .arg("--hello-timeout")
        .arg(hello_timeout.as_secs_f64().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    Ok(child)
}

/// The child prints the address it listens on as its first line.
fn read_addr(child: &mut Child) -> Result<SocketAddr, BenchError> {
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::Setup("the server child has no stdout".into()))?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    line.trim()
        .parse()
        .map_err(|_| BenchError::Setup(format!("the server child said {line:?}, not an address")))
}
