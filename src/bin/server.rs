//! `server`: the p2pchat registry. Parses the command line, starts the
//! server, and turns Ctrl-C into a clean shutdown.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use p2pchat::crypto::Fingerprint;
use p2pchat::discovery::{self, AnnounceConfig, Announcement, Announcer};
use p2pchat::registry::{
    DEFAULT_JOIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PER_ADDRESS,
    DEFAULT_REGISTRY_HELLO_TIMEOUT, DEFAULT_REGISTRY_PORT, RegistrationLimit, RegistryConfig,
    RegistryTls, Server, ThrottleConfig,
};
use p2pchat::trace::{self, Trace};
use std::thread::{self, JoinHandle};

/// The p2pchat registry server: keeps accounts and presence in a SQLite file
/// and tells peers who is online and where.
#[derive(Parser)]
#[command(
    version,
    after_help = "Talk to it by hand: openssl s_client -quiet -connect 127.0.0.1:7777 (or, started with --plaintext, nc 127.0.0.1 7777), then type HELP."
)]
struct Args {
    /// Address and port to listen on.
    #[arg(long, default_value_t = SocketAddr::from(([0, 0, 0, 0], DEFAULT_REGISTRY_PORT)))]
    bind: SocketAddr,
    /// The SQLite database file (created on first run).
    #[arg(long, default_value = "registry.db")]
    db: PathBuf,
    /// Seconds a client may stay silent before it is closed and marked offline.
    #[arg(long, default_value_t = DEFAULT_REGISTRY_HELLO_TIMEOUT.as_secs_f64(), value_parser = p2pchat::parse_seconds, allow_negative_numbers = true)]
    hello_timeout: f64,
    /// Connections held at once; one over this gets ERR SERVER_FULL.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = parse_count)]
    max_connections: usize,
    /// Connections one address (an IPv6 one by its /64) may hold; one over
    /// this gets ERR SERVER_FULL. Mind a classroom behind one NAT.
    #[arg(long, default_value_t = DEFAULT_MAX_PER_ADDRESS, value_parser = parse_count)]
    max_per_address: usize,
    /// Seconds a new connection has to log in with JOIN, however busy it is.
    #[arg(long, default_value_t = DEFAULT_JOIN_TIMEOUT.as_secs_f64(), value_parser = p2pchat::parse_seconds, allow_negative_numbers = true)]
    join_timeout: f64,
    /// Failed JOINs for one name, or from one address, within a minute that
    /// start a lockout of that name or address.
    #[arg(long, default_value_t = ThrottleConfig::default().max_failures, value_parser = parse_count)]
    max_failures: usize,
    /// Seconds a lockout lasts.
    #[arg(long, default_value_t = ThrottleConfig::default().cooldown.as_secs_f64(), value_parser = p2pchat::parse_seconds, allow_negative_numbers = true)]
    lockout: f64,
    /// REGISTERs one address (an IPv6 one by its /64) may make in ten
    /// minutes; as many NAME checks, counted apart.
    #[arg(long, default_value_t = RegistrationLimit::default().max, value_parser = parse_count)]
    max_registrations: usize,
    /// Speak plain text instead of TLS, for labs with nc: anyone on the
    /// network can read and change what is sent, passwords included.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    plaintext: bool,
    /// One's own TLS certificate (PEM, end entity first) instead of the key
    /// made beside the database; needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Print every line received (<<) and sent (>>), with the client's
    /// address, on standard error, but the heartbeats (HELLO, OK HELLO).
    /// Passwords show as ****.
    #[arg(long)]
    trace: bool,
    /// As --trace, with the heartbeats (HELLO, OK HELLO) that --trace leaves out.
    #[arg(long)]
    trace_all: bool,
    /// Do not announce the registry on the LAN (multicast DNS): peers then
    /// need --server to find it.
    #[arg(long)]
    no_announce: bool,
    /// The name peers see when several registries answer (by default this
    /// machine's name, and the port if it is not 7777).
    #[arg(long, value_name = "NAME")]
    announce_name: Option<String>,
    /// Seconds the exit waits for the last log lines to be printed. Hidden:
    /// the tests shorten it.
    #[arg(long, hide = true, default_value_t = PRINTER_GRACE.as_secs_f64(), value_parser = p2pchat::parse_seconds)]
    printer_grace: f64,
}

/// How long the exit waits for the last log lines to be printed.
const PRINTER_GRACE: Duration = Duration::from_secs(2);

/// Announces the registry on the LAN, saying where; a failure is said and
/// the registry runs on, reachable with --server.
fn announce_on_lan(
    name: Option<String>,
    addr: SocketAddr,
    fingerprint: Option<Fingerprint>,
) -> Option<Announcer> {
    let config = AnnounceConfig {
        name: name.unwrap_or_else(|| discovery::default_name(addr.port())),
        registry: addr,
        announcement: Announcement {
            version: discovery::PROTOCOL_VERSION,
            tls: fingerprint.is_some(),
            fingerprint,
            online: None,
        },
    };
    match Announcer::start(&config) {
        Ok(announcer) => {
            trace::out(format_args!(
                "Announcing {:?} as {} on {}",
                config.name,
                discovery::SERVICE_TYPE,
                announcer.interfaces_text()
            ));
            Some(announcer)
        }
        Err(err) => {
            trace::err(format_args!(
                "server: not announced on the LAN ({err}); peers need --server"
            ));
            None
        }
    }
}

