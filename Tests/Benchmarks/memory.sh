#!/usr/bin/env bash
# Benchmark (not a test): peak memory (RSS) of vault's commands as a shard grows.
#  1. A real PostgreSQL 15 cluster with $tables small tables (a row each): full backup,
#     incremental after 1% of the tables changed, list, expire --dry-run, status, restore
#     and verify (restore into a scratch server, pg_amcheck, pg_checksums).
#  2. A synthetic shard whose $backups manifests describe $terabytes TB each (1 GiB files of
#     1 MiB extents: about a million extents per TB), written by vault-synthetic: list,
#     expire --dry-run, status, and verify --repository-only (which reads one whole manifest;
#     its packs do not exist, so it fails after reading it).
# Usage: bash Tests/Benchmarks/memory.sh [tables] [terabytes] [backups] [verify]   (root; needs .ci/install)
#        tables 0 skips the real cluster, terabytes 0 the synthetic shard, verify "no" the real
#        cluster's verify.
#        VAULT_BENCH_ENV="NAME=value ..." runs every measured command with those variables.
set -euo pipefail
cd "$(dirname "$0")/../.."
tables=${1:-100000}
terabytes=${2:-10}
backups=${3:-2}
run_verify=${4:-yes}
bench=/var/tmp/vault-bench-memory
port=55491
scale=tables
archive_pgbackrest=0
load_data() {
  echo "== $tables tables"
  local done=0
  while [ "$done" -lt "$tables" ]; do
    local to=$(( done + 1000 < tables ? done + 1000 : tables ))
    psql_ -c "DO \$\$ BEGIN FOR i IN $(( done + 1 ))..$to LOOP
      EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i);
      EXECUTE format('INSERT INTO t%s VALUES (1, md5(%s::text))', i, i); END LOOP; END \$\$" >/dev/null
    done=$to
  done
}
source Tests/Benchmarks/lib.sh
cp .build/release/vault-synthetic "$bench/bin/"
echo "files in the data directory: $(find "$bench/data/base" -type f | wc -l)"
echo "verify: {scratch: $bench/scratch}" >> "$bench/vault.yaml"
# The synthetic shard has a policy of its own (the main one's archive_command names no shard).
sed -e '/^shards:/,$d' "$bench/vault.yaml" > "$bench/synthetic.yaml"
cat >> "$bench/synthetic.yaml" <<YAML
shards:
  - name: synthetic
    pgdata: $bench/synthetic
    nodes: [{name: none, conninfo: "host=127.0.0.1 port=1 user=postgres dbname=postgres"}]
YAML
mkdir -p "$bench/scratch"; chown postgres: "$bench/scratch" "$bench/synthetic.yaml"
vault() { runuser -u postgres -- "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning "$@"; }
policy=$bench/vault.yaml
measure() { # label, vault arguments...: prints seconds and peak RSS; a failing command is reported, not fatal
  local label=$1; shift
  local out
  # shellcheck disable=SC2086
  if out=$(timed runuser -u postgres -- env ${VAULT_BENCH_ENV:-} "$bench/bin/vault" --policy "$policy" --log-level error "$@" 2>"$bench/err"); then
    printf '%-44s %8s s  %8d KiB\n' "$label" "${out% *}" "${out#* }"
  else
    out=$(tail -1 "$bench/time.out")
    printf '%-44s %8s    %8d KiB  (failed: %s)\n' "$label" "-" "$out" "$(grep -m1 error: "$bench/err" | cut -c1-80)"
  fi
}

vault init >/dev/null
if [ "$tables" != 0 ]; then
echo "== real cluster, $tables tables"
settle; measure "backup --type full" backup --type full
psql_ -c "DO \$\$ BEGIN FOR i IN 1..$tables BY 100 LOOP EXECUTE format('INSERT INTO t%s VALUES (2, ''y'')', i); END LOOP; END \$\$" >/dev/null
settle; measure "backup --type incremental (1% of tables)" backup --type incremental
measure "list" list
measure "expire --dry-run" expire --dry-run
measure "status" status
rm -rf "$bench/restored"
measure "restore" restore --target-dir "$bench/restored"
rm -rf "$bench/restored"
[ "$run_verify" = no ] || measure "verify" verify
echo "manifest objects (heads and chunks): $(find "$bench/vault-repo/main/backups" "$bench/vault-repo/main/chunks" -type f | wc -l), $(du -shc "$bench/vault-repo/main/backups" "$bench/vault-repo/main/chunks" | tail -1 | cut -f1)"
fi

[ "$terabytes" = 0 ] && { rm -rf "$bench"; exit 0; }
echo "== synthetic shard, $backups backups of $terabytes TB"
policy=$bench/synthetic.yaml
runuser -u postgres -- "$bench/bin/vault-synthetic" --policy "$policy" --shard synthetic --terabytes "$terabytes" --backups "$backups"
echo "manifest objects (heads and chunks): $(find "$bench/vault-repo/synthetic/backups" "$bench/vault-repo/synthetic/chunks" -type f | wc -l), $(du -shc "$bench/vault-repo/synthetic/backups" "$bench/vault-repo/synthetic/chunks" | tail -1 | cut -f1)"
measure "list" list
measure "expire --dry-run" expire --dry-run
measure "status" status
measure "verify --repository-only (one manifest whole)" verify --repository-only
rm -rf "$bench"
