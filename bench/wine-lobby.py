#!/usr/bin/env python3
"""Latency and idle CPU of a lobby led by the Windows peer under Wine.

Starts the Linux registry, the Windows `peer.exe` under Wine as the leader
("wendy") and MEMBERS Linux peers as its members, all on 127.0.0.1 and all
driven through piped standard input and output. Then:

- latency: ROUNDS times, the first member says a line and the time until
  each other member prints it is recorded (one sample per receiver), the
  next round starting once all have it; prints the median, p90 and p99;
- idle CPU: with the lobby quiet, the CPU time the leader's process and
  the Wine server use over IDLE seconds, as a share of one core (from
  /proc/PID/stat), beside the wall time.

    cargo build --release --target x86_64-pc-windows-gnu --bin peer
    cargo build --release --bin server --bin peer
    python3 bench/wine-lobby.py target/x86_64-pc-windows-gnu/release target/release

Environment: MEMBERS (10), ROUNDS (300), IDLE (30 seconds); LEADER=linux
runs the same with the Linux peer leading, for comparison on the machine. Wine 8 lacks
`bcryptprimitives.dll`, which Rust's standard library imports: as in
.ci/wine-scenario.sh, a stand-in built here with MinGW from
.ci/bcryptprimitives.c lies beside peer.exe in the scratch directory only.
"""
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "bench-pw"
HERE = os.path.dirname(os.path.abspath(__file__))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def wine_loader():
    for candidate in ("/usr/lib/wine/wine64", shutil.which("wine64"), shutil.which("wine")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    sys.exit("no Wine loader found")


def cpu_seconds(pid):
    """User and system CPU time of `pid` so far, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wineserver_pid(prefix):
    """The pid of the Wine server that runs our prefix, if any."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                if b"wineserver" not in cmdline.read():
                    continue
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if f"WINEPREFIX={prefix}".encode() in environ.read().split(b"\0"):
                    return int(entry)
        except OSError:
            continue
    return None


class Peer:
    """A peer process; every line it prints is kept with the time it came."""

    def __init__(self, name, argv, cwd, env):
        self.name = name
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put((time.monotonic(), line.rstrip("\r\n")))

    def types(self, *lines):
        for line in lines:
            self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def sees(self, text, timeout=60):
        """The time the first line containing `text` came."""
        return self.sees_line(text, timeout)[0]

    def sees_line(self, text, timeout=60):
        """The first line containing `text`, and the time it came."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                sys.exit(f"{self.name} never printed {text!r}")
            try:
                at, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if text in line:
                return at, line

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def percentile(samples, share):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    windows_bin, linux_bin = (os.path.abspath(path) for path in sys.argv[1:])
    members = int(os.environ.get("MEMBERS", "10"))
    rounds = int(os.environ.get("ROUNDS", "300"))
    idle = float(os.environ.get("IDLE", "30"))

    scratch = tempfile.mkdtemp(prefix="wine-lobby-")
    env = dict(
        os.environ,
        WINEPREFIX=os.path.join(scratch, "wineprefix"),
        WINEDEBUG="-all",
        WINEDLLOVERRIDES="mscoree,mshtml=",
    )
    wine = wine_loader()
    peers = []
    try:
        shutil.copy(os.path.join(windows_bin, "peer.exe"), scratch)
        subprocess.run(
            ["x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o",
             os.path.join(scratch, "bcryptprimitives.dll"),
             os.path.join(HERE, "..", ".ci", "bcryptprimitives.c"), "-ladvapi32"],
            check=True,
        )
        subprocess.run([wine, "wineboot", "--init"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        registry = Peer("registry", [os.path.join(linux_bin, "server"), "--bind",
                                     "127.0.0.1:0", "--db", "registry.db"], scratch, env)
        peers.append(registry)
        _, listening = registry.sees_line("Registry listening on ")
        address = listening.split("Registry listening on ", 1)[1].split()[0]

        options = ["--server", address, "--log-dir", "logs"]
        if os.environ.get("LEADER") == "linux":
            leader_argv = [os.path.join(linux_bin, "peer"), *options]
        else:
            leader_argv = [wine, "./peer.exe", *options]
        leader = Peer("wendy", leader_argv, scratch, env)
        peers.append(leader)
        names = [f"m{index}" for index in range(1, members + 1)]
        others = [Peer(name, [os.path.join(linux_bin, "peer"), *options], scratch, env)
                  for name in names]
        peers.extend(others)
        for peer in [leader, *others]:
            peer.sees("press '1' for registration")
            peer.types("1", peer.name, PASSWORD)
            peer.sees("The registration process is successful")
            peer.types("2", peer.name, PASSWORD)
            peer.sees("Press '1' for 'Online User List'")
        for name in names:
            leader.types("2", name, "Yes")
            leader.sees(f"Added {name} ")
        leader.types("3")
        for peer in others:
            peer.sees("Chat request from 'wendy'")
            peer.types("OK")
            peer.sees("You are in wendy's lobby with")

        sender, receivers = others[0], others[1:]
        samples = []
        for round_ in range(rounds):
            text = f"ping {round_}"
            sent = time.monotonic()
            sender.types(text)
            for peer in receivers:
                samples.append((peer.sees(f"[{sender.name}] {text}") - sent) * 1000)
        print(f"latency, {len(samples)} deliveries ({rounds} lines to {len(receivers)} "
              f"members): median {statistics.median(samples):.2f} ms, "
              f"p90 {percentile(samples, 0.9):.2f} ms, p99 {percentile(samples, 0.99):.2f} ms")

        server = None if os.environ.get("LEADER") == "linux" else wineserver_pid(env["WINEPREFIX"])
        watched = [("leader", leader.proc.pid)]
        if server is not None:
            watched.append(("wineserver", server))
        before = [cpu_seconds(pid) for _, pid in watched]
        start = time.monotonic()
        time.sleep(idle)
        wall = time.monotonic() - start
        for (what, pid), used in zip(watched, before):
            spent = cpu_seconds(pid) - used
            print(f"idle {wall:.0f} s with {members} members: {what} used "
                  f"{spent:.2f} s CPU ({100 * spent / wall:.2f} % of a core)")
    finally:
        for peer in reversed(peers):
            peer.stop()
        subprocess.run([os.path.join(os.path.dirname(wine), "wineserver"), "-k"],
                       env=env, stderr=subprocess.DEVNULL)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
