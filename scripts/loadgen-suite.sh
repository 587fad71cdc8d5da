#!/usr/bin/env bash
# The load scenarios of BENCHMARKS.md: each runs the same workload against push-server and nchan
# (vz-loadgen --target compare), on freshly started servers so memory figures start clean.
#
#   scripts/loadgen-suite.sh [OUT_DIR]        default /tmp/vzbench/results
#
# SUBSCRIBERS (default: 100,000 or what the open-files limit allows) sets the size of the idle and
# one-push-to-all scenarios. Servers listen on 127.0.0.1 only (push-server 5555/8082, nchan 8090);
# the script stops both at the end. Needs root once, for scripts/nchan.sh to install nchan.
# NICE=-15 (as root) runs both servers and the load generator at a higher priority, so that other
# work on the machine (builds, tests) disturbs the figures less.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-/tmp/vzbench/results}"
WORK=/tmp/vzbench
NICE="${NICE:-0}"
export NICE
mkdir -p "$OUT" "$WORK"

cargo build --release -p push-server -p benches
ulimit -n "$(ulimit -Hn)"
limit="$(ulimit -n)"
[ "$limit" = unlimited ] && limit=1048576
max=$((limit - 500))
N="${SUBSCRIBERS:-$((max < 100000 ? max : 100000))}"
N=$((N / 100 * 100))

DB="sqlite://$WORK/vz.sqlite3"
UUIDS="$WORK/uuids.txt"
# The UUID file must name channels of this database.
[ -f "$WORK/vz.sqlite3" ] || rm -f "$UUIDS"
LOADGEN=(nice -n "$NICE" target/release/vz-loadgen --db "$DB" --uuid-file "$UUIDS")

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap 'stop_server; scripts/nchan.sh stop >/dev/null 2>&1 || true' EXIT

restart() {
  stop_server
  RUST_LOG=warn nice -n "$NICE" target/release/push-server --db "$DB" --ingest 127.0.0.1:5555 \
    --max-connections "$max" \
    --broadcast 127.0.0.1:8082 >>"$OUT/push-server.log" 2>&1 &
  server_pid=$!
  scripts/nchan.sh start >/dev/null
  sleep 1
}

# Waits (up to 10 minutes) until the machine is nearly idle, so that no other work shares the two
# cores with the run; vz-loadgen also reports other processes' CPU and warns when it was high.
wait_quiet() {
  local deadline=$(($(date +%s) + 600)) a b
  busy() { awk 'NR == 1 { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
  while [ "$(date +%s)" -lt "$deadline" ]; do
    a=$(busy); sleep 3; b=$(busy)
    # USER_HZ is 100: fewer than 45 ticks in 3 s is under 0.15 cores busy.
    if [ $((b - a)) -lt 45 ]; then return; fi
  done
  echo "warning: the machine did not become idle; figures may be disturbed" >&2
}

run() {
  local name=$1
  shift
  stop_server
  wait_quiet
  restart
  echo "== $name: vz-loadgen $*" | tee "$OUT/$name.txt"
  "${LOADGEN[@]}" "$@" 2>&1 | tee -a "$OUT/$name.txt"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; open files $limit; $N subscribers for the large scenarios"
run idle --target compare --subscribers "$N" --channels 1000 --rate 0
run idle-plain --target compare --protocol plain --subscribers "$N" --channels 1000 --rate 0
run ingest --target compare --subscribers 0 --channels 1000 --rate 20000 --duration 10 --publishers 64
run fanout-latency --target compare --subscribers 10000 --channels 1000 --rate 1000 --duration 10
run fanout-latency-plain --target compare --protocol plain --subscribers 10000 --channels 1000 --rate 1000 --duration 10
run fanout-sustained --target compare --subscribers "$N" --channels 10 --rate 50 --duration 10
run fanout-max --target compare --subscribers "$N" --channels 10 --rate 300 --duration 10
run one-push-to-all --target compare --subscribers "$N" --channels 1 --rate 1 --duration 20
