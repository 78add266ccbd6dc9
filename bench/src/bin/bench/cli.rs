//! The `bench` command line on unix: parses the arguments, runs a scenario
//! from `p2pchat_bench`, and prints a table (or, with `--json`, one JSON
//! object per result).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use clap::{Parser, Subcommand};
use p2pchat::raise_fd_limit;
use p2pchat_bench::churn::{self, ChurnOptions, ChurnReport, Figures};
use p2pchat_bench::lobby::{self, IrcTarget, LobbyOptions, LobbyReport, Target};
use p2pchat_bench::registry::{self, RegistryOptions, RegistryReport, ServerAt};
use p2pchat_bench::{BenchError, Latency, show_duration, show_mib};

/// Load tests for p2pchat: a lobby flooded by one member, or the registry
/// under thousands of peers. Everything runs on 127.0.0.1.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Print one JSON object per result instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// One member of a lobby sends messages; every other member receives them.
    Lobby {
        /// Members in the lobby, the sender included.
        #[arg(long, default_value_t = 10)]
        members: usize,
        /// Messages the sender sends.
        #[arg(long, default_value_t = 1000)]
        messages: u64,
        /// Messages per second; 0 sends as fast as possible.
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Bytes of text per message.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Threads that read the receivers' sockets.
        #[arg(long, default_value_t = 2)]
        readers: usize,
        /// Seconds the receivers may take, after the last send, to get it all.
        #[arg(long, default_value_t = 30.0, value_parser = p2pchat::parse_seconds)]
        timeout: f64,
        /// Flood a channel of the IRC server at this address instead of a hub.
        #[arg(long, value_name = "ADDR")]
        against_irc: Option<SocketAddr>,
        /// IRC operator NAME:PASSWORD, so the sender can set mode +F.
        #[arg(long, value_name = "NAME:PASSWORD")]
        irc_oper: Option<String>,
        /// The IRC server's process id, to report its peak memory.
        #[arg(long, value_name = "PID")]
        irc_pid: Option<u32>,
    },
    /// Peers join the registry, say HELLO on schedule, and some LIST and SEARCH.
    Registry {
        /// Simulated peers, each on its own connection.
        #[arg(long, default_value_t = 100)]
        peers: usize,
        /// Seconds of HELLOs after everyone joined.
        #[arg(long, default_value_t = 10.0, value_parser = p2pchat::parse_seconds)]
        duration: f64,
        /// Seconds between one peer's HELLOs.
        #[arg(long, default_value_t = 10.0, value_parser = p2pchat::parse_seconds)]
        hello_interval: f64,
        /// The server's hello timeout, in seconds.
        #[arg(long, default_value_t = 30.0, value_parser = p2pchat::parse_seconds)]
        hello_timeout: f64,
        /// Percent of peers that LIST, and as many that SEARCH, every interval.
        #[arg(long, default_value_t = 1.0)]
        list_percent: f64,
        /// JOINs in flight at once.
        #[arg(long, default_value_t = 8)]
        join_window: usize,
        /// Threads that drive the peers' sockets.
        #[arg(long, default_value_t = 2)]
        drivers: usize,
        /// Reuse (or create and keep) this database, whose bench accounts all
        /// have the bench password; by default a fresh one in a temporary
        /// directory.
        #[arg(long)]
        db: Option<PathBuf>,
        /// Run the server in this process rather than a child process (its
        /// threads are then counted net of the load's own).
        #[arg(long)]
        in_process: bool,
    },
    /// Peers join, chat, leave, crash, fall silent and take over their own
    /// sessions at random; lobbies open and close. Afterwards the server's
    /// threads, descriptors and online users must be back where they were.
    Churn {
        /// Simulated peers.
        #[arg(long, default_value_t = 200)]
        peers: usize,
        /// Seconds during which sessions and lobbies keep starting.
        #[arg(long, default_value_t = 60.0, value_parser = p2pchat::parse_seconds)]
        duration: f64,
        /// Seed of the random choices (default: from the clock; the report
        /// shows it, so a run can be repeated).
        #[arg(long)]
        seed: Option<u64>,
        /// The server's hello timeout, in seconds: silent sessions last this long.
        #[arg(long, default_value_t = 1.0, value_parser = p2pchat::parse_seconds)]
        hello_timeout: f64,
        /// Mean seconds from JOIN to the end of a session.
        #[arg(long, default_value_t = 4.0, value_parser = p2pchat::parse_seconds)]
        session: f64,
        /// Longest pause, in seconds, before a peer reconnects.
        #[arg(long, default_value_t = 1.0, value_parser = p2pchat::parse_seconds)]
        pause: f64,
        /// Lobbies open at once (default: one per 20 peers, at most 50).
        #[arg(long)]
        lobbies: Option<usize>,
        /// JOINs in flight at once.
        #[arg(long, default_value_t = 4)]
        join_window: usize,
        /// Reuse (or create and keep) this database of bench accounts.
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Runs a registry server for `bench registry` (internal).
    #[command(hide = true)]
    ServeRegistry {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        hello_timeout: f64,
    },
}

