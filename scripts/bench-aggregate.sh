#!/usr/bin/env bash
# Benchmark of vz-aggregate (issue 4), results in docs/bench-aggregate.md.
#
#   full:  CHANNELS channels x ROWS rows of 1 Hz data (default 100 x 100,000 = 10 million),
#          then `vz-aggregate --mode full --level hour --level day`, twice (into an empty
#          aggregate table, then replacing every row).
#   delta: DELTA_CHANNELS channels (default 1,000) with two hours of 1 Hz data; the first
#          hour is aggregated, then `vz-aggregate --level hour --level day` (delta) times
#          the second hour: 3.6 million new rows.
#
# Usage: scripts/bench-aggregate.sh [sqlite] [mariadb] [postgres]   (default: all three)
# Environment: CHANNELS, ROWS, DELTA_CHANNELS, JOBS (vz-aggregate --jobs values, default "1 2"),
# LAYOUT (interleaved: rows in time order across channels, as vzlogger writes them;
# clustered: channel by channel, as after a bulk import), BENCH_DIR (SQLite files, default
# /tmp/vz-bench-aggregate), VZ_BENCH_MYSQL (default mysql://root@127.0.0.1:3306),
# VZ_BENCH_PG (default postgres://postgres@127.0.0.1:5432), CARGO_TARGET_DIR.
# Server databases vz_bench_aggregate and vz_bench_aggregate_delta are dropped and recreated.
#
# Channel types cycle power (SUM), electric meter (MAX), temperature (time-weighted
# average).
# Seeding uses each backend's bulk path (recursive CTE, generate_series, MariaDB's SEQUENCE
# engine) through the database's own client; only the timed runs use vz-aggregate.
set -euo pipefail
cd "$(dirname "$0")/.."

CHANNELS="${CHANNELS:-100}"
ROWS="${ROWS:-100000}"
DELTA_CHANNELS="${DELTA_CHANNELS:-1000}"
JOBS="${JOBS:-1 2}"
LAYOUT="${LAYOUT:-interleaved}"
BENCH_DIR="${BENCH_DIR:-/tmp/vz-bench-aggregate}"
MYSQL_URL="${VZ_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}"
PG_URL="${VZ_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
TARGET="${CARGO_TARGET_DIR:-target}"
BACKENDS=("$@")
[ ${#BACKENDS[@]} -gt 0 ] || BACKENDS=(sqlite mariadb postgres)

BASE=1704067200000                     # 2024-01-01T00:00:00Z
FULL_NOW=1704240000000                 # 2024-01-03T00:00:00Z: both days complete
ZONE=Europe/Berlin

cargo build --release --quiet -p vz-tools --bin vz-aggregate
AGG="$TARGET/release/vz-aggregate"
mkdir -p "$BENCH_DIR"

# host, port and user of a server URL scheme://user@host:port
hostport() { local rest="${1#*://}"; rest="${rest#*@}"; echo "${rest%%/*}"; }
user_of() { local rest="${1#*://}"; echo "${rest%%@*}"; }
MYSQL=(mysql -u"$(user_of "$MYSQL_URL")" -h"$(hostport "$MYSQL_URL" | cut -d: -f1)" -P"$(hostport "$MYSQL_URL" | cut -d: -f2)")
PSQL=(psql -q -v ON_ERROR_STOP=1 -U"$(user_of "$PG_URL")" -h"$(hostport "$PG_URL" | cut -d: -f1)" -p"$(hostport "$PG_URL" | cut -d: -f2)")

# The entity rows: uuid from the id, type cycling through the three interpreters.
entities_sql() { # backend channels
  local n="$2"
  case "$1" in
    sqlite) echo "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $n)
      INSERT INTO entities (uuid, type, class) SELECT printf('%08x-0000-4000-8000-%012x', n, n),
      CASE n % 3 WHEN 0 THEN 'power' WHEN 1 THEN 'electric meter' ELSE 'temperature' END, 'channel' FROM c;" ;;
    mariadb) echo "INSERT INTO entities (uuid, type, class) SELECT
      LOWER(CONCAT(LPAD(HEX(seq), 8, '0'), '-0000-4000-8000-', LPAD(HEX(seq), 12, '0'))),
      CASE seq % 3 WHEN 0 THEN 'power' WHEN 1 THEN 'electric meter' ELSE 'temperature' END, 'channel'
      FROM seq_1_to_$n;" ;;
    postgres) echo "INSERT INTO entities (id, uuid, type, class) SELECT nextval('entities_id_seq'),
      lpad(to_hex(n), 8, '0') || '-0000-4000-8000-' || lpad(to_hex(n), 12, '0'),
      CASE n % 3 WHEN 0 THEN 'power' WHEN 1 THEN 'electric meter' ELSE 'temperature' END, 'channel'
      FROM generate_series(1, $n) n;" ;;
  esac
}

