//! The `bench` command line on unix: parses the arguments, runs a scenario
//! from `p2pchat_bench`, and prints a table (or, with `--json`, one JSON
//! object per result).
//!
//! - this file: `main`, and one function per scenario.
//! - `args`: the arguments, and the options they ask for.
//! - `server`: the accounts' database and the server child process.
//! - `table`: the reports as tables.
//! - `json`: the reports as JSON.

mod args;
mod json;
mod server;
mod table;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use p2pchat::raise_fd_limit;
use p2pchat_bench::BenchError;
use p2pchat_bench::lobby;
use p2pchat_bench::registry;

use args::{Args, ChurnArgs, LobbyArgs, RegistryArgs, Scenario};

pub(crate) fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> Result<(), BenchError> {
    let fds = raise_fd_limit()?;
    match args.scenario {
        Scenario::Lobby(lobby) => lobby_command(&lobby, args.json),
        Scenario::Registry(registry) => registry_command(registry, fds, args.json),
        Scenario::Churn(churn) => churn_command(&churn, fds, args.json),
        Scenario::ServeRegistry {
            db,
            hello_timeout,
            tls,
        } => registry::serve_child(&db, Duration::from_secs_f64(hello_timeout), tls),
        Scenario::ServeLobby { members, tls } => lobby::serve_child(members, tls),
    }
}

fn lobby_command(args: &LobbyArgs, json: bool) -> Result<(), BenchError> {
    let options = args.options()?;
    let report = if args.in_process || args.against_irc.is_some() {
        lobby::run(&options)?
    } else {
        server::run_lobby(options, args.tls)?
    };
    if json {
        println!("{}", json::lobby_json(&report));
    } else {
        table::print_lobby(&report);
    }
    Ok(())
}

fn registry_command(args: RegistryArgs, fds: u64, json: bool) -> Result<(), BenchError> {
    let peers = args.peers;
    if fds < 2 * peers as u64 + 100 && args.in_process {
        eprintln!(
            "bench: warning: {fds} file descriptors may be too few for {peers} peers in one process"
        );
    }
    let options = args.options();
    let report = server::run_registry(options, args.db, args.in_process)?;
    if json {
        println!("{}", json::registry_json(&report));
    } else {
        table::print_registry(&report);
    }
    Ok(())
}

fn churn_command(args: &ChurnArgs, fds: u64, json: bool) -> Result<(), BenchError> {
    let peers = args.peers;
    if fds < 3 * peers as u64 + 200 {
        eprintln!("bench: warning: {fds} file descriptors may be too few for {peers} peers");
    }
    let seed = args.seed();
    let hello_timeout = Duration::from_secs_f64(args.hello_timeout);
    let report = server::run_churn(peers, hello_timeout, args.db.clone(), |options| {
        args.configure(options, seed)
    })?;
    if json {
        println!("{}", json::churn_json(&report));
    } else {
        table::print_churn(&report);
    }
    if !report.problems.is_empty() {
        return Err(BenchError::Setup(format!(
            "churn found {} problem(s), listed above",
            report.problems.len()
        )));
    }
    Ok(())
}
