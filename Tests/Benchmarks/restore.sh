#!/usr/bin/env bash
# Benchmark (not a test): restore of the same full backup by vault and pgBackRest 2.45
# (alternating, page cache dropped before each step), a delta restore after a small change to
# the restored copy, and recovery replay of 64+ archived segments with vault's archive-get
# prefetch on (get_ahead 8, the default) and off (get_ahead 0). Each restore is set against the
# disk's write floor: dd of the same number of bytes with conv=fdatasync, in 256 KiB blocks.
# Usage: bash Tests/Benchmarks/restore.sh [runs] [scale] [replay]   (root; needs .ci/install)
# replay: "no" skips the replay measurement (and the WAL it needs).
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
scale=${2:-70}
with_replay=${3:-yes}
bench=/var/tmp/vault-bench-restore-$scale
port=55443
replay_port=55444
source Tests/Benchmarks/lib.sh

sed 's/^defaults: {parallel: 2}$/defaults: {parallel: 2}\narchive: {get_ahead: 0}/' "$bench/vault.yaml" > "$bench/vault-noprefetch.yaml"
chown postgres: "$bench/vault-noprefetch.yaml"
vault_() { as_pg "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning "$@"; }
pgbr_() { as_pg pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench "$@"; }
vault_ init >/dev/null
pgbr_ stanza-create >/dev/null
settle; vault_ backup --type full >/dev/null
settle; pgbr_ backup --type=full >/dev/null

# WAL after the backup for the replay measurement: bulk inserts until 64 segments are written.
start_lsn=$(psql_ -c "SELECT pg_current_wal_lsn()")
psql_ -c "CREATE TABLE filler(id int, pad text)" >/dev/null
while [ "$with_replay" != no ] && [ "$(psql_ -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$start_lsn') > 64 * 16 * 1024 * 1024")" = f ]; do
  psql_ -c "INSERT INTO filler SELECT g, repeat(md5(g::text), 28) FROM generate_series(1, 100000) g" >/dev/null
done
settle
echo "WAL after the backup: $(psql_ -c "SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), '$start_lsn'))")"
accounts=$(psql_ -c "SELECT pg_relation_filepath('pgbench_accounts')")
branches=$(psql_ -c "SELECT pg_relation_filepath('pgbench_branches')")

fresh() { rm -rf "$1"; mkdir -p "$1"; chown postgres: "$1"; chmod 700 "$1"; sync; echo 3 > /proc/sys/vm/drop_caches; }
vault_restore() { fresh "$bench/r-vault"; timed runuser -u postgres -- "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning restore --target-dir "$bench/r-vault" --immediate; }
pgbr_restore() { fresh "$bench/r-pgbr"; timed runuser -u postgres -- pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench --pg1-path="$bench/r-pgbr" --type=immediate restore; }
# The same small change in a restored copy: 3 pages of pgbench_accounts overwritten, one small
# relation file removed, one stray file added.
damage() {
  for off in 100 5000 9000; do dd if=/dev/urandom of="$1/$accounts" bs=8192 seek=$off count=1 conv=notrunc status=none; done
  rm -f "$1/$branches"; echo stray > "$1/base/stray"; chown postgres: "$1/base/stray"
  sync; echo 3 > /proc/sys/vm/drop_caches
}
vault_delta() { damage "$bench/r-vault"; timed runuser -u postgres -- "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning restore --target-dir "$bench/r-vault" --immediate --delta; }
pgbr_delta() { damage "$bench/r-pgbr"; timed runuser -u postgres -- pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench --pg1-path="$bench/r-pgbr" --type=immediate --delta restore; }

# Replay: restore to the end of WAL with the given policy, then time start → promotion.
replay() {
  local dir=$bench/replay
  fresh "$dir"
  as_pg "$bench/bin/vault" --policy "$1" --log-level warning restore --target-dir "$dir" >/dev/null
  printf "port = %s\narchive_mode = off\n" "$replay_port" >> "$dir/postgresql.auto.conf"
  sync; echo 3 > /proc/sys/vm/drop_caches
  local start end
  start=$(date +%s.%N)
  as_pg "$bin/pg_ctl" -D "$dir" -l "$bench/replay.log" -w -t 600 start >/dev/null
  until [ "$(as_pg "$bin/psql" -qAt -h 127.0.0.1 -p $replay_port -U postgres -c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]; do sleep 0.05; done
  end=$(date +%s.%N)
  as_pg "$bin/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null
  awk -v s="$start" -v e="$end" 'BEGIN { printf "%.2f", e - s }'
}

for r in $(seq 1 "$runs"); do
  if [ $(( r % 2 )) = 1 ]; then v=$(vault_restore); p=$(pgbr_restore); else p=$(pgbr_restore); v=$(vault_restore); fi
  f=$(dd_floor "$bench/r-vault")
  echo "run $r restore: vault ${v% *} s (RSS ${v#* } KB)   pgbackrest ${p% *} s (RSS ${p#* } KB)   dd floor ${f% *} s for $(du -sm "$bench/r-vault" | cut -f1) MiB"
  if [ $(( r % 2 )) = 1 ]; then v=$(vault_delta); p=$(pgbr_delta); else p=$(pgbr_delta); v=$(vault_delta); fi
  echo "run $r delta:   vault ${v% *} s (RSS ${v#* } KB)   pgbackrest ${p% *} s (RSS ${p#* } KB)"
  [ "$with_replay" = no ] && continue
  if [ $(( r % 2 )) = 1 ]; then a=$(replay "$bench/vault.yaml"); b=$(replay "$bench/vault-noprefetch.yaml"); else b=$(replay "$bench/vault-noprefetch.yaml"); a=$(replay "$bench/vault.yaml"); fi
  echo "run $r replay to the end of WAL: prefetch ${a} s   no prefetch ${b} s"
done
