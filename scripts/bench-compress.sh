#!/usr/bin/env bash
# vz-compress throughput (input readings per second) on SQLite, MariaDB and PostgreSQL.
#
#   scripts/bench-compress.sh [READINGS]        default 2,000,000
#
# Seeds READINGS readings (10 impulse channels, one reading a second each, all 60 days old,
# so vzcompress2's default scheme merges them into 5-minute windows of ~300 readings) into a
# fresh database per backend, runs `vz-compress --now <pinned> --jobs $JOBS` (default 2, the
# tool's default) and prints its summary line, which ends in readings/s. A second run shows
# the cost of a run with nothing to do.
#
# Needs the mysql and psql clients and the servers of VZ_BENCH_MYSQL / VZ_BENCH_PG (default
# the local test servers); creates and drops the databases vz_bench_compress. Set BACKENDS
# to a subset of "sqlite mysql postgres" to skip some.
set -euo pipefail
cd "$(dirname "$0")/.."

READINGS=${1:-2000000}
CHANNELS=10
NOW=1715761800000                      # 2024-05-15T08:30:00Z
START=$((NOW - 60 * 86400000))
MYSQL_URL=${VZ_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}
PG_URL=${VZ_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
MYSQL=${MYSQL_CMD:-mysql -h127.0.0.1 -uroot}
PSQL=${PSQL_CMD:-psql -h127.0.0.1 -Upostgres -q -v ON_ERROR_STOP=1}
BACKENDS=${BACKENDS:-sqlite mysql postgres}
JOBS=${JOBS:-2}
DB=vz_bench_compress
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cargo build --release -q -p vz-tools --bin vz-compress --bin vz-channel
BIN=target/release

channels() { # URL
  for i in $(seq 1 "$CHANNELS"); do
    "$BIN/vz-channel" --db "$1" add --type power --title "bench $i" --resolution 1000 >/dev/null
  done
}

run() { # BACKEND URL
  echo "== $1: $READINGS readings, $CHANNELS channels, $JOBS jobs"
  "$BIN/vz-compress" --db "$2" --now "$NOW" --jobs "$JOBS"
  "$BIN/vz-compress" --db "$2" --now "$NOW" --jobs "$JOBS"
}

for backend in $BACKENDS; do
  case $backend in
    sqlite)
      url="sqlite://$TMP/$DB.sqlite3"
      channels "$url"
      sqlite3 "$TMP/$DB.sqlite3" "WITH RECURSIVE s(g) AS (SELECT 0 UNION ALL SELECT g + 1 FROM s WHERE g < $READINGS - 1)
        INSERT INTO data (channel_id, \"timestamp\", \"value\")
        SELECT 1 + g % $CHANNELS, $START + (g / $CHANNELS) * 1000, g % 7 FROM s"
      run sqlite "$url"
      ;;
    mysql)
      $MYSQL -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
      url="$MYSQL_URL/$DB"
      channels "$url"
      $MYSQL "$DB" -e "INSERT INTO data (channel_id, \`timestamp\`, \`value\`)
        SELECT 1 + seq % $CHANNELS, $START + (seq DIV $CHANNELS) * 1000, seq % 7 FROM seq_0_to_$((READINGS - 1))"
      run mysql "$url"
      $MYSQL -e "DROP DATABASE $DB"
      ;;
    postgres)
      $PSQL -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
      url="$PG_URL/$DB"
      channels "$url"
      $PSQL -d "$DB" -c "INSERT INTO data (channel_id, \"timestamp\", \"value\")
        SELECT 1 + g % $CHANNELS, $START + (g / $CHANNELS) * 1000, g % 7 FROM generate_series(0, $READINGS - 1) g" \
        -c "VACUUM ANALYZE data"
      run postgres "$url"
      $PSQL -d postgres -c "DROP DATABASE $DB"
      ;;
  esac
done
