#!/usr/bin/env bash
# Benchmark (not a test): what each `archive.compression_level` costs and saves on the 64 real
# WAL segments of archive-push.sh (half pgbench, half md5 text and random numbers). For each
# level: a fresh repository, page cache dropped, one `vault archive-push` per segment in order
# (no push-ahead), wall time, CPU time of all the calls, and bytes stored.
# Usage: bash Tests/Benchmarks/wal-levels.sh [levels...]   (root; run archive-push.sh first)
set -euo pipefail
cd "$(dirname "$0")/../.."
bench=/var/tmp/vault-bench-archive
levels=${*:-0 1 3 6 9}
[ "$(ls "$bench/segments" | grep -c '^0')" = 64 ] || { echo "error: run Tests/Benchmarks/archive-push.sh first (no staged segments in $bench/segments)" >&2; exit 1; }
as_pg() { runuser -u postgres -- "$@"; }
bin=/usr/lib/postgresql/15/bin
# init reads the cluster's identity: start the cluster the segments came from.
as_pg "$bin/pg_ctl" -D "$bench/data" -l "$bench/pg.log" -w start >/dev/null
trap 'as_pg "$bin/pg_ctl" -D "$bench/data" -m fast -w stop >/dev/null 2>&1 || true' EXIT
echo "level  wall s  CPU s (user+sys)  segments/s  stored MiB  ratio"
for level in $levels; do
  sed "s/^compression: {level: 3}$/compression: {level: 3}\narchive: {compression_level: $level}/" "$bench/vault.yaml" > "$bench/vault-level.yaml"
  chown postgres: "$bench/vault-level.yaml"
  rm -rf "$bench/vault-repo"
  as_pg "$bench/bin/vault" --policy "$bench/vault-level.yaml" init >/dev/null
  sync; echo 3 > /proc/sys/vm/drop_caches
  start=$(date +%s.%N)
  /usr/bin/time -o "$bench/level.time" -f "%U %S" runuser -u postgres -- bash -c 'for s in "$1"/segments/0*; do "$1/bin/vault" --policy "$1/vault-level.yaml" --log-level warning archive-push "$s" || exit 1; done' _ "$bench"
  end=$(date +%s.%N)
  stored=$(du -sb "$bench/vault-repo/main/wal" | cut -f1)
  awk -v s="$start" -v e="$end" -v c="$(cat "$bench/level.time")" -v b="$stored" -v l="$level" 'BEGIN {
    split(c, t, " "); w = e - s
    printf "%5d  %6.2f  %16.2f  %10.1f  %10.0f  %5.2f\n", l, w, t[1] + t[2], 64 / w, b / 1048576, 64 * 16 / (b / 1048576) }'
done
