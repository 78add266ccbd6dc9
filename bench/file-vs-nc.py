#!/usr/bin/env python3
"""A file sent peer to peer next to `nc` piping the same file, several times.

Makes a file of SIZE_MIB random MiB (1024 by default) in a temporary
folder, then on 127.0.0.1, RUNS times (5 by default, at most 20), one
after the other:

1. `nc` (OpenBSD netcat): a listener writing what it gets to a file, and a
   sender reading the file (`nc -N`), timed from the sender's start to the
   listener's end;
2. p2pchat: the real server and two real peer binaries (TLS, as by
   default; `--plaintext` for plain text), fresh each run, alice leading a
   lobby with bob; alice types `/send bob <file>`, bob `/accept`, timed
   from the `/accept` to bob's `Saved` line (the recipient's checksum over
   every byte and its fsync included; the sender's, done before the offer,
   is not).

Since the machine may be shared, `nc` and p2pchat alternate, and each run
gives the ratio of the two rates measured next to each other. Prints each
run (the rates, their ratio, the load average, each peer's resident memory
growth: VmRSS in /proc, sampled every 20 ms from just before the `/accept`
to the end), then the median ratio and its range. Checks that every copy
matches the original.

    cargo build --release --bin server --bin peer
    python3 bench/file-vs-nc.py target/release 1024 --runs 5
    python3 bench/file-vs-nc.py target/release 1024 --runs 2 --plaintext
"""
import filecmp
import os
import queue
import re
import statistics
import socket
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "file-pw"


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Peer:
    """A peer binary whose every output line is queued."""

    def __init__(self, binary, server, tmp, name, extra):
        self.name = name
        self.proc = subprocess.Popen(
            [
                binary,
                "--server",
                server,
                "--log-dir",
                f"{tmp}/logs",
                "--data-dir",
                f"{tmp}/data-{name}",
                "--download-dir",
                f"{tmp}/in-{name}",
                *extra,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def types(self, *lines):
        for line in lines:
            self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def sees(self, text, timeout=600):
        deadline = time.time() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.time()))
            if text in line:
                return line


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_nc(path, out):
    port = free_port()
    with open(out, "wb") as sink:
        listener = subprocess.Popen(["nc", "-l", "127.0.0.1", str(port)], stdout=sink)
        # The listener is up once its port takes no other bind.
        while True:
            try:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
                time.sleep(0.01)
            except OSError:
                break
        started = time.time()
        with open(path, "rb") as source:
            subprocess.run(["nc", "-N", "127.0.0.1", str(port)], stdin=source, check=True)
        listener.wait()
        return time.time() - started


def with_p2pchat(folder, tmp, path, extra):
    server = subprocess.Popen(
        [folder + "/server", "--bind", "127.0.0.1:0", "--db", tmp + "/r.db", *extra],
        stdout=subprocess.PIPE,
        text=True,
    )
    addr = re.search(r"listening on (\S+)", server.stdout.readline()).group(1)
    alice = Peer(folder + "/peer", addr, tmp, "alice", extra)
    bob = Peer(folder + "/peer", addr, tmp, "bob", extra)
    try:
        for peer in (alice, bob):
            peer.types("1", peer.name, PASSWORD, "2", peer.name, PASSWORD)
            peer.sees(f"Joined as {peer.name}")
        alice.types("2", "bob", "Yes", "3")
        bob.sees("Chat request from 'alice'")
        bob.types("OK")
        bob.sees("You are in alice's lobby")
        alice.types(f"/send bob {path}")
        bob.sees("alice offers ")
        pids = {"alice": alice.proc.pid, "bob": bob.proc.pid}
        before = {name: rss_kib(pid) for name, pid in pids.items()}
        peak = dict(before)
        done = threading.Event()

        def sample():
            while not done.is_set():
                for name, pid in pids.items():
                    peak[name] = max(peak[name], rss_kib(pid))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.time()
        bob.types("/accept")
        bob.sees("Saved ")
        took = time.time() - started
        done.set()
        sampler.join()
        return took, before, peak
    finally:
        for proc in (alice.proc, bob.proc, server):
            proc.kill()
            proc.wait()


MAX_RUNS = 20


def parse_args(argv):
    folder = argv[1] if len(argv) > 1 else "target/release"
    mib = int(argv[2]) if len(argv) > 2 else 1024
    extra = argv[3:]
    runs = 5
    if "--runs" in extra:
        at = extra.index("--runs")
        runs = int(extra[at + 1])
        del extra[at : at + 2]
    if not 1 <= runs <= MAX_RUNS:
        sys.exit(f"--runs takes 1 to {MAX_RUNS}")
    return folder, mib, extra, runs


def one_run(folder, tmp, path, extra, run):
    """One `nc` transfer, then one p2pchat transfer: the figures of both."""
    size = os.path.getsize(path)
    load = os.getloadavg()[0]
    copy = os.path.join(tmp, "nc.out")
    nc_took = with_nc(path, copy)
    assert filecmp.cmp(path, copy, shallow=False)
    os.remove(copy)
    here = os.path.join(tmp, f"run{run}")
    os.mkdir(here)
    took, before, peak = with_p2pchat(folder, here, path, extra)
    saved = os.path.join(here, "in-bob", "big.bin")
    assert filecmp.cmp(path, saved, shallow=False)
    os.remove(saved)
    nc_rate = size / nc_took / 2**20
    rate = size / took / 2**20
    grew = {name: (peak[name] - before[name]) / 1024 for name in before}
    print(
        f"run {run}: load {load:.1f}, nc {nc_took:.2f} s {nc_rate:.0f} MiB/s, "
        f"p2pchat {took:.2f} s {rate:.0f} MiB/s, {rate / nc_rate:.2f}x nc, "
        + ", ".join(
            f"{name} VmRSS {before[name] / 1024:.1f} MiB grew {grew[name]:.1f} MiB"
            for name in before
        ),
        flush=True,
    )
    return rate / nc_rate, grew


def main():
    folder, mib, extra, runs = parse_args(sys.argv)
    base = os.environ.get("BENCH_TMP", "/var/tmp")
    mode = "plain text" if "--plaintext" in extra else "TLS"
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        path = os.path.join(tmp, "big.bin")
        with open(path, "wb") as out:
            for _ in range(mib):
                out.write(os.urandom(1 << 20))
        print(f"file: {mib} MiB on 127.0.0.1, p2pchat over {mode}, {runs} runs", flush=True)
        ratios, grew = [], []
        for run in range(1, runs + 1):
            ratio, grown = one_run(folder, tmp, path, extra, run)
            ratios.append(ratio)
            grew.extend(grown.values())
        print("every copy identical to the original")
        print(
            f"median {statistics.median(ratios):.2f}x nc "
            f"({min(ratios):.2f}x to {max(ratios):.2f}x), "
            f"VmRSS grew at most {max(grew):.1f} MiB"
        )


if __name__ == "__main__":
    main()
