#!/usr/bin/env python3
"""Captures Redis 7.0's `COMMAND DOCS` into src/cmd/docs/redis-7.0-command-docs.resp.

redislab serves these docs (src/cmd/docs.rs) for the commands its table implements, so that
`help set` works in redis-cli and `redislab cli`. The file is the RESP3 map redis-server sends
for `COMMAND DOCS` (after `HELLO 3`), re-encoded with the commands sorted by name so that a
regeneration diffs cleanly. It holds every Redis 7.0 command: redislab filters at run time, so
a command added to its table later finds its docs without running this again.

Usage (needs redis-server 7.0.x; it is started on a free loopback port and stopped):

    python3 tools/capture-command-docs.py [path/to/redis-server]
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

OUT = os.path.join(os.path.dirname(__file__), "..", "src", "cmd", "docs", "redis-7.0-command-docs.resp")


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def frame(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":", b",", b"#", b"(", b"_"):
            return (kind, rest)
        if kind in (b"$", b"=", b"!"):
            return (kind, self.exact(int(rest)))
        if kind in (b"*", b"~", b">"):
            return (kind, [self.frame() for _ in range(int(rest))])
        if kind == b"%":
            return (kind, [(self.frame(), self.frame()) for _ in range(int(rest))])
        raise ValueError(f"unexpected RESP type {kind!r}")


def encode(frame):
    kind, value = frame
    if kind in (b"+", b"-", b":", b",", b"#", b"(", b"_"):
        return kind + value + b"\r\n"
    if kind in (b"$", b"=", b"!"):
        return kind + str(len(value)).encode() + b"\r\n" + value + b"\r\n"
    if kind in (b"*", b"~", b">"):
        return kind + str(len(value)).encode() + b"\r\n" + b"".join(encode(f) for f in value)
    if kind == b"%":
        return kind + str(len(value)).encode() + b"\r\n" + b"".join(encode(k) + encode(v) for k, v in value)
    raise ValueError(kind)


def main():
    server = sys.argv[1] if len(sys.argv) > 1 else "redis-server"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                sys.exit(f"{server} did not start on port {port}")
            reader = Reader(sock)
            sock.sendall(b"HELLO 3\r\n")
            hello = dict((k[1], v[1]) for k, v in reader.frame()[1])
            version = hello[b"version"].decode()
            if not version.startswith("7.0."):
                sys.exit(f"{server} is Redis {version}; the docs must come from Redis 7.0")
            sock.sendall(b"COMMAND DOCS\r\n")
            kind, docs = reader.frame()
            assert kind == b"%", kind
            docs.sort(key=lambda pair: pair[0][1])
            with open(OUT, "wb") as out:
                out.write(encode((kind, docs)))
            print(f"{len(docs)} commands from Redis {version} -> {os.path.normpath(OUT)}")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
