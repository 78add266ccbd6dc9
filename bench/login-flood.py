#!/usr/bin/env python3
"""Peak memory of the registry under a flood of concurrent JOIN attempts.

Starts the real server binary on 127.0.0.1 with a fresh database, registers
N users (1,000 by default), then opens N connections and sends one JOIN on
each at once, and prints the server's peak resident memory (VmHWM) before
and after. By default every JOIN has the right password, so every one costs
an argon2id check: this shows that hashing is bounded by the hashing
threads, not by the connections. With `wrong` as a third argument the JOINs
carry wrong passwords, and the per-address throttle answers most of them.

    cargo build --release --bin server
    python3 bench/login-flood.py target/release/server 1000
    python3 bench/login-flood.py target/release/server 1000 wrong
"""
import re
import socket
import subprocess
import sys
import tempfile
import time


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS", "Threads"):
                fields[key] = value.strip()
    return fields


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/server"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    wrong = len(sys.argv) > 3 and sys.argv[3] == "wrong"
    with tempfile.TemporaryDirectory() as folder:
        server = subprocess.Popen(
            [binary, "--bind", "127.0.0.1:0", "--db", folder + "/registry.db"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            found = re.search(r"on (\S+):(\d+) with", server.stdout.readline())
            address = (found.group(1), int(found.group(2)))
            print("idle:       ", memory(server.pid))
            with socket.create_connection(address) as registrar:
                replies = registrar.makefile("rb")
                for i in range(count):
                    registrar.sendall(f"REGISTER user{i} password-{i}\n".encode())
                    replies.readline()
            print(f"{count} users registered:", memory(server.pid))
            connections = [socket.create_connection(address) for _ in range(count)]
            started = time.time()
            for i, connection in enumerate(connections):
                password = f"wrong-{i}" if wrong else f"password-{i}"
                connection.sendall(f"JOIN user{i} {password} 5000\n".encode())
            answers = {}
            for connection in connections:
                words = connection.makefile("rb").readline().decode().split()
                code = words[1] if len(words) > 1 else "EOF"
                answers[code] = answers.get(code, 0) + 1
            took = time.time() - started
            print(f"{count} JOINs answered in {took:.1f} s: {answers}")
            print("after flood:", memory(server.pid))
            for connection in connections:
                connection.close()
        finally:
            server.send_signal(2)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