# 1 Hz rows 0..rows-1 for every entity, in LAYOUT order.
data_sql() { # backend rows
  local last=$(($2 - 1)) order
  case "$LAYOUT" in
    interleaved) order="1, 2" ;;
    clustered) order="2, 1" ;;
    *) echo "LAYOUT must be interleaved or clustered" >&2; exit 2 ;;
  esac
  case "$1" in
    sqlite) echo "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < $last)
      INSERT INTO data (timestamp, channel_id, value) SELECT $BASE + n * 1000, e.id, (n % 97) * 0.5
      FROM s, entities e ORDER BY $order;" ;;
    mariadb) echo "INSERT INTO data (timestamp, channel_id, value) SELECT $BASE + s.seq * 1000, e.id,
      (s.seq % 97) * 0.5 FROM seq_0_to_$last s, entities e ORDER BY $order; ANALYZE TABLE data;" ;;
    postgres) echo "INSERT INTO data (timestamp, channel_id, value) SELECT $BASE + n * 1000, e.id,
      (n % 97) * 0.5 FROM generate_series(0, $last) n, entities e ORDER BY $order;" ;;
  esac
}

# Creates an empty volkszaehler database (the schema via vz-aggregate) and prints its URL.
fresh_db() { # backend name
  case "$1" in
    sqlite)
      rm -f "$BENCH_DIR/$2.sqlite3"*
      echo "sqlite://$BENCH_DIR/$2.sqlite3" ;;
    mariadb)
      "${MYSQL[@]}" -e "DROP DATABASE IF EXISTS $2; CREATE DATABASE $2"
      echo "$MYSQL_URL/$2" ;;
    postgres)
      "${PSQL[@]}" -c "DROP DATABASE IF EXISTS $2" -c "CREATE DATABASE $2"
      echo "$PG_URL/$2?sslmode=disable" ;;
  esac
}

run_sql() { # backend name sql
  case "$1" in
    sqlite) sqlite3 "$BENCH_DIR/$2.sqlite3" "$3" ;;
    mariadb) "${MYSQL[@]}" "$2" -e "$3" ;;
    postgres) "${PSQL[@]}" "$2" -c "$3" -c "VACUUM ANALYZE" ;;
  esac
}

# Runs vz-aggregate and prints "<wall seconds> <peak RSS KiB> <summary line>".
timed() {
  local out err
  out="$(/usr/bin/time -o "$BENCH_DIR/time" -f '%e %M' "$AGG" "$@" 2>"$BENCH_DIR/stderr")"
  err="$(cat "$BENCH_DIR/stderr")"
  [ -z "$err" ] || echo "$err" >&2
  echo "$(cat "$BENCH_DIR/time") $out"
}

rate() { awk -v rows="$1" -v s="$2" 'BEGIN { printf "%.0f", rows / s }'; }

for backend in "${BACKENDS[@]}"; do
  echo "== $backend: full hour+day, $CHANNELS channels x $ROWS rows, $LAYOUT =="
  url="$(fresh_db "$backend" vz_bench_aggregate)"
  "$AGG" --db "$url" optimize -q
  run_sql "$backend" vz_bench_aggregate "$(entities_sql "$backend" "$CHANNELS")"
  start=$(date +%s.%N)
  run_sql "$backend" vz_bench_aggregate "$(data_sql "$backend" "$ROWS")" >/dev/null
  echo "seeded $((CHANNELS * ROWS)) rows in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"
  pass="empty table"
  for jobs in $JOBS; do
    read -r wall rss summary < <(timed --db "$url" --mode full --level hour --level day \
      --jobs "$jobs" --timezone "$ZONE" --now "$FULL_NOW")
    echo "full, --jobs $jobs ($pass): ${wall} s, $(rate $((CHANNELS * ROWS)) "$wall") rows/s, peak RSS ${rss} KiB"
    echo "  $summary"
    pass="replacing"
  done

  echo "== $backend: delta hour+day over $DELTA_CHANNELS channels after one hour of 1 Hz data, $LAYOUT =="
  url="$(fresh_db "$backend" vz_bench_aggregate_delta)"
  "$AGG" --db "$url" optimize -q
  run_sql "$backend" vz_bench_aggregate_delta "$(entities_sql "$backend" "$DELTA_CHANNELS")"
  run_sql "$backend" vz_bench_aggregate_delta "$(data_sql "$backend" 7200)" >/dev/null
  for jobs in $JOBS; do
    # Back to "the first hour is aggregated", then time the second hour.
    "$AGG" --db "$url" clear -q
    "$AGG" --db "$url" --level hour --level day --timezone "$ZONE" --now $((BASE + 3600000)) -q
    read -r wall rss summary < <(timed --db "$url" --level hour --level day \
      --jobs "$jobs" --timezone "$ZONE" --now $((BASE + 7200000)))
    echo "delta, --jobs $jobs: ${wall} s, $(rate $((DELTA_CHANNELS * 3600)) "$wall") rows/s, peak RSS ${rss} KiB"
    echo "  $summary"
  done
done
