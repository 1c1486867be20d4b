#!/usr/bin/env bash
# Benchmark (not a test): does WAL archiving keep up with a heavy write load? One PostgreSQL 15
# cluster; for each tool in turn its archive_command is set, the archive emptied, and a write
# load run for SECONDS while the number of `.ready` files (the archiver's backlog) is sampled
# every second. Then the time until the backlog is gone. vault: `archive: {push_ahead: N}`
# (the background worker); pgBackRest 2.45: archive-async with process-max 2. zstd level 3 and
# encryption for both (vault AES-256-GCM, pgBackRest AES-256-CBC).
# Loads: pgbench (tpcb-like, 4 clients, synchronous_commit off: the most WAL pgbench makes on
# two cores) or mixed (inserts of md5 text and random numbers, 2 clients).
# Usage: bash Tests/Benchmarks/wal-load.sh [seconds] [pgbench|mixed] [push_ahead]   (root)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
load=${2:-pgbench}
ahead=${3:-8}
bench=/var/tmp/vault-bench-wal-load
port=55447
scale=30
archive_pgbackrest=0 # each tool gets the archiver to itself below
vault_repository="{path: $bench/vault-repo}"
source Tests/Benchmarks/lib.sh
cat >> "$bench/vault.yaml" <<YAML
archive: {push_ahead: $ahead}
YAML
sed -i -e 's/^process-max=.*/process-max=2/' -e "s|^\[bench\]|archive-async=y\nspool-path=$bench/pgbr-spool\n[bench]|" "$bench/pgbackrest.conf"
cat >> "$bench/data/postgresql.conf" <<CONF
synchronous_commit = off
checkpoint_timeout = '60s'
max_wal_size = '2GB'
CONF
as_pg "$bin/pg_ctl" -D "$bench/data" -l "$bench/pg.log" -w restart >/dev/null
psql_ -c "CREATE TABLE IF NOT EXISTS noise (id bigint, label text, amount double precision)" >/dev/null
echo 'INSERT INTO noise SELECT g, md5(random()::text) || md5(random()::text), random() * 1e9 FROM generate_series(1, 2000) g;' > "$bench/mixed.sql"
chown postgres: "$bench/mixed.sql"

ready() { ls "$bench/data/pg_wal/archive_status" | grep -c '\.ready$' || true; }
run_tool() { # tool: prints "max median end drain archived-segments generated-MB"
  local tool=$1 cmd
  case $tool in
    vault) cmd="$bench/bin/vault --policy $bench/vault.yaml --log-level warning archive-push %p" ;;
    pgbackrest) cmd="pgbackrest --config=$bench/pgbackrest.conf --stanza=bench archive-push %p" ;;
  esac
  psql_ -c "ALTER SYSTEM SET archive_command = '$cmd'" -c "SELECT pg_reload_conf()" >/dev/null
  psql_ -c "SELECT pg_switch_wal()" >/dev/null
  for _ in $(seq 1 900); do [ "$(ready)" = 0 ] && break; sleep 1; done
  sync; echo 3 > /proc/sys/vm/drop_caches
  local before_lsn before_count
  before_lsn=$(psql_ -c "SELECT pg_current_wal_lsn()")
  before_count=$(psql_ -c "SELECT archived_count FROM pg_stat_archiver")
  : > "$bench/samples-$tool"
  case $load in
    pgbench) as_pg "$bin/pgbench" -h 127.0.0.1 -p $port -U postgres -n -c 4 -j 2 -T "$seconds" postgres > "$bench/load-$tool.out" 2>&1 & ;;
    mixed) as_pg "$bin/pgbench" -h 127.0.0.1 -p $port -U postgres -n -c 2 -j 2 -T "$seconds" -f "$bench/mixed.sql" postgres > "$bench/load-$tool.out" 2>&1 & ;;
  esac
  local loader=$!
  while kill -0 $loader 2>/dev/null; do ready >> "$bench/samples-$tool"; sleep 1; done
  wait $loader || true
  local generated end start_drain
  generated=$(psql_ -c "SELECT round((pg_current_wal_lsn() - '$before_lsn') / 1048576)")
  end=$(ready)
  start_drain=$(date +%s.%N)
  for _ in $(seq 1 3000); do [ "$(ready)" = 0 ] && break; sleep 0.2; done
  local drain archived
  drain=$(echo "$start_drain $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
  archived=$(( $(psql_ -c "SELECT archived_count FROM pg_stat_archiver") - before_count ))
  local max median
  max=$(sort -n "$bench/samples-$tool" | tail -1)
  median=$(sort -n "$bench/samples-$tool" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$tool: backlog max $max, median $median, at the end $end .ready files; drained $drain s after the load; $archived segments archived, $generated MB of WAL written; $(grep -o 'tps = [0-9.]*' "$bench/load-$tool.out" | head -1)"
}

rm -rf "$bench/vault-repo" "$bench/pgbr-repo" "$bench/pgbr-spool"
as_pg "$bench/bin/vault" --policy "$bench/vault.yaml" init >/dev/null
as_pg pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
echo "== $load load for $seconds s, vault push_ahead $ahead, pgBackRest archive-async process-max 2"
run_tool vault
run_tool pgbackrest
# Each tool's archive of the load is tens of GB: gone once measured.
rm -rf "$bench/vault-repo" "$bench/pgbr-repo" "$bench/pgbr-spool"
