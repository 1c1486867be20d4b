#!/usr/bin/env bash
# Benchmark (not a test): full and incremental backups of data that compresses about 2x (md5 text
# and random numbers, not pgbench's filler), by vault and pgBackRest 2.45, against the machine's
# floor for the same bytes: tar of the data directory without pg_wal through `zstd -3 -T2`,
# written to the same disk and synced. The three alternate which goes first; the page cache is
# dropped before each. zstd level 3 for all; vault AES-256-GCM, pgBackRest AES-256-CBC; two
# workers each. The incremental follows an update of every 20th page of the table (5%).
# Usage: bash Tests/Benchmarks/mixed.sh [runs] [rows]   (root; needs .ci/install)
# Prints each run and the medians; rows=7000000 is about 0.9 GB of table data.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
rows=${2:-7000000}
bench=/var/tmp/vault-bench-mixed
port=55446
scale=mixed
load_data() {
  echo "== $rows rows of md5 text and random numbers"
  psql_ -c "CREATE TABLE mixed (id bigint PRIMARY KEY, label text, amount double precision, code int) WITH (fillfactor = 90)"
  psql_ -c "INSERT INTO mixed SELECT i, md5(i::text) || md5((i * 7)::text), random() * 1e9, (random() * 1e6)::int FROM generate_series(1, $rows) i"
  psql_ -c "VACUUM ANALYZE mixed"
}
source Tests/Benchmarks/lib.sh
echo "table data: $(psql_ -c "SELECT pg_size_pretty(pg_table_size('mixed'))"), indexes $(psql_ -c "SELECT pg_size_pretty(pg_indexes_size('mixed'))")"

floor_run() {
  settle; rm -f "$bench/floor.tar.zst"
  timed sh -c "tar -C '$bench/data' --exclude=./pg_wal -cf - . | zstd -3 -T2 -q -o '$bench/floor.tar.zst' && sync -f '$bench/floor.tar.zst'"
}
vault_run() { settle; timed runuser -u postgres -- "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning backup --type "$1"; }
pgbr_run() { settle; timed runuser -u postgres -- pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench backup --type="$1"; }
change() { # every 20th page of the table gets new values in place (HOT updates, fillfactor 90)
  psql_ -c "UPDATE mixed SET amount = random() * 1e9 WHERE (ctid::text::point)[0]::bigint % 20 = 0" >/dev/null
}
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

: > "$bench/results"
for r in $(seq 1 "$runs"); do
  rm -rf "$bench/vault-repo" "$bench/pgbr-repo"
  as_pg "$bench/bin/vault" --policy "$bench/vault.yaml" init >/dev/null
  as_pg pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
  case $(( r % 3 )) in
    1) f=$(floor_run); v=$(vault_run full); p=$(pgbr_run full) ;;
    2) v=$(vault_run full); p=$(pgbr_run full); f=$(floor_run) ;;
    0) p=$(pgbr_run full); f=$(floor_run); v=$(vault_run full) ;;
  esac
  echo "run $r full: floor ${f% *} s   vault ${v% *} s (RSS ${v#* } KB)   pgbackrest ${p% *} s (RSS ${p#* } KB)   stored: floor $(du -sm "$bench/floor.tar.zst" | cut -f1) MiB, vault $(du -sm "$bench/vault-repo" | cut -f1) MiB, pgbackrest $(du -sm "$bench/pgbr-repo" | cut -f1) MiB (with WAL)"
  echo "full ${f% *} ${v% *} ${p% *}" >> "$bench/results"
  change
  if [ $(( r % 2 )) = 1 ]; then v=$(vault_run incremental); p=$(pgbr_run incr); else p=$(pgbr_run incr); v=$(vault_run incremental); fi
  echo "run $r incremental: vault ${v% *} s (RSS ${v#* } KB)   pgbackrest ${p% *} s (RSS ${p#* } KB)"
  echo "incr 0 ${v% *} ${p% *}" >> "$bench/results"
done
for step in full incr; do
  f=$(awk -v s=$step '$1 == s {print $2}' "$bench/results" | median)
  v=$(awk -v s=$step '$1 == s {print $3}' "$bench/results" | median)
  p=$(awk -v s=$step '$1 == s {print $4}' "$bench/results" | median)
  echo "median $step: floor $f s, vault $v s, pgbackrest $p s; vault/floor $(awk -v a="$v" -v b="$f" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'), vault/pgbackrest $(awk -v a="$v" -v b="$p" 'BEGIN {printf "%.2f", a / b}')"
done