pub fn main() -> ExitCode {
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
        Scenario::Lobby {
            members,
            messages,
            rate,
            size,
            readers,
            timeout,
            against_irc,
            irc_oper,
            irc_pid,
        } => {
            let mut options = LobbyOptions::new(members, messages);
            options.rate = rate;
            options.size = size;
            options.readers = readers;
            options.timeout = Duration::from_secs_f64(timeout);
            options.progress = true;
            if let Some(addr) = against_irc {
                let oper = match irc_oper {
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
                    oper,
                    pid: irc_pid,
                });
            }
            let report = lobby::run(&options)?;
            if args.json {
                println!("{}", lobby_json(&report));
            } else {
                print_lobby(&report);
            }
        }
        Scenario::Registry {
            peers,
            duration,
            hello_interval,
            hello_timeout,
            list_percent,
            join_window,
            drivers,
            db,
            in_process,
        } => {
            if fds < 2 * peers as u64 + 100 && in_process {
                eprintln!(
                    "bench: warning: {fds} file descriptors may be too few for {peers} peers in one process"
                );
            }
            let mut options = RegistryOptions::new(peers);
            options.duration = Duration::from_secs_f64(duration);
            options.hello_interval = Duration::from_secs_f64(hello_interval);
            options.hello_timeout = Duration::from_secs_f64(hello_timeout);
            options.list_fraction = list_percent / 100.0;
            options.join_window = join_window;
            options.drivers = drivers;
            options.progress = true;
            let report = run_registry(options, db, in_process)?;
            if args.json {
                println!("{}", registry_json(&report));
            } else {
                print_registry(&report);
            }
        }
        Scenario::Churn {
            peers,
            duration,
            seed,
            hello_timeout,
            session,
            pause,
            lobbies,
            join_window,
            db,
        } => {
            if fds < 3 * peers as u64 + 200 {
                eprintln!(
                    "bench: warning: {fds} file descriptors may be too few for {peers} peers"
                );
            }
            let seed = seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.as_nanos() as u64)
            });
            let configure = |options: &mut ChurnOptions| {
                options.duration = Duration::from_secs_f64(duration);
                options.seed = seed;
                options.hello_timeout = Duration::from_secs_f64(hello_timeout);
                options.session = Duration::from_secs_f64(session);
                options.pause = Duration::from_secs_f64(pause);
                if let Some(lobbies) = lobbies {
                    options.lobbies = lobbies;
                }
                options.join_window = join_window;
                options.progress = true;
            };
            let report = run_churn(peers, Duration::from_secs_f64(hello_timeout), db, configure)?;
            if args.json {
                println!("{}", churn_json(&report));
            } else {
                print_churn(&report);
            }
            if !report.problems.is_empty() {
                return Err(BenchError::Setup(format!(
                    "churn found {} problem(s), listed above",
                    report.problems.len()
                )));
            }
        }
        Scenario::ServeRegistry { db, hello_timeout } => {
            registry::serve_child(&db, Duration::from_secs_f64(hello_timeout))?;
        }
    }
    Ok(())
}

