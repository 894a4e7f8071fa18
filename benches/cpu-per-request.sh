#!/usr/bin/env bash
# cpu-per-request.sh: the server's own CPU time per request (user and system, from
# /proc/<pid>/stat), redislab against redis-server, for one redis-benchmark workload.
#
# Throughput on a 2-core machine mixes the server's cost with the benchmark client's and with
# whatever else runs; the CPU a server spends per request does not, so an A/B of a small change
# to the command path reads better here than in compare.sh. Each side gets a fresh server, a
# warm-up, then ROUNDS runs of N requests; every round prints user and system nanoseconds per
# request. The clock tick is 10 ms, so N should make a round last a second or more.
#
# Usage (from the repository root, after `cargo build --release`):
#   benches/cpu-per-request.sh TEST [PIPELINE] [N] [ROUNDS]     e.g. lpush 16 2000000 3
# BIN=path/to/redislab overrides the candidate binary. Loopback only, free ports; the servers it
# starts are stopped by PID however it exits.

set -euo pipefail

TEST=${1:?usage: $0 TEST [PIPELINE] [N] [ROUNDS]}
PIPELINE=${2:-16}
N=${3:-2000000}
ROUNDS=${4:-3}
BIN=${BIN:-target/release/redislab}
TICKS=$(getconf CLK_TCK)

for tool in redis-server redis-benchmark redis-cli python3; do
    command -v "$tool" >/dev/null || { echo "cpu-per-request.sh: $tool is not installed" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "cpu-per-request.sh: $BIN is not an executable (cargo build --release first)" >&2; exit 2; }

SERVER=""
cleanup() { if [ -n "$SERVER" ]; then kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }

for side in redislab redis-server; do
    port=$(free_port)
    common=(--port "$port" --bind 127.0.0.1 --save "" --appendonly no)
    if [ "$side" = redislab ]; then
        "$BIN" server "${common[@]}" >/dev/null 2>&1 &
    else
        redis-server "${common[@]}" --daemonize no >/dev/null 2>&1 &
    fi
    SERVER=$!
    for _ in $(seq 100); do
        redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
        sleep 0.05
    done
    redis-benchmark -p "$port" -q -n 200000 -r 100000 -c 50 -P "$PIPELINE" -t "$TEST" >/dev/null
    line="$TEST -P $PIPELINE, $side, ns per request:"
    for _ in $(seq "$ROUNDS"); do
        read -r user1 sys1 < <(cpu_ticks "$SERVER")
        redis-benchmark -p "$port" -q -n "$N" -r 100000 -c 50 -P "$PIPELINE" -t "$TEST" >/dev/null
        read -r user2 sys2 < <(cpu_ticks "$SERVER")
        user=$(( (user2 - user1) * 1000000000 / TICKS / N ))
        sys=$(( (sys2 - sys1) * 1000000000 / TICKS / N ))
        line="$line  user $user sys $sys"
    done
    echo "$line"
    cleanup
    SERVER=""
done
