#!/usr/bin/env bash
# The Windows `server.exe` and `peer.exe` under Wine, against Linux peers, on
# loopback: the Windows registry takes registrations and joins from both
# kinds of peer; a lobby led by the Windows peer, then one led by a Linux
# peer, carry messages both ways; and each loses its leader to `kill -9`,
# after which the members carry on under the successor (a Linux one in the
# first lobby, the Windows peer in the second); the first ends with the
# leader's /end, the second with the Windows leader's /quit, which hands
# the lobby on to the last member.
#
#   bash .ci/wine-scenario.sh WINDOWS_BIN_DIR LINUX_BIN_DIR
#
# WINDOWS_BIN_DIR holds server.exe and peer.exe (x86_64-pc-windows-gnu),
# LINUX_BIN_DIR the native `peer`. Wine and the MinGW C compiler must be
# installed; .ci/run installs them. Every step prints `pass: ...` or
# `FAIL: ...`, and the script exits non-zero at the first failure.
#
# The peers are driven as the tests drive them: piped standard input and
# output, plain lines, and every step waits for the line it expects (a
# bounded poll of the peer's output file), never for a fixed time.
set -euo pipefail

# The binaries' options, in one place: adapt these when the options change.
# Paths are relative to the scratch directory the processes run in, so that
# the Windows binaries need no drive letters.
SERVER_OPTS=(--bind 127.0.0.1:0 --no-announce --db registry.db)
# Short lobby timers, so that a lost leader is noticed within seconds even
# if its sockets do not close at once.
# Every connection speaks TLS, as by default; the peers keep their keys and
# the registry's pinned fingerprint in a data folder of this run's own, so
# no key from an earlier run is met again.
PEER_OPTS=(--log-dir logs --data-dir data --lobby-hello 0.5 --lobby-timeout 5 --invite-timeout 30)
PASSWORD=s3cret-pw
# Seconds to wait for one expected line: a safety net, not a pace. Wine
# takes a few seconds to start a program.
WAIT=40

