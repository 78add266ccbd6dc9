//! The reports as JSON, one flat object per result (`--json`), written by
//! hand: a few numbers and plain strings need no serialization crate.

use std::time::Duration;

use p2pchat_bench::churn::{ChurnReport, Figures};
use p2pchat_bench::lobby::LobbyReport;
use p2pchat_bench::registry::RegistryReport;

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

pub(super) fn lobby_json(r: &LobbyReport) -> String {
    format!(
        concat!(
            "{{\"scenario\":\"lobby\",\"target\":{},\"security\":{},\"members\":{},\"messages\":{},",
            "\"rate\":{},\"size\":{},\"deliveries_per_sec\":{:.0},\"messages_per_sec\":{:.1},",
            "\"latency_p50_us\":{},\"latency_p99_us\":{},\"latency_max_us\":{},",
            "\"expected\":{},\"delivered\":{},\"lost\":{},\"out_of_order\":{},",
            "\"disconnected\":{},\"elapsed_s\":{:.6},\"peak_memory_bytes\":{},",
            "\"baseline_memory_bytes\":{},\"memory_per_member_bytes\":{},",
            "\"memory_of\":{},\"flood_exempt\":{}}}"
        ),
        json_str(&r.target),
        json_str(r.security),
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
        json_opt(r.baseline_memory),
        json_opt(r.memory_per_member()),
        json_str(&r.memory_of),
        r.flood_exempt.map_or("null".into(), |b| b.to_string()),
    )
}

pub(super) fn registry_json(r: &RegistryReport) -> String {
    format!(
        concat!(
            "{{\"scenario\":\"registry\",\"security\":{},\"peers\":{},\"joined\":{},",
            "\"join_failures\":{},",
            "\"join_time_s\":{:.3},\"join_rate\":{:.1},\"join_p50_us\":{},\"join_p99_us\":{},",
            "\"hello_count\":{},\"hello_p50_us\":{},\"hello_p99_us\":{},\"hello_max_us\":{},",
            "\"hello_during_joins_p99_us\":{},",
            "\"list_count\":{},\"list_p50_us\":{},\"list_p99_us\":{},\"list_max_us\":{},",
            "\"search_count\":{},\"search_p50_us\":{},\"search_p99_us\":{},",
            "\"bad_replies\":{},\"wrongly_offline\":{},\"final_list_rows\":{},",
            "\"server_threads\":{},\"peak_memory_bytes\":{},\"memory_of\":{}}}"
        ),
        json_str(r.security),
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

pub(super) fn churn_json(r: &ChurnReport) -> String {
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
