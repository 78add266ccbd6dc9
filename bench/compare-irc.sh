#!/usr/bin/env bash
# Runs the lobby benchmark against p2pchat's hub and against ngIRCd side by
# side, on 127.0.0.1, in plain text and over TLS, and prints the medians
# with the ratio ours/IRC (and, for TLS, ours TLS / ours plain).
#
# Usage: bench/compare-irc.sh            (REPS=5 runs per figure by default)
#        REPS=9 MEMBERS="10 100" bench/compare-irc.sh
#        MEMBERS=" " PACED_MEMBERS=500 bench/compare-irc.sh   (paced rows only)
#        SECURITY=tls bench/compare-irc.sh   (TLS rows only; "plain" for the others)
#
# Installs ngIRCd with apt-get if it is missing (needs root). Every ngIRCd it
# starts runs in the foreground of a child process on free local ports and
# is stopped by its pid when the script exits, however it exits. For TLS it
# gets a self-signed ECDSA certificate made by openssl in a temporary
# directory, and the bench pins that certificate's key by its fingerprint.
# Our hub runs in a process of its own (bench serve-lobby), so both sides'
# memory is the server's alone.

set -euo pipefail

REPS=${REPS:-5}
MEMBERS=${MEMBERS:-"10 100 500"}
PACED_MEMBERS=${PACED_MEMBERS:-"100 500"}
MESSAGES=${MESSAGES:-1000}
PACED_RATE=${PACED_RATE:-1000}
SECURITY=${SECURITY:-"plain tls"}

cd "$(dirname "$0")/.."

if ! command -v ngircd >/dev/null 2>&1 && [ ! -x /usr/sbin/ngircd ]; then
    echo "Installing ngIRCd from the Debian packages..." >&2
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y ngircd >&2
    # The package starts a system-wide daemon on port 6667; we do not use it.
    if command -v systemctl >/dev/null 2>&1; then systemctl stop ngircd >/dev/null 2>&1 || true; fi
fi
NGIRCD=$(command -v ngircd || echo /usr/sbin/ngircd)

# The load generators are the workspace's p2pchat-bench crate; its binary
# lands in the workspace's target directory.
cargo build --release -p p2pchat-bench >&2
BENCH=target/release/bench

WORK=$(mktemp -d)
IRC_PID=""
stop_irc() {
    if [ -n "$IRC_PID" ]; then
        kill "$IRC_PID" 2>/dev/null || true
        wait "$IRC_PID" 2>/dev/null || true
        IRC_PID=""
    fi
}
trap 'stop_irc; rm -rf "$WORK"' EXIT

# ngIRCd's TLS key and certificate (ECDSA P-256, self-signed, for 127.0.0.1),
# fixed Diffie-Hellman parameters (RFC 7919, so it generates none at start),
# and the fingerprint the bench pins: SHA256:<base64 of the SHA-256 of the
# public key, no padding>, as p2pchat writes fingerprints.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$WORK/irc-key.pem" -out "$WORK/irc-cert.pem" -days 7 -subj /CN=127.0.0.1 2>/dev/null
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$WORK/irc-dh.pem"
IRC_FINGERPRINT=SHA256:$(openssl x509 -in "$WORK/irc-cert.pem" -pubkey -noout |
    openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64 | tr -d '=\n')

# Starts a fresh ngIRCd (so its peak memory is that of one run) and sets
# IRC_PORT (plain text), IRC_TLS_PORT (the next one) and IRC_PID.
start_irc() {
    local tries
    for tries in 1 2 3 4 5; do
        IRC_PORT=$((20000 + RANDOM % 40000))
        IRC_TLS_PORT=$((IRC_PORT + 1))
        if ss -ltn | grep -q -e ":$IRC_PORT " -e ":$IRC_TLS_PORT "; then continue; fi
        cat >"$WORK/ngircd.conf" <<EOF
[Global]
    Name = bench.irc
    Info = p2pchat benchmark
    Listen = 127.0.0.1
    Ports = $IRC_PORT
    MotdPhrase = bench
    PidFile = $WORK/ngircd.pid
[Limits]
    MaxConnections = 0
    MaxConnectionsIP = 0
    MaxJoins = 0
    MaxPenaltyTime = 0
    PingTimeout = 600
    PongTimeout = 600
[Options]
    DNS = no
    Ident = no
    PAM = no
[SSL]
    CertFile = $WORK/irc-cert.pem
    KeyFile = $WORK/irc-key.pem
    DHFile = $WORK/irc-dh.pem
    Ports = $IRC_TLS_PORT
[Operator]
    Name = bench
    Password = benchpass
EOF
        # ngIRCd needs a descriptor per client; raise the soft limit for it.
        (ulimit -n "$(ulimit -Hn)"; exec "$NGIRCD" --nodaemon --config "$WORK/ngircd.conf") \
            >"$WORK/ngircd.log" 2>&1 &
        IRC_PID=$!
        local i
        for i in $(seq 1 50); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$IRC_TLS_PORT") 2>/dev/null &&
                (exec 3<>"/dev/tcp/127.0.0.1/$IRC_PORT") 2>/dev/null; then return 0; fi
            if ! kill -0 "$IRC_PID" 2>/dev/null; then break; fi
            sleep 0.1
        done
        stop_irc
    done
    echo "ngIRCd did not start; its log:" >&2
    cat "$WORK/ngircd.log" >&2
    exit 1
}