if [[ $# -ne 2 ]]; then
  echo "usage: $0 WINDOWS_BIN_DIR LINUX_BIN_DIR" >&2
  exit 2
fi
WINDOWS_BIN=$(cd "$1" && pwd)
LINUX_BIN=$(cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)

# Debian's wine64 package has the 64-bit loader here; `wine64` or `wine` on
# the PATH elsewhere. Called directly, it `exec`s into the Windows program,
# so the pid we keep is the program's and `kill -9` reaches it.
WINE=
for candidate in /usr/lib/wine/wine64 "$(command -v wine64 || true)" "$(command -v wine || true)"; do
  if [[ -n "$candidate" && -x "$candidate" ]]; then
    WINE=$candidate
    break
  fi
done
if [[ -z "$WINE" ]]; then
  echo "FAIL: no Wine loader found" >&2
  exit 1
fi

SCRATCH=$(mktemp -d)
# A Wine prefix of our own, with no Gecko or Mono to offer to install and
# no debug chatter.
export WINEPREFIX="$SCRATCH/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
WINESERVER=$(dirname "$WINE")/wineserver
[[ -x "$WINESERVER" ]] || WINESERVER=$(command -v wineserver || true)

declare -A PID=() IN=() SEEN=()
STEP="setting up"

cleanup() {
  local name
  for name in "${!PID[@]}"; do
    kill -9 "${PID[$name]}" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if [[ -n "$WINESERVER" ]]; then
    "$WINESERVER" -k 2>/dev/null || true
  fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

step() {
  STEP=$1
}

pass() {
  echo "pass: $STEP"
}

# Says which step failed and what the process printed, and stops.
fail() {
  local name=$1 why=$2
  echo "FAIL: $STEP: $why"
  if [[ -n "$name" ]]; then
    echo "--- last lines $name printed:"
    tail -n 25 "$SCRATCH/$name.out" || true
    echo "--- its standard error:"
    tail -n 25 "$SCRATCH/$name.err" || true
  fi
  exit 1
}

# Starts `name` as `program args...` in the scratch directory, its standard
# input a FIFO we hold open, its output in files. The child closes the write
# ends of the other processes' FIFOs, so that each has one writer: us.
start() {
  local name=$1
  shift
  rm -f "$SCRATCH/$name.in"
  mkfifo "$SCRATCH/$name.in"
  : >"$SCRATCH/$name.out"
  (
    for fd in "${IN[@]}"; do
      exec {fd}>&-
    done
    cd "$SCRATCH"
    exec "$@"
  ) <"$SCRATCH/$name.in" >"$SCRATCH/$name.out" 2>"$SCRATCH/$name.err" &
  PID[$name]=$!
  SEEN[$name]=0
  local fd
  exec {fd}>"$SCRATCH/$name.in"
  IN[$name]=$fd
}

# Starts the peer `name`, the Windows one under Wine or the Linux one.
start_peer() {
  local name=$1 kind=$2
  if [[ $kind == windows ]]; then
    start "$name" "$WINE" ./peer.exe --server "$REGISTRY" "${PEER_OPTS[@]}"
  else
    start "$name" "$LINUX_BIN/peer" --server "$REGISTRY" "${PEER_OPTS[@]}"
  fi
}

# Types each argument as a line, then Enter.
types() {
  local name=$1
  shift
  local line
  for line in "$@"; do
    printf '%s\n' "$line" >&"${IN[$name]}"
  done
}

# Waits until `name` prints a line containing `text` after the last line an
# earlier `sees` matched, as the tests' `PeerProcess::sees` reads on.
sees() {
  local name=$1 text=$2
  local deadline=$((SECONDS + WAIT)) found
  while :; do
    found=$(tail -n "+$((SEEN[$name] + 1))" "$SCRATCH/$name.out" | grep -n -F -m 1 -- "$text" | cut -d: -f1 || true)
    if [[ -n "$found" ]]; then
      SEEN[$name]=$((SEEN[$name] + found))
      return
    fi
    if ((SECONDS >= deadline)); then
      fail "$name" "$name never printed \"$text\" within ${WAIT}s"
    fi
    if ! running "${PID[$name]}"; then
      fail "$name" "$name exited before it printed \"$text\""
    fi
    sleep 0.1
  done
}

# Kills `name` as a crash would: nothing of it runs after this.
crash() {
  local name=$1
  kill -9 "${PID[$name]}"
  wait "${PID[$name]}" 2>/dev/null || true
  unset "PID[$name]"
  local fd=${IN[$name]}
  exec {fd}>&-
  unset "IN[$name]"
}

# Whether `pid` still runs: a process that has exited but is not yet
# reaped still answers `kill -0`, so read its state.
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# Registers (when `register` is given) and joins as `name`, up to the menu.
join_as() {
  local name=$1 register=${2:-}
  sees "$name" "press '1' for registration"
  if [[ -n "$register" ]]; then
    types "$name" 1 "$name" "$PASSWORD"
    sees "$name" "The registration process is successful"
  fi
  types "$name" 2 "$name" "$PASSWORD"
  sees "$name" "Joined as $name"
  sees "$name" "Press '1' for 'Online User List'"
}

# `leader` adds `members` to its conversation list and opens a lobby; they
# accept in the order given, which is the order of succession.
lobby() {
  local leader=$1 member
  shift
  for member in "$@"; do
    types "$leader" 2 "$member" Yes
    sees "$leader" "Added $member "
  done
  types "$leader" 3
  for member in "$@"; do
    sees "$member" "Chat request from '$leader'"
    types "$member" OK
    sees "$leader" "Client ('$member') connected"
    sees "$member" "You are in $leader's lobby with"
  done
}

# `from` says `text`, and each of the others sees it.
says() {
  local from=$1 text=$2 other
  shift 2
  types "$from" "$text"
  for other in "$@"; do
    sees "$other" "[$from] $text"
  done
}

# Copy the Windows binaries to where they run, with the stand-in below.
#
# Rust's standard library takes its random numbers from ProcessPrng in
# bcryptprimitives.dll, which Windows 10 and later have and Wine 8 lacks.
# For this test only, a stand-in built here with MinGW exports ProcessPrng
# and fills the buffer from RtlGenRandom (SystemFunction036 in advapi32).
# It lies beside the .exe files in the scratch directory only, where Windows
# looks first for a DLL, and nothing ships it.
step "the Windows binaries and the ProcessPrng stand-in are staged for Wine"
cp "$WINDOWS_BIN/server.exe" "$WINDOWS_BIN/peer.exe" "$SCRATCH/"
x86_64-w64-mingw32-gcc -shared -O2 -Wall -Werror -o "$SCRATCH/bcryptprimitives.dll" \
  "$HERE/bcryptprimitives.c" -ladvapi32 ||
  fail "" "the ProcessPrng stand-in does not build"
pass

step "the Wine prefix is ready"
"$WINE" wineboot --init >/dev/null 2>&1 || fail "" "wineboot --init failed"
[[ -z "$WINESERVER" ]] || "$WINESERVER" -w
pass

step "the Windows server.exe listens"
start registry "$WINE" ./server.exe "${SERVER_OPTS[@]}"
sees registry "Registry listening on "
REGISTRY=$(sed -n 's/^Registry listening on \([^ ]*\).*/\1/p' "$SCRATCH/registry.out" | head -n 1)
[[ -n "$REGISTRY" ]] || fail registry "no address in its first line"
pass

step "a Windows peer (wendy) and two Linux peers (alice, bob) register and join"
start_peer wendy windows
start_peer alice linux
start_peer bob linux
for name in wendy alice bob; do
  join_as "$name" register
done
pass

step "the Windows peer leads a lobby with alice and bob"
lobby wendy alice bob
pass

step "messages go both ways in the Windows-led lobby"
says wendy "hello from windows" alice bob
says alice "hello from linux" wendy bob
says bob "bob under wendy" wendy alice
pass

step "the Windows leader is killed; alice leads, bob carries on"
crash wendy
sees alice "The leader was lost; you lead the lobby now"
sees bob "The leader was lost; alice leads the lobby now"
says bob "bob under alice" alice
says alice "alice leads" bob
# A leader's /leave would hand the lobby on; /end ends it for everyone.
types alice /end
sees bob "The lobby has ended (alice ended it for everyone)."
sees alice "Press '1' for 'Online User List'"
pass

step "the Windows peer starts again and joins"
start_peer wendy windows
join_as wendy
pass

step "a Linux peer (alice) leads a lobby with the Windows peer and bob"
lobby alice wendy bob
pass

step "messages go both ways in the Linux-led lobby"
says alice "hello windows" wendy bob
says wendy "hello linux" alice bob
pass

step "the Linux leader is killed; the Windows peer leads, bob carries on"
crash alice
sees wendy "The leader was lost; you lead the lobby now"
sees bob "The leader was lost; wendy leads the lobby now"
says bob "bob under wendy again" wendy
says wendy "windows leads" bob
pass

step "the Windows leader quits cleanly and hands the lobby to bob"
types wendy /quit
sees bob "wendy handed the lobby to you; you lead it now"
pid=${PID[wendy]}
deadline=$((SECONDS + WAIT))
while running "$pid"; do
  ((SECONDS < deadline)) || fail wendy "wendy did not exit within ${WAIT}s of /quit"
  sleep 0.1
done
status=0
wait "$pid" || status=$?
unset "PID[wendy]"
((status == 0)) || fail wendy "wendy exited with status $status"
pass

echo "== the Windows binaries under Wine: all steps passed"
