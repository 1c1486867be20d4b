#!/usr/bin/env bash
# Benchmark (not a test): full and incremental backups of the same pgbench cluster by vault and
# pgBackRest 2.45, alternating, page cache dropped before each step. zstd level 3 for both;
# vault AES-256-GCM, pgBackRest AES-256-CBC; 2 workers each (policy parallel / process-max).
# Usage: bash Tests/Benchmarks/backup.sh [runs] [scale]   (root; needs .ci/install)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
scale=${2:-70}
bench=/var/tmp/vault-bench-backup-$scale
port=55442
source Tests/Benchmarks/lib.sh

vault_backup() { settle; timed runuser -u postgres -- "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning backup --type "$1"; }
pgbr_backup() { settle; timed runuser -u postgres -- pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench backup --type="$1"; }
both() { # vault-type pgbackrest-type run: alternates which tool goes first
  if [ $(( $3 % 2 )) = 1 ]; then v=$(vault_backup "$1"); p=$(pgbr_backup "$2"); else p=$(pgbr_backup "$2"); v=$(vault_backup "$1"); fi
}

for r in $(seq 1 "$runs"); do
  rm -rf "$bench/vault-repo" "$bench/pgbr-repo"
  as_pg "$bench/bin/vault" --policy "$bench/vault.yaml" init >/dev/null
  as_pg pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
  both full full "$r"
  echo "run $r full:        vault ${v% *} s (RSS ${v#* } KB)   pgbackrest ${p% *} s (RSS ${p#* } KB)   stored vault $(du -sm "$bench/vault-repo" | cut -f1) MiB pgbackrest $(du -sm "$bench/pgbr-repo" | cut -f1) MiB (with WAL)"
  as_pg "$bin/pgbench" -h 127.0.0.1 -p $port -U postgres -n -c 2 -j 2 -t $((scale * 26)) --random-seed=42 postgres >/dev/null 2>&1
  both incremental incr "$r"
  echo "run $r incremental: vault ${v% *} s (RSS ${v#* } KB)   pgbackrest ${p% *} s (RSS ${p#* } KB)   stored vault $(du -sm "$bench/vault-repo" | cut -f1) MiB pgbackrest $(du -sm "$bench/pgbr-repo" | cut -f1) MiB (totals)"
done
as_pg "$bench/bin/vault" --policy "$bench/vault.yaml" list
