#!/usr/bin/env bash
# cluster-compare.sh: redis-benchmark --cluster against a six-node redislab cluster and a
# six-node redis-server cluster, side by side in one run, with the same flags.
#
# Both clusters are built the same way (three masters, one replica each, by
# `redis-cli --cluster create`), on free loopback ports whose bus ports (+10000) are free
# too, in a temp dir. For each pipeline depth the two sides take turns, ROUNDS times, and the
# median requests per second of each side is reported with the ratio redislab/redis, then the
# load average. redis-benchmark's error lines (MOVED it could not follow, CLUSTERDOWN, ERR)
# fail the run: against either side it must run clean.
#
# Usage: benches/cluster-compare.sh [-n REQUESTS] [-t TESTS] [-P "1 16"] [-r ROUNDS]
# Needs target/release/redislab (`cargo build --release`), redis-server, redis-cli and
# redis-benchmark on PATH, python3 (to find free ports). Every process it starts is stopped by
# PID when it exits, however it exits.

set -uo pipefail

REQUESTS=200000
TESTS=set,get
PIPELINES="1 16"
ROUNDS=3
CLIENTS=50
REDISLAB=${REDISLAB:-target/release/redislab}

while (($# > 0)); do
  case $1 in
    -n) REQUESTS=$2; shift 2 ;;
    -t) TESTS=$2; shift 2 ;;
    -P) PIPELINES=$2; shift 2 ;;
    -r) ROUNDS=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "cluster-compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "cluster-compare.sh: $*" >&2; exit 2; }
log() { echo "[cluster-compare] $*" >&2; }

[[ -x $REDISLAB ]] || die "$REDISLAB is missing: run \`cargo build --release\` first"
for tool in redis-server redis-cli redis-benchmark python3; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cluster-compare.XXXXXX")
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Twelve free loopback ports below 55536 whose bus port (+10000) is free as well.
free_ports() {
  python3 - "$1" <<'EOF'
import random, socket, sys
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
want, found = int(sys.argv[1]), []
for p in random.sample(range(20000, 55000), 4000):
    if free(p) and free(p + 10000):
        found.append(p)
        if len(found) == want:
            break
print(" ".join(map(str, found)))
EOF
}
read -r -a PORTS <<<"$(free_ports 12)"
((${#PORTS[@]} == 12)) || die "could not find 12 free ports"
OURS=("${PORTS[@]:0:6}")
THEIRS=("${PORTS[@]:6:6}")

# start_node ENGINE PORT: one cluster node in its own folder, in the foreground, PID kept.
start_node() {
  local engine=$1 port=$2 dir=$WORK/$1-$2
  mkdir -p "$dir"
  cat >"$dir/node.conf" <<EOF
port $port
bind 127.0.0.1
dir $dir
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout 5000
appendonly no
save ""
logfile $dir/node.log
EOF
  if [[ $engine == redislab ]]; then
    "$REDISLAB" server "$dir/node.conf" --daemonize no >"$dir/stdout" 2>&1 &
  else
    redis-server "$dir/node.conf" --daemonize no >"$dir/stdout" 2>&1 &
  fi
  PIDS+=($!)
}

wait_pong() {
  for _ in $(seq 100); do
    [[ $(redis-cli -p "$1" ping 2>/dev/null) == PONG ]] && return 0
    sleep 0.1
  done
  die "the node on port $1 did not answer PING within 10 s"
}

# build NAME PORTS...: six nodes, `redis-cli --cluster create --cluster-replicas 1`, then
# wait (bounded) until every node says cluster_state:ok.
build() {
  local name=$1
  shift
  local addrs=()
  for p in "$@"; do start_node "$name" "$p"; done
  for p in "$@"; do wait_pong "$p"; addrs+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
    >"$WORK/$name-create.log" 2>&1 || {
    cat "$WORK/$name-create.log" >&2
    die "cluster create failed for $name"
  }
  for _ in $(seq 200); do
    local ok=0
    for p in "$@"; do
      redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' && ok=$((ok + 1))
    done
    ((ok == $#)) && { log "$name: six nodes, cluster_state:ok"; return 0; }
    sleep 0.1
  done
  die "$name: the cluster did not reach cluster_state:ok within 20 s"
}

build redislab "${OURS[@]}"
build redis "${THEIRS[@]}"

# bench PORT PIPELINE: redis-benchmark --cluster, CSV on stdout; error lines fail the run.
bench() {
  local port=$1 pipeline=$2 out=$WORK/bench.out err=$WORK/bench.err
  redis-benchmark --cluster -h 127.0.0.1 -p "$port" -c "$CLIENTS" -n "$REQUESTS" \
    -P "$pipeline" -t "$TESTS" --csv >"$out" 2>"$err"
  local status=$?
  if ((status != 0)) || grep -qiE 'error|MOVED|ASK|CLUSTERDOWN|ERR ' "$err" "$out"; then
    cat "$err" "$out" >&2
    die "redis-benchmark against port $port (pipeline $pipeline) did not run clean"
  fi
  cat "$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

declare -A RESULTS
for pipeline in $PIPELINES; do
  for round in $(seq "$ROUNDS"); do
    for side in redislab redis; do
      port=${OURS[0]}
      [[ $side == redis ]] && port=${THEIRS[0]}
      log "pipeline $pipeline, round $round/$ROUNDS: $side"
      while IFS=, read -r test rps _; do
        test=${test//\"/}
        rps=${rps//\"/}
        [[ $test == test ]] && continue
        RESULTS[$side,$pipeline,$test]+="$rps "
      done < <(bench "$port" "$pipeline")
    done
  done
done

echo "redis-benchmark --cluster, six nodes (3 masters + 3 replicas) each, -c $CLIENTS -n $REQUESTS,"
echo "median of $ROUNDS rounds, requests per second ($(redis-server --version | awk '{print $3}'))"
echo
echo "| test | pipeline | redislab | redis-server | redislab/redis |"
echo "|---|---|---|---|---|"
for pipeline in $PIPELINES; do
  for test in ${TESTS//,/ }; do
    key=${test^^}
    ours=$(tr ' ' '\n' <<<"${RESULTS[redislab,$pipeline,$key]:-}" | grep . | median)
    theirs=$(tr ' ' '\n' <<<"${RESULTS[redis,$pipeline,$key]:-}" | grep . | median)
    ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
    echo "| $key | $pipeline | $ours | $theirs | $ratio |"
  done
done
echo
echo "load: $(uptime)"