# field NAME < json: the value of a flat JSON field.
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# once SIDE MEMBERS RATE SECURITY: one run of one side, in plain text or
# TLS, its JSON appended to $WORK/SIDE.runs and to the record of every run.
once() {
    local side=$1 members=$2 rate=$3 security=$4 out
    local tls=() irc_addr
    # A failed run is reported and left out of the medians; it must not end
    # the script with an ngIRCd still running.
    if [ "$side" = irc ]; then
        start_irc
        irc_addr=127.0.0.1:$IRC_PORT
        if [ "$security" = tls ]; then
            irc_addr=127.0.0.1:$IRC_TLS_PORT
            tls=(--irc-tls "$IRC_FINGERPRINT")
        fi
        out=$("$BENCH" --json lobby --members "$members" --messages "$MESSAGES" --rate "$rate" \
            --against-irc "$irc_addr" "${tls[@]}" --irc-oper bench:benchpass --irc-pid "$IRC_PID" \
            2>/dev/null) || out=""
        stop_irc
        if [ -n "$out" ] && [ "$(echo "$out" | field flood_exempt)" != true ]; then
            echo "warning: the IRC sender did not get +F" >&2
        fi
    else
        if [ "$security" = tls ]; then tls=(--tls); fi
        out=$("$BENCH" --json lobby --members "$members" --messages "$MESSAGES" --rate "$rate" \
            "${tls[@]}" 2>/dev/null) || out=""
    fi
    if [ -z "$out" ]; then
        echo "warning: a $side $security run (N=$members, rate=$rate) failed; left out of the medians" >&2
        return 0
    fi
    echo "$side $security N=$members rate=$rate load=$(cut -d' ' -f1 /proc/loadavg): $out" >>"$WORK/all.jsonl"
    echo "$out" >>"$WORK/$side-$security.runs"
}

# medians RUNS: "deliveries p50 p99 max lost memory per-member" over the
# runs in file $WORK/RUNS.runs.
medians() {
    local f
    for f in deliveries_per_sec latency_p50_us latency_p99_us latency_max_us lost \
        peak_memory_bytes memory_per_member_bytes; do
        field "$f" <"$WORK/$1.runs" | median
    done | paste -sd' '
}

# spread RUNS FIELD: "min-max" of a field over the runs.
spread() { field "$2" <"$WORK/$1.runs" | sort -g | sed -n '1p;$p' | paste -sd'-'; }

# pair MEMBERS RATE: REPS runs of each side in each security, taking turns
# (and turns about who goes first), so that a machine that gets busier or
# quieter during the script weighs on all of them alike.
pair() {
    local members=$1 rate=$2 rep security sides
    for security in $SECURITY; do
        : >"$WORK/ours-$security.runs"
        : >"$WORK/irc-$security.runs"
    done
    for rep in $(seq 1 "$REPS"); do
        sides="ours irc"
        if [ $((rep % 2)) = 0 ]; then sides="irc ours"; fi
        for security in $SECURITY; do
            for side in $sides; do once "$side" "$members" "$rate" "$security"; done
        done
    done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }

kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

# row LABEL MEMBERS RATE: one line per security, after all its runs.
row() {
    local label=$1 members=$2 rate=$3 ours irc security vs_plain
    echo "running $label (N=$members, rate=$rate, $SECURITY, $REPS runs each)..." >&2
    pair "$members" "$rate"
    for security in $SECURITY; do
        ours=($(medians "ours-$security"))
        irc=($(medians "irc-$security"))
        vs_plain=-
        if [ "$security" = tls ] && [ -s "$WORK/ours-plain.runs" ]; then
            vs_plain=$(ratio "${ours[0]}" "$(field deliveries_per_sec <"$WORK/ours-plain.runs" | median)")
        fi
        printf "%-8s %-5s %5s | %12.0f %12.0f %6s %6s | %8s %8s %6s | %8s %8s %6s | %5s %5s | %7s %7s | %7s %7s\n" \
            "$label" "$security" "$members" "${ours[0]}" "${irc[0]}" "$(ratio "${ours[0]}" "${irc[0]}")" "$vs_plain" \
            "$(ms "${ours[1]}")" "$(ms "${irc[1]}")" "$(ratio "${ours[1]}" "${irc[1]}")" \
            "$(ms "${ours[2]}")" "$(ms "${irc[2]}")" "$(ratio "${ours[2]}" "${irc[2]}")" \
            "${ours[4]}" "${irc[4]}" "$(mib "${ours[5]}")" "$(mib "${irc[5]}")" \
            "$(kib "${ours[6]}")" "$(kib "${irc[6]}")"
        echo "    spread: deliv/s ours $(spread "ours-$security" deliveries_per_sec), IRC $(spread "irc-$security" deliveries_per_sec);" \
            "p99 us ours $(spread "ours-$security" latency_p99_us), IRC $(spread "irc-$security" latency_p99_us)"
    done
}

{
    echo "Medians of $REPS runs, M=$MESSAGES messages of 64 bytes; latency in ms; peak memory in MiB"
    echo "and what each member added, in KiB (ours: the hub's own process; IRC: the ngircd process)."
    echo "vs plain: our TLS deliveries/s over our plain-text ones in the same script."
    echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
    printf "%-8s %-5s %5s | %12s %12s %6s %6s | %8s %8s %6s | %8s %8s %6s | %5s %5s | %7s %7s | %7s %7s\n" \
        run sec N "deliv/s ours" "deliv/s IRC" ratio "vs pl" "p50 ours" "p50 IRC" ratio \
        "p99 ours" "p99 IRC" ratio "lost" "lost" "mem" "mem" "KiB/mb" "KiB/mb"
    for n in $MEMBERS; do row fast "$n" 0; done
    for n in $PACED_MEMBERS; do row "$PACED_RATE/s" "$n" "$PACED_RATE"; done
    echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
}
echo
echo "Every run, as JSON:"
cat "$WORK/all.jsonl"
