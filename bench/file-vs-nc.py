#!/usr/bin/env python3
"""A file sent peer to peer next to `nc` piping the same file, in one run.

Makes a file of SIZE_MIB random MiB (1024 by default) in a temporary
folder, then on 127.0.0.1:

1. `nc` (OpenBSD netcat): a listener writing what it gets to a file, and a
   sender reading the file (`nc -N`), timed from the sender's start to the
   listener's end;
2. p2pchat: the real server and two real peer binaries (TLS, as by
   default; `--plaintext` as a third argument for plain text), alice
   leading a lobby with bob; alice types `/send bob <file>`, bob
   `/accept`, timed from the `/accept` to bob's `Saved` line (the
   recipient's checksum over every byte included; the sender's, done
   before the offer, is not).

Prints each rate, their ratio, and each peer's resident memory (VmRSS in
/proc) before the transfer and its peak during it (sampled every 20 ms).
Checks that both copies match the original.

    cargo build --release --bin server --bin peer
    python3 bench/file-vs-nc.py target/release 1024
"""
import filecmp
import os
import queue
import re
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


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "target/release"
    mib = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    extra = sys.argv[3:]
    base = os.environ.get("BENCH_TMP", "/var/tmp")
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        path = os.path.join(tmp, "big.bin")
        with open(path, "wb") as out:
            for _ in range(mib):
                out.write(os.urandom(1 << 20))
        size = mib << 20
        nc_took = with_nc(path, os.path.join(tmp, "nc.out"))
        assert filecmp.cmp(path, os.path.join(tmp, "nc.out"), shallow=False)
        os.remove(os.path.join(tmp, "nc.out"))
        took, before, peak = with_p2pchat(folder, tmp, path, extra)
        assert filecmp.cmp(path, os.path.join(tmp, "in-bob", "big.bin"), shallow=False)
        mode = "plain text" if "--plaintext" in extra else "TLS"
        nc_rate = size / nc_took / 2**20
        rate = size / took / 2**20
        print(f"file: {mib} MiB on 127.0.0.1, both copies identical to the original")
        print(f"nc: {nc_took:.2f} s, {nc_rate:.0f} MiB/s")
        print(f"p2pchat ({mode}): {took:.2f} s, {rate:.0f} MiB/s, {rate / nc_rate:.2f}x nc")
        for name in before:
            grew = (peak[name] - before[name]) / 1024
            print(
                f"{name}: VmRSS {before[name] / 1024:.1f} MiB before, "
                f"peak {peak[name] / 1024:.1f} MiB, grew {grew:.1f} MiB"
            )


if __name__ == "__main__":
    main()
