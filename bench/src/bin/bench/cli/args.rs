//! The `bench` command line's arguments (clap), and how each scenario's
//! turn into the library's options. Parsing only: nothing here runs a load.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use p2pchat::crypto::Fingerprint;
use p2pchat_bench::churn::ChurnOptions;
use p2pchat_bench::lobby::{IrcTarget, LobbyOptions, Target};
use p2pchat_bench::registry::RegistryOptions;
use p2pchat_bench::{BenchError, Security};

/// Load tests for p2pchat: a lobby flooded by one member, or the registry
/// under thousands of peers, in plain text or (with --tls) over TLS 1.3 as
/// p2pchat's peers speak by default. Everything runs on 127.0.0.1.
#[derive(Parser)]
#[command(version)]
pub(super) struct Args {
    /// Print one JSON object per result instead of a table.
    #[arg(long, global = true)]
    pub(super) json: bool,
    #[command(subcommand)]
    pub(super) scenario: Scenario,
}

#[derive(Subcommand)]
pub(super) enum Scenario {
    /// One member of a lobby sends messages; every other member receives them.
    /// The hub runs in a process of its own, whose memory is reported.
    Lobby(LobbyArgs),
    /// Peers join the registry, say HELLO on schedule, and some LIST and SEARCH.
    Registry(RegistryArgs),
    /// Peers join, chat, leave, crash, fall silent and take over their own
    /// sessions at random; lobbies open and close. Afterwards the server's
    /// threads, descriptors and online users must be back where they were.
    Churn(ChurnArgs),
    /// Runs a registry server for `bench registry` (internal).
    #[command(hide = true)]
    ServeRegistry {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        hello_timeout: f64,
        #[arg(long)]
        tls: bool,
    },
    /// Runs a lobby hub for `bench lobby` (internal).
    #[command(hide = true)]
    ServeLobby {
        #[arg(long)]
        members: usize,
        #[arg(long)]
        tls: bool,
    },
}

// The options of each scenario. Their help is the variant's doc comment
// in `Scenario`, so these structs carry `//` comments, not doc comments.

#[derive(clap::Args)]
pub(super) struct LobbyArgs {
    /// Members in the lobby, the sender included.
    #[arg(long, default_value_t = 10)]
    pub(super) members: usize,
    /// Messages the sender sends.
    #[arg(long, default_value_t = 1000)]
    pub(super) messages: u64,
    /// Messages per second; 0 sends as fast as possible.
    #[arg(long, default_value_t = 0.0)]
    pub(super) rate: f64,
    /// Bytes of text per message.
    #[arg(long, default_value_t = 64)]
    pub(super) size: usize,
    /// Threads that read the receivers' sockets.
    #[arg(long, default_value_t = 2)]
    pub(super) readers: usize,
    /// Seconds the receivers may take, after the last send, to get it all.
    #[arg(long, default_value_t = 30.0, value_parser = p2pchat::parse_seconds)]
    pub(super) timeout: f64,
    /// Members talk TLS 1.3 to the hub, each with a key of its own, as
    /// p2pchat's peers do by default (the default here is plain text).
    #[arg(long)]
    pub(super) tls: bool,
    /// Host the hub in this process, beside the load, instead of in a child
    /// process of its own (the memory reported is then this process's).
    #[arg(long)]
    pub(super) in_process: bool,
    /// Flood a channel of the IRC server at this address instead of a hub.
    #[arg(long, value_name = "ADDR")]
    pub(super) against_irc: Option<SocketAddr>,
    /// Talk TLS to the IRC server, whose key must have this fingerprint
    /// (SHA256:<base64 of the SHA-256 of its public key, no padding>).
    #[arg(long, value_name = "SHA256:...")]
    pub(super) irc_tls: Option<Fingerprint>,
    /// IRC operator NAME:PASSWORD, so the sender can set mode +F.
    #[arg(long, value_name = "NAME:PASSWORD")]
    pub(super) irc_oper: Option<String>,
    /// The IRC server's process id, to report its peak memory.
    #[arg(long, value_name = "PID")]
    pub(super) irc_pid: Option<u32>,
}

