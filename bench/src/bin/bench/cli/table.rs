//! The reports as tables for a reader: one row per figure, the name
//! padded to 28 columns. Printing only; every figure comes from a report.

use p2pchat_bench::churn::{ChurnReport, Figures};
use p2pchat_bench::lobby::LobbyReport;
use p2pchat_bench::registry::RegistryReport;
use p2pchat_bench::{Latency, show_duration, show_mib};

pub(super) fn print_lobby(r: &LobbyReport) {
    let rows = [
        ("target", r.target.clone()),
        ("security", r.security.to_string()),
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
        (
            "memory before / per member",
            format!(
                "{} / {}",
                show_mib(r.baseline_memory),
                r.memory_per_member()
                    .map_or("?".into(), |b| format!("{:.1} KiB", b as f64 / 1024.0))
            ),
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

pub(super) fn print_registry(r: &RegistryReport) {
    let rows = [
        ("peers", r.peers.to_string()),
        ("security", r.security.to_string()),
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

pub(super) fn print_churn(r: &ChurnReport) {
    let mut rows = churn_session_rows(r);
    rows.extend(churn_lobby_rows(r));
    rows.extend(churn_end_rows(r));
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

/// The run and the registry sessions in it.
fn churn_session_rows(r: &ChurnReport) -> Vec<(&'static str, String)> {
    vec![
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
    ]
}

/// The lobbies, their members and their messages.
fn churn_lobby_rows(r: &ChurnReport) -> Vec<(&'static str, String)> {
    vec![
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
    ]
}

/// The resources before, during and after, and who was left online.
fn churn_end_rows(r: &ChurnReport) -> Vec<(&'static str, String)> {
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
    vec![
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
    ]
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

/// Two figures of one table row, as `a / b`.
fn slash(a: impl std::fmt::Display, b: impl std::fmt::Display) -> String {
    format!("{a} / {b}")
}