fn parse_count(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text} is not a whole number above 0")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = RegistryConfig::new(args.bind, &args.db);
    config.hello_timeout = Duration::from_secs_f64(args.hello_timeout);
    config.trace = Trace::from_flags(args.trace, args.trace_all);
    config.max_connections = args.max_connections;
    config.max_per_address = args.max_per_address;
    config.join_timeout = Duration::from_secs_f64(args.join_timeout);
    config.throttle.max_failures = args.max_failures;
    config.throttle.cooldown = Duration::from_secs_f64(args.lockout);
    config.registrations.max = args.max_registrations;
    config.tls = match (args.plaintext, args.tls_cert, args.tls_key) {
        (true, _, _) => RegistryTls::Plaintext,
        (false, Some(cert), Some(key)) => RegistryTls::Files { cert, key },
        _ => config.tls,
    };
    let announce = (!args.no_announce).then_some(args.announce_name);
    let grace = Duration::from_secs_f64(args.printer_grace);
    match run(config, announce, grace) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            trace::err(format_args!("server: {err}"));
            ExitCode::from(2)
        }
    }
}

/// `announce` is the instance name to announce under, `Some(None)` for the
/// default one, `None` with `--no-announce`; `grace` how long the exit
/// waits for the log printer.
fn run(
    mut config: RegistryConfig,
    announce: Option<Option<String>>,
    grace: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let db = config.db_path.clone();
    let printer = Printer::start()?;
    config.log = Some(printer.log.clone());
    raise_fd_limit();
    let server = Server::bind(config)?;
    let stopper = server.stopper();
    ctrlc::set_handler(move || stopper.stop())?;
    say_where(&server, &db);
    let announcer =
        announce.and_then(|name| announce_on_lan(name, server.local_addr(), server.fingerprint()));
    let result = server.run();
    if let Some(announcer) = announcer
        && let Err(err) = announcer.stop()
    {
        trace::err(format_args!("server: stopping the announcement: {err}"));
    }
    printer.finish(result.is_ok(), grace);
    result?;
    Ok(())
}

/// Each connection holds a descriptor; the usual soft limit of 1024 would
/// cap the server far below --max-connections.
fn raise_fd_limit() {
    if let Err(err) = p2pchat::raise_fd_limit() {
        trace::err(format_args!(
            "server: cannot raise the open-file limit: {err}"
        ));
    }
}

/// Where the registry listens, with which database, and the fingerprint
/// of its key (or that it speaks plain text).
fn say_where(server: &Server, db: &Path) {
    trace::out(format_args!(
        "Registry listening on {} with database {}",
        server.local_addr(),
        db.display()
    ));
    // On a line of its own, so a teacher can write it on the board and
    // peers compare it with what they are shown on first contact.
    match server.fingerprint() {
        Some(fingerprint) => trace::out(format_args!("fingerprint {fingerprint}")),
        None => trace::out(
            "Plain text (--plaintext): anyone on the network can read and change \
             what is sent, passwords included.",
        ),
    }
}

/// The log, printed on a thread of its own: if standard output is a pipe
/// that nobody reads, this thread blocks, and the server does not.
struct Printer {
    log: Sender<String>,
    /// Disconnected once the printer has printed everything.
    printed: Receiver<()>,
    thread: JoinHandle<()>,
}

impl Printer {
    fn start() -> io::Result<Printer> {
        let (log, lines) = bounded::<String>(1024);
        let (done, printed) = bounded::<()>(0);
        let thread = thread::Builder::new().name("log".into()).spawn(move || {
            lines.iter().for_each(trace::out);
            drop(done);
        })?;
        Ok(Printer {
            log,
            printed,
            thread,
        })
    }

    /// Prints the last line (`stopped`: the server stopped cleanly) and
    /// waits up to `grace` for the printer to finish.
    fn finish(self, stopped: bool, grace: Duration) {
        if stopped {
            // Through the printer too: with a stuck pipe, even this line
            // must not hang the exit.
            let _ = self
                .log
                .try_send("Registry stopped; everyone is marked offline.".into());
        }
        drop(self.log);
        // The server has dropped its end of the log, so the printer
        // finishes what is queued, unless it is stuck writing to a pipe
        // nobody reads: then it is left to end with the process rather
        // than hang the exit.
        if let Err(RecvTimeoutError::Disconnected) = self.printed.recv_timeout(grace) {
            let _ = self.thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exit's wait for the log, shortened by the tests with a hidden
    /// option, is for a user the two seconds ARCHITECTURE.md states.
    #[test]
    fn the_production_printer_grace_is_the_documented_one() {
        assert_eq!(Args::parse_from(["server"]).printer_grace, 2.0);
        assert_eq!(PRINTER_GRACE, Duration::from_secs(2));
    }
}