#[derive(clap::Args)]
pub(super) struct RegistryArgs {
    /// Simulated peers, each on its own connection.
    #[arg(long, default_value_t = 100)]
    pub(super) peers: usize,
    /// Seconds of HELLOs after everyone joined.
    #[arg(long, default_value_t = 10.0, value_parser = p2pchat::parse_seconds)]
    pub(super) duration: f64,
    /// Seconds between one peer's HELLOs.
    #[arg(long, default_value_t = 10.0, value_parser = p2pchat::parse_seconds)]
    pub(super) hello_interval: f64,
    /// The server's hello timeout, in seconds.
    #[arg(long, default_value_t = 30.0, value_parser = p2pchat::parse_seconds)]
    pub(super) hello_timeout: f64,
    /// Percent of peers that LIST, and as many that SEARCH, every interval.
    #[arg(long, default_value_t = 1.0)]
    pub(super) list_percent: f64,
    /// JOINs in flight at once.
    #[arg(long, default_value_t = 8)]
    pub(super) join_window: usize,
    /// Threads that drive the peers' sockets.
    #[arg(long, default_value_t = 2)]
    pub(super) drivers: usize,
    /// Reuse (or create and keep) this database, whose bench accounts all
    /// have the bench password; by default a fresh one in a temporary
    /// directory.
    #[arg(long)]
    pub(super) db: Option<PathBuf>,
    /// Run the server in this process rather than a child process (its
    /// threads are then counted net of the load's own).
    #[arg(long)]
    pub(super) in_process: bool,
    /// Peers talk TLS 1.3 to the registry, as p2pchat's peers do by
    /// default (the default here is plain text).
    #[arg(long)]
    pub(super) tls: bool,
}

#[derive(clap::Args)]
pub(super) struct ChurnArgs {
    /// Simulated peers.
    #[arg(long, default_value_t = 200)]
    pub(super) peers: usize,
    /// Seconds during which sessions and lobbies keep starting.
    #[arg(long, default_value_t = 60.0, value_parser = p2pchat::parse_seconds)]
    pub(super) duration: f64,
    /// Seed of the random choices (default: from the clock; the report
    /// shows it, so a run can be repeated).
    #[arg(long)]
    pub(super) seed: Option<u64>,
    /// The server's hello timeout, in seconds: silent sessions last this long.
    #[arg(long, default_value_t = 1.0, value_parser = p2pchat::parse_seconds)]
    pub(super) hello_timeout: f64,
    /// Mean seconds from JOIN to the end of a session.
    #[arg(long, default_value_t = 4.0, value_parser = p2pchat::parse_seconds)]
    pub(super) session: f64,
    /// Longest pause, in seconds, before a peer reconnects.
    #[arg(long, default_value_t = 1.0, value_parser = p2pchat::parse_seconds)]
    pub(super) pause: f64,
    /// Lobbies open at once (default: one per 20 peers, at most 50).
    #[arg(long)]
    pub(super) lobbies: Option<usize>,
    /// JOINs in flight at once.
    #[arg(long, default_value_t = 4)]
    pub(super) join_window: usize,
    /// Reuse (or create and keep) this database of bench accounts.
    #[arg(long)]
    pub(super) db: Option<PathBuf>,
}

impl LobbyArgs {
    /// The options these arguments ask for.
    pub(super) fn options(&self) -> Result<LobbyOptions, BenchError> {
        let mut options = LobbyOptions::new(self.members, self.messages);
        options.rate = self.rate;
        options.size = self.size;
        options.readers = self.readers;
        options.timeout = Duration::from_secs_f64(self.timeout);
        options.progress = true;
        options.target = Target::Hub { tls: self.tls };
        if let Some(addr) = self.against_irc {
            let oper = match &self.irc_oper {
                Some(pair) => Some(
                    pair.split_once(':')
                        .map(|(n, p)| (n.to_string(), p.to_string()))
                        .ok_or_else(|| {
                            BenchError::Setup("--irc-oper takes NAME:PASSWORD".into())
                        })?,
                ),
                None => None,
            };
            options.target = Target::Irc(IrcTarget {
                addr,
                security: self.irc_tls.map_or(Security::Plain, Security::Tls),
                oper,
                pid: self.irc_pid,
            });
        }
        Ok(options)
    }
}

impl RegistryArgs {
    /// The options these arguments ask for, but for where the server runs.
    pub(super) fn options(&self) -> RegistryOptions {
        let mut options = RegistryOptions::new(self.peers);
        options.duration = Duration::from_secs_f64(self.duration);
        options.hello_interval = Duration::from_secs_f64(self.hello_interval);
        options.hello_timeout = Duration::from_secs_f64(self.hello_timeout);
        options.list_fraction = self.list_percent / 100.0;
        options.join_window = self.join_window;
        options.drivers = self.drivers;
        options.tls = self.tls;
        options.progress = true;
        options
    }
}

impl ChurnArgs {
    /// The seed given, else one from the clock.
    pub(super) fn seed(&self) -> u64 {
        self.seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
    }

    /// Sets `options` (made for the server's address) as these arguments
    /// ask, with `seed`.
    pub(super) fn configure(&self, options: &mut ChurnOptions, seed: u64) {
        options.duration = Duration::from_secs_f64(self.duration);
        options.seed = seed;
        options.hello_timeout = Duration::from_secs_f64(self.hello_timeout);
        options.session = Duration::from_secs_f64(self.session);
        options.pause = Duration::from_secs_f64(self.pause);
        if let Some(lobbies) = self.lobbies {
            options.lobbies = lobbies;
        }
        options.join_window = self.join_window;
        options.progress = true;
    }
}
