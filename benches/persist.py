#!/usr/bin/env python3
"""RDB save and load time and full-sync time for 1M keys, redislab against redis-server.

For each side (a redislab and a redis-server, same flags), in rounds taken in turn:

- **save**: a fresh server is loaded with the keys (`redis-cli --pipe`), then `SAVE` is timed
  (the synchronous save, so the time is the save's own, not a fork's);
- **load**: a new server is started on that RDB file and timed from its start until it answers
  `PING` with `+PONG` (a server still loading answers `-LOADING`); the start of an empty
  server is measured the same way and shown beside it, and `DBSIZE` is checked;
- **full sync**: a fresh replica of the same kind is told `REPLICAOF` the loaded server and
  timed until `INFO replication` shows `master_link_status:up` and its `DBSIZE` matches,
  with the master's diskless sync (Redis 7.0's default) and without it, and
  `repl-diskless-sync-delay 0` so that the delay does not count. The mixed pairs (a redis-server
  replica of redislab, a redislab replica of redis-server) are timed too, as a check of the
  wire format; they are not part of the comparison.

Usage (from the repository root, after `cargo build --release`):
    benches/persist.py [--bin target/release/redislab] [--keys 1000000] [--rounds 3]
                       [--kind strings|hashes]

Loopback only, on free ports, in a temporary directory; the servers it starts are stopped by
PID however it exits. Prints a Markdown table of medians; the ratio is redislab / redis-server
(lower is better for redislab).
"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import free_port, resp

COMMON = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
          "--repl-diskless-sync-delay", "0"]


def dataset(kind, keys):
    """The commands that write the keys: 32-byte strings (compare.sh's memory row) or
    10-field hashes."""
    if kind == "strings":
        value = b"v" * 32
        for i in range(keys):
            yield resp(b"SET", b"key:%012d" % i, value)
    else:
        for i in range(keys):
            args = [b"HSET", b"hash:%012d" % i]
            for f in range(10):
                args += [b"field:%010d" % f, b"value:%010d" % f]
            yield resp(*args)


class Client:
    """A minimal RESP client: enough for PING, INFO, DBSIZE, SAVE, REPLICAOF."""

    def __init__(self, port, timeout=600.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def call(self, *args):
        self.sock.sendall(resp(*args))
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return line.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("connection closed")
                self.buf += chunk
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode(errors="replace")
        raise RuntimeError(f"unexpected reply {line!r}")


class Server:
    """One server process on a free port in its own directory."""

    def __init__(self, argv, workdir, extra=()):
        self.port = free_port()
        os.makedirs(workdir, exist_ok=True)
        self.argv = list(argv) + ["--port", str(self.port), "--dir", workdir] + COMMON + list(extra)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.argv, cwd=workdir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def wait_pong(self, deadline=600.0):
        """Seconds from the start until PING answers +PONG (not -LOADING)."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.002)
        raise RuntimeError(f"{self.argv[0]} did not answer PING within {deadline} s")

    def client(self):
        return Client(self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


def load(server, commands_file, keys):
    with open(commands_file, "rb") as f:
        out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--pipe"],
                             stdin=f, capture_output=True, timeout=900)
    if b"errors: 0" not in out.stdout:
        raise RuntimeError(f"loading failed: {out.stdout[-300:]!r} {out.stderr[-300:]!r}")
    c = server.client()
    size = c.call("DBSIZE")
    c.close()
    if size != keys:
        raise RuntimeError(f"DBSIZE {size} after loading {keys} keys")


def timed_save(server):
    c = server.client()
    start = time.monotonic()
    reply = c.call("SAVE")
    took = time.monotonic() - start
    c.close()
    if reply != "+OK":
        raise RuntimeError(f"SAVE answered {reply}")
    return took


def timed_full_sync(master, replica, keys, deadline=600.0):
    """Seconds from REPLICAOF until the replica's link is up with every key."""
    c = replica.client()
    start = time.monotonic()
    reply = c.call("REPLICAOF", "127.0.0.1", master.port)
    if reply != "+OK":
        raise RuntimeError(f"REPLICAOF answered {reply}")
    end = start + deadline
    while time.monotonic() < end:
        info = c.call("INFO", "replication") or ""
        if "master_link_status:up" in info and c.call("DBSIZE") == keys:
            took = time.monotonic() - start
            c.close()
            return took
        time.sleep(0.005)
    raise RuntimeError(f"the replica did not finish its full sync within {deadline} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="target/release/redislab")
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kind", choices=["strings", "hashes"], default="strings")
    opts = parser.parse_args()
    for tool in ("redis-server", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"persist.py: {tool} is not installed")
    if not os.access(opts.bin, os.X_OK):
        sys.exit(f"persist.py: {opts.bin} is not an executable (cargo build --release first)")
    sides = {
        "redislab": [os.path.abspath(opts.bin), "server"],
        "redis-server": ["redis-server", "--daemonize", "no"],
    }
    rows = {}  # (measure, side) -> [seconds per round]
    sizes = {}

    def record(measure, side, seconds):
        rows.setdefault((measure, side), []).append(seconds)

    print(f"- {opts.keys:,} keys ({opts.kind}), {opts.rounds} rounds per side taken in turn; "
          f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    running = []
    try:
        with tempfile.TemporaryDirectory(prefix="redislab-persist-") as work:
            commands = os.path.join(work, "data.resp")
            with open(commands, "wb") as f:
                for command in dataset(opts.kind, opts.keys):
                    f.write(command)
            for r in range(opts.rounds):
                masters = {}
                for side, argv in sides.items():
                    print(f"  round {r + 1}: {side}", file=sys.stderr, flush=True)
                    base = os.path.join(work, f"{side}-{r}")
                    empty = Server(argv, os.path.join(base, "empty"))
                    running.append(empty)
                    record("start, empty", side, empty.wait_pong())
                    empty.stop()
                    first = Server(argv, os.path.join(base, "data"))
                    running.append(first)
                    first.wait_pong()
                    load(first, commands, opts.keys)
                    record("SAVE", side, timed_save(first))
                    sizes[side] = os.path.getsize(os.path.join(base, "data", "dump.rdb"))
                    first.stop()
                    # The same file, loaded by a new process of the same kind.
                    again = Server(argv, os.path.join(base, "data"))
                    running.append(again)
                    record("start, loading the RDB", side, again.wait_pong())
                    c = again.client()
                    if c.call("DBSIZE") != opts.keys:
                        raise RuntimeError(f"{side} loaded the wrong number of keys")
                    c.close()
                    masters[side] = again
                for master_side, master in masters.items():
                    for replica_side, argv in sides.items():
                        for diskless in ("yes", "no"):
                            c = master.client()
                            c.call("CONFIG", "SET", "repl-diskless-sync", diskless)
                            c.close()
                            replica = Server(argv, os.path.join(
                                work, f"replica-{r}-{master_side}-{replica_side}-{diskless}"))
                            running.append(replica)
                            replica.wait_pong()
                            took = timed_full_sync(master, replica, opts.keys)
                            replica.stop()
                            how = "diskless" if diskless == "yes" else "disk"
                            if master_side == replica_side:
                                record(f"full sync ({how})", master_side, took)
                            else:
                                record(f"full sync ({how}), {master_side} master to "
                                       f"{replica_side} replica", "mixed", took)
                for master in masters.values():
                    master.stop()
    finally:
        for server in running:
            server.stop()

    print()
    print("| measure | redislab s | redis-server s | ratio | per-round redislab / redis-server |")
    print("|---|---:|---:|---:|---|")
    measures = []
    for (measure, _side) in rows:
        if measure not in measures:
            measures.append(measure)
    for measure in measures:
        ours, theirs = rows.get((measure, "redislab")), rows.get((measure, "redis-server"))
        if ours and theirs:
            a, b = statistics.median(ours), statistics.median(theirs)
            rounds = ", ".join(f"{x:.3f}/{y:.3f}" for x, y in zip(ours, theirs))
            print(f"| {measure} | {a:.3f} | {b:.3f} | {a / b:.2f} | {rounds} |")
    for (measure, side), values in rows.items():
        if side == "mixed":
            rounds = ", ".join(f"{x:.3f}" for x in values)
            print(f"| {measure} | | | | {rounds} (median {statistics.median(values):.3f}) |")
    print()
    print(f"- RDB file: redislab {sizes.get('redislab', 0):,} bytes, "
          f"redis-server {sizes.get('redis-server', 0):,} bytes")
    print(f"- load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
