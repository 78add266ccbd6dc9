//! The server side of a registry run: the bench accounts in a database,
//! and the body of the server child process. The only place that opens the
//! database with `Store::open`, which is safe because no server runs yet.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use std::time::Duration;

use p2pchat::db::Store;
use p2pchat::password::{HashParams, Hasher};
use p2pchat::registry::{RegistryConfig, RegistryTls, Server};

use super::{BENCH_PASSWORD, peer_name};
use crate::BenchError;

/// Creates the accounts `peer_name(0..peers)` with `BENCH_PASSWORD` in the
/// database at `path`, hashing the password once for all of them. Returns
/// how many were new; existing accounts are left as they are.
pub fn prepare_db(path: &Path, peers: usize) -> Result<usize, BenchError> {
    let store = Store::open(path)?;
    // The production parameters: a JOIN in a benchmark costs what it costs
    // a real registry.
    let hash = Hasher::new(1, HashParams::PRODUCTION)
        .map_err(|err| BenchError::Setup(err.to_string()))?
        .hash(BENCH_PASSWORD)
        .map_err(BenchError::Setup)?;
    let mut created = 0;
    for index in 0..peers {
        if store.add_user(&peer_name(index), &hash)? {
            created += 1;
        }
    }
    Ok(created)
}

/// The registry a benchmark runs: on `127.0.0.1:0`, with the limits per
/// address and per user lifted, since every simulated peer comes from this
/// one machine and the point is the server's capacity, not its limits.
pub(super) fn bench_config(db: &Path, hello_timeout: Duration) -> RegistryConfig {
    let mut config = RegistryConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), db);
    config.hello_timeout = hello_timeout;
    config.max_per_address = config.max_connections;
    config.max_invites_per_user = usize::MAX;
    config.registrations.max = usize::MAX;
    // The load generators speak raw lines.
    config.tls = RegistryTls::Plaintext;
    config
}

/// The body of the server child process: serves on `127.0.0.1:0`, prints
/// the address on stdout, and stops when stdin closes.
pub fn serve_child(db: &Path, hello_timeout: Duration) -> Result<(), BenchError> {
    let server = Server::bind(bench_config(db, hello_timeout))?;
    let stopper = server.stopper();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", server.local_addr())?;
        out.flush()?;
    }
    // The parent's end of stdin closing (even if it crashed) stops us.
    thread::Builder::new()
        .name("bench-stdin".into())
        .spawn(move || {
            let mut sink = String::new();
            while let Ok(1..) = std::io::stdin().read_line(&mut sink) {
                sink.clear();
            }
            stopper.stop();
        })?;
    server.run()?;
    Ok(())
}
