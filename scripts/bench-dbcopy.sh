#!/usr/bin/env bash
# vz-dbcopy throughput (rows per second) between MariaDB, PostgreSQL and SQLite.
#
#   scripts/bench-dbcopy.sh [READINGS]          default 2,000,000
#
# Seeds a MariaDB source with READINGS readings of 10 channels, then copies every table
# (`copy` mode, default batch) MariaDB → SQLite and MariaDB → PostgreSQL (the goals), and for
# comparison PostgreSQL → MariaDB and SQLite → PostgreSQL; finally an incremental (`pk`) run
# with nothing new. Each copy prints vz-dbcopy's per-table lines and its summary, which end
# in rows/s.
#
# Needs the mysql and psql clients and the servers of VZ_BENCH_MYSQL / VZ_BENCH_PG (default
# the local test servers); creates and drops the databases vz_bench_src and vz_bench_dst.
set -euo pipefail
cd "$(dirname "$0")/.."

READINGS=${1:-2000000}
CHANNELS=10
MYSQL_URL=${VZ_BENCH_MYSQL:-mysql://root@127.0.0.1:3306}
PG_URL=${VZ_BENCH_PG:-postgres://postgres@127.0.0.1:5432}
MYSQL=${MYSQL_CMD:-mysql -h127.0.0.1 -uroot}
PSQL=${PSQL_CMD:-psql -h127.0.0.1 -Upostgres -q -v ON_ERROR_STOP=1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cargo build --release -q -p vz-tools --bin vz-dbcopy --bin vz-channel
BIN=target/release
cat >"$TMP/all.yaml" <<'YAML'
tables:
  entities: copy
  properties: copy
  entities_in_aggregator: copy
  data: copy
  aggregate: copy
YAML
cat >"$TMP/incremental.yaml" <<'YAML'
tables:
  entities: copy
  properties: copy
  entities_in_aggregator: copy
  data: pk
  aggregate: pk
YAML

fresh_mysql() { $MYSQL -e "DROP DATABASE IF EXISTS $1; CREATE DATABASE $1"; }
fresh_pg() { $PSQL -d postgres -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" 2>/dev/null; }
copy() { # CONFIG SOURCE TARGET
  echo "== $(echo "$2" | cut -d: -f1) → $(echo "$3" | cut -d: -f1)"
  "$BIN/vz-dbcopy" --config "$1" --source "$2" --target "$3" copy
}

fresh_mysql vz_bench_src
SRC="$MYSQL_URL/vz_bench_src"
for i in $(seq 1 "$CHANNELS"); do
  "$BIN/vz-channel" --db "$SRC" add --type power --title "bench $i" --resolution 1000 >/dev/null
done
$MYSQL vz_bench_src -e "INSERT INTO data (channel_id, \`timestamp\`, \`value\`)
  SELECT 1 + seq % $CHANNELS, 1600000000000 + (seq DIV $CHANNELS) * 1000, seq * 0.25
  FROM seq_0_to_$((READINGS - 1))"
echo "source: $READINGS readings in $CHANNELS channels"

copy "$TMP/all.yaml" "$SRC" "sqlite://$TMP/dst.sqlite3"
fresh_pg vz_bench_dst
copy "$TMP/all.yaml" "$SRC" "$PG_URL/vz_bench_dst"

fresh_mysql vz_bench_dst
copy "$TMP/all.yaml" "$PG_URL/vz_bench_dst" "$MYSQL_URL/vz_bench_dst"
fresh_pg vz_bench_dst
copy "$TMP/all.yaml" "sqlite://$TMP/dst.sqlite3" "$PG_URL/vz_bench_dst"
echo "== incremental, nothing new"
"$BIN/vz-dbcopy" --config "$TMP/incremental.yaml" --source "$SRC" --target "$PG_URL/vz_bench_dst" copy

$MYSQL -e "DROP DATABASE vz_bench_src; DROP DATABASE vz_bench_dst"
$PSQL -d postgres -c "DROP DATABASE vz_bench_dst"
