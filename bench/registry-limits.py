#!/usr/bin/env python3
"""The figures issue 17 asks for, against the real server binary on
127.0.0.1 with a fresh database each time. Every loop is bounded in count
and in time.

    python3 bench/registry-limits.py invites  SERVER [COUNT]   # 400000
    python3 bench/registry-limits.py join-latency SERVER [CONNS] [SECS] [-- server options]
    python3 bench/registry-limits.py register-rate SERVER [CONNS] [SECS] [-- server options]

invites:       one joined connection sends COUNT `INVITE bob`, pipelined;
               prints the server's resident memory before and after.
join-latency:  CONNS connections loop REGISTER (fresh names) for SECS while
               one client JOINs again and again; prints the JOIN latencies
               (median, p90, max) with and without the flood.
register-rate: CONNS connections REGISTER fresh names for SECS; prints the
               accounts made per second.

Extra options after `--` go to the server (e.g. --max-registrations 1000000
to take the per-address limit out of a rate measurement).
"""
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "bench-pw-1"


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "Threads"):
                fields[key] = value.strip()
    return fields


class Server:
    def __init__(self, binary, extra):
        self.folder = tempfile.TemporaryDirectory()
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1:0", "--db", self.folder.name + "/registry.db"]
            + extra,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        found = re.search(r"on (\S+):(\d+) with", self.process.stdout.readline())
        self.address = (found.group(1), int(found.group(2)))
        # Keep reading the log so that its pipe never fills.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.folder.cleanup()


class Client:
    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=60)
        self.lines = self.sock.makefile("rb")

    def ask(self, line):
        self.sock.sendall((line + "\n").encode())
        return self.lines.readline().decode().rstrip("\r\n")

    def close(self):
        self.sock.close()


def invites(binary, count, extra):
    server = Server(binary, extra)
    try:
        alice = Client(server.address)
        for name in ("alice", "bob"):
            assert alice.ask(f"REGISTER {name} {PASSWORD}").startswith("OK REGISTERED")
        bob = Client(server.address)
        assert bob.ask(f"JOIN bob {PASSWORD} 5001").startswith("OK JOINED")
        assert alice.ask(f"JOIN alice {PASSWORD} 5000").startswith("OK JOINED")
        print("before:", memory(server.process.pid))
        started = time.monotonic()
        chunk = 1000
        sent = 0
        answers = {}
        while sent < count and time.monotonic() - started < 600:
            n = min(chunk, count - sent)
            alice.sock.sendall(b"INVITE bob\n" * n)
            for _ in range(n):
                reply = alice.lines.readline().decode().split(" ")[:2]
                answers[" ".join(reply)] = answers.get(" ".join(reply), 0) + 1
            sent += n
            if sent % 50000 == 0:
                assert bob.ask("HELLO") == "OK HELLO"
                assert alice.ask("HELLO") == "OK HELLO"
        elapsed = time.monotonic() - started
        print(f"sent {sent} INVITEs in {elapsed:.1f} s; replies {answers}")
        print("after: ", memory(server.process.pid))
    finally:
        server.stop()


def flood(address, prefix, stop, made):
    client = Client(address)
    i = 0
    while not stop.is_set():
        reply = client.ask(f"REGISTER {prefix}_{i} {PASSWORD}")
        if reply.startswith("OK REGISTERED"):
            made.append(1)
        i += 1
    client.close()


def latencies(address, seconds):
    times = []
    started = time.monotonic()
    while time.monotonic() - started < seconds and len(times) < 1000:
        client = Client(address)
        t = time.monotonic()
        reply = client.ask(f"JOIN joiner {PASSWORD} 5000")
        times.append(time.monotonic() - t)
        assert reply.startswith("OK JOINED"), reply
        client.close()
    return times


def describe(times):
    times = sorted(times)
    return (
        f"n={len(times)} median={statistics.median(times) * 1000:.0f} ms "
        f"p90={times[int(len(times) * 0.9)] * 1000:.0f} ms max={times[-1] * 1000:.0f} ms"
    )


def join_latency(binary, conns, seconds, extra):
    server = Server(binary, extra)
    try:
        setup = Client(server.address)
        assert setup.ask(f"REGISTER joiner {PASSWORD}").startswith("OK REGISTERED")
        setup.close()
        print("JOIN alone:      ", describe(latencies(server.address, 3)))
        # The flood runs in a process of its own, so that its 40 threads do
        # not hold up the measuring one (Python's global lock).
        host, port = server.address
        flooder = subprocess.Popen(
            [sys.executable, __file__, "flood", host, str(port), str(conns), str(seconds + 1)],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(0.5)
        try:
            print(f"JOIN, {conns} flood:", describe(latencies(server.address, seconds)))
        finally:
            out, _ = flooder.communicate(timeout=120)
        print(f"accounts the flood made: {out.strip()}")
    finally:
        server.stop()


def register_rate(binary, conns, seconds, extra):
    server = Server(binary, extra)
    try:
        stop = threading.Event()
        made = []
        threads = [
            threading.Thread(target=flood, args=(server.address, f"r{c}", stop, made))
            for c in range(conns)
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        elapsed = time.monotonic() - started
        print(f"{len(made)} accounts in {elapsed:.1f} s: {len(made) / elapsed:.1f} per second")
    finally:
        server.stop()


def main():
    args = sys.argv[1:]
    extra = []
    if "--" in args:
        extra = args[args.index("--") + 1 :]
        args = args[: args.index("--")]
    what, binary, rest = args[0], args[1] if len(args) > 1 else "", args[2:]
    if what == "flood":
        # Internal: the REGISTER flood of join-latency, in its own process.
        address = (args[1], int(args[2]))
        stop = threading.Event()
        made = []
        threads = [
            threading.Thread(target=flood, args=(address, f"f{c}", stop, made))
            for c in range(int(args[3]))
        ]
        for t in threads:
            t.start()
        time.sleep(float(args[4]))
        stop.set()
        for t in threads:
            t.join(timeout=60)
        print(len(made))
        return
    if what == "invites":
        invites(binary, int(rest[0]) if rest else 400_000, extra)
    elif what == "join-latency":
        join_latency(
            binary,
            int(rest[0]) if rest else 40,
            float(rest[1]) if len(rest) > 1 else 5,
            extra,
        )
    elif what == "register-rate":
        register_rate(
            binary,
            int(rest[0]) if rest else 4,
            float(rest[1]) if len(rest) > 1 else 10,
            extra,
        )
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
