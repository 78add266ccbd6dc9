//! `bench`: load tests for the lobby hub and the registry, and a churn soak
//! test of the registry, all on loopback. Thin: the command line is in
//! `cli/`, the load generators in the `p2pchat_bench` library.

use std::process::ExitCode;

// The load generators drive raw descriptors with `poll`/epoll and read
// `/proc`, so they exist only on unix; elsewhere the binary still builds,
// so that `cargo check --workspace` works for Windows.
#[cfg(unix)]
mod cli;

#[cfg(unix)]
fn main() -> ExitCode {
    cli::main()
}

#[cfg(not(unix))]
fn main() -> ExitCode {
    eprintln!("bench: the load generators need a unix system");
    ExitCode::from(2)
}
