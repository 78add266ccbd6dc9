#!/usr/bin/env python3
"""Resident memory of two peers while a member floods their lobby.

Starts the real server and two real peer binaries on 127.0.0.1: alice leads
a lobby, bob is a member of it, and a third member, played over a raw
socket here, sends LINES lines of 900 bytes (60,000 by default, about 54 MB)
as fast as TCP takes them. Nobody reads the peers' standard output once the
lobby runs, as when a terminal is stuck or output goes to a pipe nobody
drains. Prints each peer's resident memory (VmRSS) before the flood and its
peak during it, and how many flood lines each peer's chat log holds.

    cargo build --release --bin server --bin peer
    python3 bench/flood-rss.py target/release 60000
"""
import os
import queue
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

PASSWORD = "flood-pw"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Peer:
    """A peer binary whose output is read only until `stop_reading`."""

    def __init__(self, binary, server, logs, name):
        self.name = name
        self.proc = subprocess.Popen(
            [binary, "--server", server, "--log-dir", logs],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines = queue.Queue()
        self.reading = True
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
            if not self.reading:
                return

    def stop_reading(self):
        self.reading = False

    def types(self, *lines):
        for line in lines:
            self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def sees_all(self, texts, timeout=60):
        missing = list(texts)
        deadline = time.time() + timeout
        while missing:
            line = self.lines.get(timeout=max(0.1, deadline - time.time()))
            missing = [text for text in missing if text not in line]

    def sees(self, text, timeout=60):
        deadline = time.time() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.time()))
            if text in line:
                return line


def registry_line(sock_file, sock, line):
    sock.sendall((line + "\n").encode())
    return sock_file.readline().strip()


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "target/release"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 60000
    server_bin, peer_bin = folder + "/server", folder + "/peer"
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [server_bin, "--bind", "127.0.0.1:0", "--db", tmp + "/r.db"],
            stdout=subprocess.PIPE,
            text=True,
        )
        first = server.stdout.readline()
        addr = re.search(r"listening on (\S+)", first).group(1)
        host, port = addr.rsplit(":", 1)
        logs = tmp + "/logs"

        # The flooder: a registry session, and a chat port of its own.
        chat = socket.socket()
        chat.bind(("127.0.0.1", 0))
        chat.listen(1)
        reg = socket.create_connection((host, int(port)))
        reg_file = reg.makefile()
        registry_line(reg_file, reg, f"REGISTER flood {PASSWORD}")
        registry_line(reg_file, reg, f"JOIN flood {PASSWORD} {chat.getsockname()[1]}")

        alice = Peer(peer_bin, addr, logs, "alice")
        bob = Peer(peer_bin, addr, logs, "bob")
        for peer in (alice, bob):
            peer.types("1", peer.name, PASSWORD, "2", peer.name, PASSWORD)
            peer.sees(f"Joined as {peer.name}")
        alice.types("2", "bob", "Yes", "2", "flood", "Yes", "3")
        bob.sees("Chat request from 'alice'")
        bob.types("OK")
        conn, _ = chat.accept()
        conn_file = conn.makefile()
        conn_file.readline()  # CHAT_REQUEST
        conn.sendall(b"OK\n")
        conn_file.readline()  # MEMBERS
        bob.sees("You are in alice's lobby")
        alice.sees_all(["Peer ('flood') joined the lobby", "Peer ('bob') joined the lobby"])
        # From now on nobody reads either peer's standard output.
        alice.stop_reading()
        bob.stop_reading()
        threading.Thread(target=lambda: conn_file.read(), daemon=True).start()

        pids = {"alice": alice.proc.pid, "bob": bob.proc.pid}
        before = {name: rss_kib(pid) for name, pid in pids.items()}
        peak = dict(before)
        done = threading.Event()

        def sample():
            while not done.is_set():
                for name, pid in pids.items():
                    peak[name] = max(peak[name], rss_kib(pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        line = ("MSG " + "x" * 895 + "\n").encode()
        started = time.time()
        for i in range(count):
            conn.sendall(line)
        sent = time.time() - started
        # The last lines still travel through the hub to bob.
        time.sleep(2)
        done.set()
        sampler.join()
        mib = count * len(line) / 2**20
        print(f"flood: {count} lines, {mib:.1f} MiB, sent in {sent:.1f} s")
        for name in pids:
            grew = (peak[name] - before[name]) / 1024
            print(
                f"{name}: VmRSS {before[name] / 1024:.1f} MiB before, "
                f"peak {peak[name] / 1024:.1f} MiB, grew {grew:.1f} MiB"
            )
        for name in pids:
            folder = os.path.join(logs, name)
            lines = 0
            for file in os.listdir(folder):
                with open(os.path.join(folder, file)) as log:
                    lines += sum(1 for l in log if "[flood] " in l)
            print(f"{name}: {lines} flood lines in the chat log")
        for proc in (alice.proc, bob.proc, server):
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
