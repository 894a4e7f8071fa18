#!/usr/bin/env python3
"""Resident memory per key, redislab against redis-server, one row per value type and size.

`../shared/bench/compare.sh` measures two rows (1M short strings, 100k 10-field hashes); this
adds the others a representation could be tuned away from: 1 KB strings, integer strings,
small sets (strings and integers), small sorted sets, short lists, one long list, and hashes,
sets and sorted sets large enough to be hash tables (1,000 fields or members each). Each row
loads a fresh server of each kind with `redis-cli --pipe` and reads VmRSS from /proc before and
one second after loading:

    bytes/key = (VmRSS loaded - VmRSS idle) / keys

Usage (from the repository root, after `cargo build --release`):
    benches/memory.py [--bin target/release/redislab] [--scale 1.0] [--rows strings,lists]

Loopback only, on free ports; the servers it starts are stopped by PID however it exits.
Prints a Markdown table; the ratio is redislab / redis-server (lower is better for redislab).
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from benchlib import free_port, resp


def rows(scale):
    """(label, keys, generator of commands) for every row."""
    n = lambda count: max(1, int(count * scale))

    def strings(keys, size):
        value = b"v" * size
        for i in range(keys):
            yield resp(b"SET", b"key:%012d" % i, value)

    def int_strings(keys):
        for i in range(keys):
            yield resp(b"SET", b"counter:%012d" % i, 1_000_000 + i)

    def hashes(keys, fields):
        for i in range(keys):
            args = [b"HSET", b"hash:%012d" % i]
            for f in range(fields):
                args += [b"field:%010d" % f, b"value:%010d" % f]
            yield resp(*args)

    def sets(keys, members, integers):
        for i in range(keys):
            if integers:
                items = [str(i * members + m).encode() for m in range(members)]
            else:
                items = [b"member:%09d" % m for m in range(members)]
            yield resp(b"SADD", b"set:%012d" % i, *items)

    def big(command, prefix, keys, items, pairs):
        """Keys of `items` fields (pairs) or members each, 100 per command."""
        for i in range(keys):
            for start in range(0, items, 100):
                args = [command, b"%s:%012d" % (prefix, i)]
                for f in range(start, min(start + 100, items)):
                    args.append(b"field:%010d" % f)
                    if pairs:
                        args.append(b"value:%010d" % f)
                yield resp(*args)

    def big_zsets(keys, members):
        """Keys of `members` members each, 100 per ZADD."""
        for i in range(keys):
            for start in range(0, members, 100):
                args = [b"ZADD", b"bigzset:%012d" % i]
                for m in range(start, min(start + 100, members)):
                    args += [str(m * 1.5).encode(), b"member:%09d" % m]
                yield resp(*args)

    def zsets(keys, members):
        for i in range(keys):
            args = [b"ZADD", b"zset:%012d" % i]
            for m in range(members):
                args += [str(m * 1.5).encode(), b"member:%09d" % m]
            yield resp(*args)

    def lists(keys, elements):
        for i in range(keys):
            yield resp(b"RPUSH", b"list:%012d" % i, *[b"element:%07d" % e for e in range(elements)])

    def long_list(elements):
        batch = 1000
        for start in range(0, elements, batch):
            items = [b"element:%09d" % e for e in range(start, min(start + batch, elements))]
            yield resp(b"RPUSH", b"biglist", *items)

    return {
        "strings": ("strings, 32-byte values", n(1_000_000), lambda k: strings(k, 32)),
        "big-strings": ("strings, 1 KB values", n(100_000), lambda k: strings(k, 1024)),
        "int-strings": ("strings holding integers", n(1_000_000), int_strings),
        "hashes": ("hashes, 10 fields of 16 bytes", n(100_000), lambda k: hashes(k, 10)),
        "sets": ("sets, 10 string members", n(100_000), lambda k: sets(k, 10, False)),
        "int-sets": ("sets, 10 integer members", n(100_000), lambda k: sets(k, 10, True)),
        "zsets": ("sorted sets, 10 members", n(100_000), lambda k: zsets(k, 10)),
        "lists": ("lists, 10 elements of 15 bytes", n(100_000), lambda k: lists(k, 10)),
        "long-list": ("one list, per element (17 bytes)", n(1_000_000), long_list),
        "big-hashes": (
            "hashes, 1,000 fields of 16 bytes",
            n(1_000),
            lambda k: big(b"HSET", b"bighash", k, 1000, True),
        ),
        "big-sets": (
            "sets, 1,000 members of 16 bytes",
            n(1_000),
            lambda k: big(b"SADD", b"bigset", k, 1000, False),
        ),
        "big-zsets": (
            "sorted sets, 1,000 members of 16 bytes",
            n(1_000),
            lambda k: big_zsets(k, 1000),
        ),
    }


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def wait_ping(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def measure(command, commands_file, keys, workdir):
    port = free_port()
    argv = [a.replace("{port}", str(port)) for a in command]
    proc = subprocess.Popen(argv, cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_ping(port):
            raise RuntimeError(f"{argv[0]} did not answer PING on port {port}")
        idle = rss_kb(proc.pid)
        with open(commands_file, "rb") as f:
            load = subprocess.run(
                ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--pipe"],
                stdin=f, capture_output=True, timeout=600,
            )
        if b"errors: 0" not in load.stdout:
            raise RuntimeError(f"loading failed: {load.stdout[-300:]!r} {load.stderr[-300:]!r}")
        time.sleep(1)
        loaded = rss_kb(proc.pid)
        return (loaded - idle) * 1024 / keys, loaded / 1024
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin", default="target/release/redislab")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every key count")
    parser.add_argument("--rows", default="all", help="comma-separated row names, or all")
    opts = parser.parse_args()
    for tool in ("redis-server", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"memory.py: {tool} is not installed")
    if not os.access(opts.bin, os.X_OK):
        sys.exit(f"memory.py: {opts.bin} is not an executable (cargo build --release first)")
    table = rows(opts.scale)
    wanted = list(table) if opts.rows == "all" else opts.rows.split(",")
    unknown = [w for w in wanted if w not in table]
    if unknown:
        sys.exit(f"memory.py: unknown rows {unknown}; rows are {', '.join(table)}")
    common = ["--port", "{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    sides = [
        ("redislab", [os.path.abspath(opts.bin), "server"] + common),
        ("redis-server", ["redis-server"] + common + ["--daemonize", "no"]),
    ]
    print(f"- load average at start: {os.getloadavg()}")
    print("| row | keys | redislab B/key | redis-server B/key | ratio | redislab RSS MiB | redis-server RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="redislab-memory-") as work:
        for name in wanted:
            label, keys, generate = table[name]
            commands = os.path.join(work, f"{name}.resp")
            with open(commands, "wb") as f:
                for command in generate(keys):
                    f.write(command)
            results = {}
            for side, command in sides:
                results[side] = measure(command, commands, keys, work)
            ours, theirs = results["redislab"], results["redis-server"]
            ratio = ours[0] / theirs[0] if theirs[0] > 0 else float("nan")
            print(f"| {label} | {keys:,} | {ours[0]:.1f} | {theirs[0]:.1f} | {ratio:.2f} "
                  f"| {ours[1]:.1f} | {theirs[1]:.1f} |", flush=True)
            os.remove(commands)
    print(f"- load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