/// Prepares the database, starts the server (in a child process unless
/// `in_process`), and runs the load against it.
fn run_registry(
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
fn run_churn(
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

/// The database a run uses: `db` if given, else a new one in a scratch
/// directory that lives as long as the returned guard; either way with
/// `accounts` bench accounts in it.
fn bench_db(
    db: Option<PathBuf>,
    label: &str,
    accounts: usize,
) -> Result<(PathBuf, Option<p2pchat_bench::ScratchDir>), BenchError> {
    let (db, scratch) = match db {
        Some(db) => (db, None),
        None => {
            let scratch = p2pchat_bench::ScratchDir::new(label)?;
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

fn print_lobby(r: &LobbyReport) {
    let rows = [
        ("target", r.target.clone()),
        (
            "members / messages / size",
            format!("{} / {} / {} B", r.members, r.messages, r.size),
        ),
        (
            "rate",
            if r.rate > 0.0 {
                format!("{} msg/s", r.rate)
            } else {
                "as fast as possible".into()
            },
        ),
        ("deliveries/s", format!("{:.0}", r.deliveries_per_sec())),
        ("messages/s", format!("{:.0}", r.messages_per_sec())),
        ("latency p50 / p99 / max", latency_text(&r.latency)),
        ("delivered / expected", slash(r.delivered, r.expected)),
        ("lost", r.lost.to_string()),
        ("out of order", r.out_of_order.to_string()),
        ("disconnected", r.disconnected.to_string()),
        ("elapsed", show_duration(r.elapsed)),
        (
            "peak memory",
            format!("{} ({})", show_mib(r.peak_memory), r.memory_of),
        ),
    ];
    print_rows(&rows);
    if let Some(exempt) = r.flood_exempt {
        println!(
            "{:<28} {}",
            "sender has +F",
            if exempt { "yes" } else { "no" }
        );
    }
}

fn print_registry(r: &RegistryReport) {
    let rows = [
        ("peers", r.peers.to_string()),
        (
            "joined",
            format!("{} ({} failed)", r.joined, r.join_failures),
        ),
        ("join time", format!("{:.1} s", r.join_time.as_secs_f64())),
        ("join rate", format!("{:.1} joins/s", r.join_rate())),
        ("join latency p50 / p99 / max", latency_text(&r.join)),
        ("HELLO p50 / p99 / max", latency_text(&r.hello)),
        (
            "HELLO during joins p50 / p99",
            format!(
                "{} / {} ({} replies)",
                show_duration(r.hello_during_joins.p50),
                show_duration(r.hello_during_joins.p99),
                r.hello_during_joins.count
            ),
        ),
        ("LIST p50 / p99 / max", latency_text(&r.list)),
        ("SEARCH p50 / p99 / max", latency_text(&r.search)),
        ("bad replies", r.bad_replies.to_string()),
        ("wrongly offline", r.wrongly_offline.to_string()),
        (
            "final LIST rows",
            format!("{} (of {})", r.final_list_rows, r.peers),
        ),
        (
            "server threads (peak)",
            r.server_threads.map_or("?".into(), |t| t.to_string()),
        ),
        (
            "server peak memory",
            format!("{} ({})", show_mib(r.peak_memory), r.memory_of),
        ),
    ];
    print_rows(&rows);
}

fn print_churn(r: &ChurnReport) {
    let figures = |f: &Figures, show: &dyn Fn(u64) -> String| {
        let one = |n: Option<u64>| n.map_or("?".to_string(), show);
        format!("{} / {} / {}", one(f.baseline), one(f.peak), one(f.end))
    };
    let count = |n: u64| n.to_string();
    let mib = |n: u64| show_mib(Some(n));
    let names = |names: &[String]| {
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(" ")
        }
    };
    let rows = [
        ("peers / seed", slash(r.peers, r.seed)),
        (
            "churn time / whole run",
            format!(
                "{:.1} s / {:.1} s",
                r.duration.as_secs_f64(),
                r.elapsed.as_secs_f64()
            ),
        ),
        ("sessions", r.sessions.to_string()),
        ("ended: left / crashed", slash(r.left, r.crashed)),
        (
            "ended: timed out / replaced",
            slash(r.timed_out, r.replaced),
        ),
        ("ended: cut at stop / broken", slash(r.cut, r.broken)),
        ("JOIN p50 / p99 / max", latency_text(&r.join)),
        (
            "replies (ERR OFFLINE)",
            format!("{} ({})", r.replies, r.offline_answers),
        ),
        ("unexpected", r.unexpected.to_string()),
        ("lobbies / members", slash(r.lobbies, r.lobby_members)),
        (
            "members left: LEAVE / drop",
            slash(r.lobby_leaves, r.lobby_drops),
        ),
        (
            "lobby delivered / expected",
            slash(r.lobby_delivered, r.lobby_expected),
        ),
        ("lobby lost", r.lobby_lost.to_string()),
        ("lobby unexpected", r.lobby_unexpected.to_string()),
        (
            "server threads base/peak/end",
            figures(&r.server_threads, &count),
        ),
        ("server fds base/peak/end", figures(&r.server_fds, &count)),
        ("server RSS base/peak/end", figures(&r.server_memory, &mib)),
        (
            "bench threads base/peak/end",
            figures(&r.bench_threads, &count),
        ),
        (
            "settled (LIST = watcher)",
            format!(
                "{} after {}",
                if r.settled { "yes" } else { "NO" },
                show_duration(r.settle_time)
            ),
        ),
        ("DB online, watcher joined", names(&r.online_settled)),
        ("DB online at the end", names(&r.online_end)),
    ];
    print_rows(&rows);
    for example in &r.examples {
        println!("{:<28} {example}", "seen");
    }
    if r.problems.is_empty() {
        println!("{:<28} none", "problems");
    }
    for problem in &r.problems {
        println!("{:<28} {problem}", "PROBLEM");
    }
}

fn print_rows(rows: &[(&str, String)]) {
    for (name, value) in rows {
        println!("{name:<28} {value}");
    }
}

fn latency_text(l: &Latency) -> String {
    format!(
        "{} / {} / {} ({} samples)",
        show_duration(l.p50),
        show_duration(l.p99),
        show_duration(l.max),
        l.count
    )
}

fn micros(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

/// A JSON string literal (the strings here are addresses and plain words).
fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_opt(n: Option<u64>) -> String {
    n.map_or("null".into(), |n| n.to_string())
}

fn lobby_json(r: &LobbyReport) -> String {
    format!(
        concat!(
            "{{\"scenario\":\"lobby\",\"target\":{},\"members\":{},\"messages\":{},",
            "\"rate\":{},\"size\":{},\"deliveries_per_sec\":{:.0},\"messages_per_sec\":{:.1},",
            "\"latency_p50_us\":{},\"latency_p99_us\":{},\"latency_max_us\":{},",
            "\"expected\":{},\"delivered\":{},\"lost\":{},\"out_of_order\":{},",
            "\"disconnected\":{},\"elapsed_s\":{:.6},\"peak_memory_bytes\":{},",
            "\"memory_of\":{},\"flood_exempt\":{}}}"
        ),
        json_str(&r.target),
        r.members,
        r.messages,
        r.rate,
        r.size,
        r.deliveries_per_sec(),
        r.messages_per_sec(),
        micros(r.latency.p50),
        micros(r.latency.p99),
        micros(r.latency.max),
        r.expected,
        r.delivered,
        r.lost,
        r.out_of_order,
        r.disconnected,
        r.elapsed.as_secs_f64(),
        json_opt(r.peak_memory),
        json_str(&r.memory_of),
        r.flood_exempt.map_or("null".into(), |b| b.to_string()),
    )
}

fn registry_json(r: &RegistryReport) -> String {
    format!(
        concat!(
            "{{\"scenario\":\"registry\",\"peers\":{},\"joined\":{},\"join_failures\":{},",
            "\"join_time_s\":{:.3},\"join_rate\":{:.1},\"join_p50_us\":{},\"join_p99_us\":{},",
            "\"hello_count\":{},\"hello_p50_us\":{},\"hello_p99_us\":{},\"hello_max_us\":{},",
            "\"hello_during_joins_p99_us\":{},",
            "\"list_count\":{},\"list_p50_us\":{},\"list_p99_us\":{},\"list_max_us\":{},",
            "\"search_count\":{},\"search_p50_us\":{},\"search_p99_us\":{},",
            "\"bad_replies\":{},\"wrongly_offline\":{},\"final_list_rows\":{},",
            "\"server_threads\":{},\"peak_memory_bytes\":{},\"memory_of\":{}}}"
        ),
        r.peers,
        r.joined,
        r.join_failures,
        r.join_time.as_secs_f64(),
        r.join_rate(),
        micros(r.join.p50),
        micros(r.join.p99),
        r.hello.count,
        micros(r.hello.p50),
        micros(r.hello.p99),
        micros(r.hello.max),
        micros(r.hello_during_joins.p99),
        r.list.count,
        micros(r.list.p50),
        micros(r.list.p99),
        micros(r.list.max),
        r.search.count,
        micros(r.search.p50),
        micros(r.search.p99),
        r.bad_replies,
        r.wrongly_offline,
        r.final_list_rows,
        json_opt(r.server_threads),
        json_opt(r.peak_memory),
        json_str(&r.memory_of),
    )
}

fn json_names(names: &[String]) -> String {
    let items: Vec<String> = names.iter().map(|n| json_str(n)).collect();
    format!("[{}]", items.join(","))
}

fn churn_json(r: &ChurnReport) -> String {
    let figures = |name: &str, f: &Figures| {
        format!(
            "\"{name}_baseline\":{},\"{name}_peak\":{},\"{name}_end\":{}",
            json_opt(f.baseline),
            json_opt(f.peak),
            json_opt(f.end)
        )
    };
    format!(
        concat!(
            "{{\"scenario\":\"churn\",\"peers\":{},\"seed\":{},\"duration_s\":{:.3},",
            "\"elapsed_s\":{:.3},\"sessions\":{},\"left\":{},\"crashed\":{},",
            "\"timed_out\":{},\"replaced\":{},\"cut\":{},\"broken\":{},",
            "\"join_count\":{},\"join_p50_us\":{},\"join_p99_us\":{},\"join_max_us\":{},",
            "\"replies\":{},\"offline_answers\":{},\"unexpected\":{},",
            "\"lobbies\":{},\"lobby_members\":{},\"lobby_leaves\":{},\"lobby_drops\":{},",
            "\"lobby_expected\":{},\"lobby_delivered\":{},\"lobby_lost\":{},",
            "\"lobby_unexpected\":{},{},{},{},{},",
            "\"settled\":{},\"settle_s\":{:.3},\"online_settled\":{},\"online_end\":{},",
            "\"examples\":{},\"problems\":{}}}"
        ),
        r.peers,
        r.seed,
        r.duration.as_secs_f64(),
        r.elapsed.as_secs_f64(),
        r.sessions,
        r.left,
        r.crashed,
        r.timed_out,
        r.replaced,
        r.cut,
        r.broken,
        r.join.count,
        micros(r.join.p50),
        micros(r.join.p99),
        micros(r.join.max),
        r.replies,
        r.offline_answers,
        r.unexpected,
        r.lobbies,
        r.lobby_members,
        r.lobby_leaves,
        r.lobby_drops,
        r.lobby_expected,
        r.lobby_delivered,
        r.lobby_lost,
        r.lobby_unexpected,
        figures("server_threads", &r.server_threads),
        figures("server_fds", &r.server_fds),
        figures("server_rss", &r.server_memory),
        figures("bench_threads", &r.bench_threads),
        r.settled,
        r.settle_time.as_secs_f64(),
        json_names(&r.online_settled),
        json_names(&r.online_end),
        json_names(&r.examples),
        json_names(&r.problems),
    )
}

/// Two figures of one table row, as `a / b`.
fn slash(a: impl std::fmt::Display, b: impl std::fmt::Display) -> String {
    format!("{a} / {b}")
}
