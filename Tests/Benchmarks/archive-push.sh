#!/usr/bin/env bash
# Benchmark (not a test): push the same 64 real WAL segments through `vault archive-push` and
# `pgbackrest archive-push`, one process per segment as PostgreSQL's archive_command does,
# zstd level 3 for both, AES-256-GCM (vault) vs AES-256-CBC (pgBackRest), fresh repositories,
# alternating runs. Prints segments/s per run, medians and the ratio.
# Also: vault with `archive: {push_ahead: N}` and pgBackRest's archive-async (process-max 2),
# both over every segment marked .ready, as when PostgreSQL's archiver is behind.
# And the machine's floor for that work: the same segments read with the cache dropped,
# through `zstd -3 -T2` into one file on the same disk, synced (no encryption, no per-segment
# durability, no process per segment): what compression alone costs on these cores.
# Usage: bash Tests/Benchmarks/archive-push.sh [runs] [push_ahead]   (root; needs .ci/install)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
ahead=${2:-3}
bench=/var/tmp/vault-bench-archive
bin=/usr/lib/postgresql/15/bin
port=55441
as_pg() { runuser -u postgres -- "$@"; }

swift build -c release --static-swift-stdlib 2>&1 | tail -1
if [ -f "$bench/data/postmaster.pid" ]; then as_pg "$bin/pg_ctl" -D "$bench/data" -m fast -w stop >/dev/null || true; fi
psql_() { as_pg "$bin/psql" -qAt -h 127.0.0.1 -p $port -U postgres "$@"; }
if [ "$(ls "$bench/segments" 2>/dev/null | grep -c "^0")" = 64 ] && [ -d "$bench/data" ]; then
  echo "== reusing the 64 segments in $bench/segments (rm -rf $bench to regenerate)"
  as_pg "$bin/pg_ctl" -D "$bench/data" -l "$bench/pg.log" -w start >/dev/null
else
  rm -rf "$bench"; mkdir -p "$bench/bin" "$bench/segments"; chown -R postgres:postgres "$bench"
  echo "== generating 64 WAL segments"
  as_pg "$bin/initdb" -D "$bench/data" -A trust -U postgres >/dev/null
  cat >> "$bench/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$bench'
wal_keep_size = '4GB'
max_wal_size = '4GB'
CONF
  as_pg "$bin/pg_ctl" -D "$bench/data" -l "$bench/pg.log" -w start >/dev/null
  # Half pgbench (its filler compresses ~20x), half md5 text and random numbers (~2-3x), so
  # the figures are not flattered by pgbench's easy data.
  as_pg "$bin/pgbench" -h 127.0.0.1 -p $port -U postgres -i -s 20 -q postgres >/dev/null 2>&1
  psql_ -c "CREATE TABLE noise(id bigint, h text, r float8)" >/dev/null
  while [ "$(psql_ -c "SELECT (pg_current_wal_lsn() - '0/0')::bigint / 16777216")" -lt 68 ]; do
    psql_ -c "INSERT INTO noise SELECT g, md5(g::text || random()::text), random() FROM generate_series(1, 500000) g" >/dev/null
  done
  psql_ -c "CHECKPOINT" >/dev/null
  for s in $(ls "$bench/data/pg_wal" | grep -E '^[0-9A-F]{24}$' | sort | head -n 64); do cp "$bench/data/pg_wal/$s" "$bench/segments/"; done
  chown -R postgres:postgres "$bench/segments"
fi
trap 'as_pg "$bin/pg_ctl" -D "$bench/data" -m fast -w stop >/dev/null 2>&1 || true' EXIT
mkdir -p "$bench/bin"; cp .build/release/vault "$bench/bin/"; chown -R postgres:postgres "$bench/bin"
echo "segments: $(ls "$bench/segments" | grep -c "^0") × 16 MiB"

# vault's secret is a key file, as the README's setup makes one; vault_secret=passphrase uses
# the same text as a passphrase (scrypt, about 0.1 s of CPU in each process that opens the
# repository). pgBackRest's cipher pass is that same text.
vault_secret=${vault_secret:-key_file}
passphrase=$(openssl rand -base64 32)
printf '%s\n' "$passphrase" > "$bench/$vault_secret"; chmod 600 "$bench/$vault_secret"; chown postgres: "$bench/$vault_secret"
cat > "$bench/vault.yaml" <<YAML
version: 1
repository: {path: $bench/vault-repo}
encryption: {${vault_secret/passphrase/passphrase_file}: $bench/$vault_secret}
compression: {level: 3}
shards:
  - name: main
    nodes: [{name: local, conninfo: "host=127.0.0.1 port=$port user=postgres dbname=postgres"}]
YAML
cat > "$bench/pgbackrest.conf" <<CONF
[global]
repo1-path=$bench/pgbr-repo
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$passphrase
compress-type=zst
compress-level=3
log-level-console=warn
log-level-file=off
lock-path=$bench/pgbr-lock
start-fast=y
[bench]
pg1-path=$bench/data
pg1-port=$port
pg1-socket-path=$bench
CONF
sed 's/^compression: {level: 3}$/compression: {level: 3}\narchive: {push_ahead: '"$ahead"'}/' "$bench/vault.yaml" > "$bench/vault-ahead.yaml"
# pgBackRest's asynchronous mode: archive-push hands the queue of .ready segments to a
# background process with process-max workers and answers from its spool (its pg1-path is the
# directory above the staged segments, with the cluster's pg_control beside them: that mode
# reads archive_status only under pg1-path and checks the control file).
mkdir -p "$bench/global"; cp "$bench/data/global/pg_control" "$bench/global/"; chown -R postgres: "$bench/global"
sed -e 's/^process-max=.*//' -e "s|^pg1-path=.*|pg1-path=$bench|" -e "s|^\[bench\]|archive-async=y\nspool-path=$bench/pgbr-spool\nprocess-max=2\n[bench]|" "$bench/pgbackrest.conf" > "$bench/pgbackrest-async.conf"
# PostgreSQL's view when its archiver is behind: every segment marked ready; each call's success
# turns its segment's .ready into .done, as PostgreSQL's archiver does.
mkdir -p "$bench/segments/archive_status"
for s in "$bench"/segments/0*; do touch "$bench/segments/archive_status/$(basename "$s").ready"; done
chown -R postgres: "$bench/vault.yaml" "$bench/vault-ahead.yaml" "$bench/pgbackrest.conf" "$bench/pgbackrest-async.conf" "$bench/segments"; chmod 600 "$bench/pgbackrest.conf" "$bench/pgbackrest-async.conf"

fresh_repos() {
  # A push-ahead worker lingers a few seconds after its last segment: let it go first.
  [ -e "$bench/segments/vault_spool/.lock" ] && flock -w 30 "$bench/segments/vault_spool/.lock" true
  rm -rf "$bench/vault-repo" "$bench/pgbr-repo" "$bench/segments/vault_spool" "$bench/pgbr-spool" "$bench/floor.zst"
  for d in "$bench"/segments/archive_status/*.done; do [ -e "$d" ] && mv "$d" "${d%.done}.ready"; done
  as_pg "$bench/bin/vault" --policy "$bench/vault.yaml" init >/dev/null
  as_pg pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
}
push_all() { # tool: one process per segment, as the postgres user, as archive_command runs
  local start end
  start=$(date +%s.%N)
  case "$1" in
    floor) as_pg sh -c 'cat "$1"/segments/0* | zstd -3 -T2 -q -o "$1/floor.zst" && sync -f "$1/floor.zst"' _ "$bench" ;;
    vault) as_pg bash -c 'for s in "$1"/segments/0*; do st="$1/segments/archive_status/${s##*/}"; "$1/bin/vault" --policy "$1/vault.yaml" --log-level warning archive-push "$s" || exit 1; mv "$st.ready" "$st.done"; done' _ "$bench" ;;
    vault-ahead) as_pg bash -c 'for s in "$1"/segments/0*; do st="$1/segments/archive_status/${s##*/}"; "$1/bin/vault" --policy "$1/vault-ahead.yaml" --log-level warning archive-push "$s" || exit 1; mv "$st.ready" "$st.done"; done' _ "$bench" ;;
    pgbackrest-async) as_pg bash -c 'for s in "$1"/segments/0*; do st="$1/segments/archive_status/${s##*/}"; pgbackrest --config="$1/pgbackrest-async.conf" --stanza=bench archive-push "$s" || exit 1; mv "$st.ready" "$st.done"; done' _ "$bench" ;;
    *) as_pg bash -c 'for s in "$1"/segments/0*; do st="$1/segments/archive_status/${s##*/}"; pgbackrest --config="$1/pgbackrest.conf" --stanza=bench archive-push "$s" || exit 1; mv "$st.ready" "$st.done"; done' _ "$bench" ;;
  esac
  end=$(date +%s.%N)
  echo "$start $end" | awk '{printf "%.3f", $2 - $1}'
}

declare -a vault_t ahead_t pgbr_t async_t floor_t
for r in $(seq 1 "$runs"); do
  tools="floor vault vault-ahead pgbackrest pgbackrest-async"
  [ $(( r % 2 )) = 0 ] && tools="pgbackrest-async pgbackrest vault-ahead vault floor"
  for tool in $tools; do
    fresh_repos; sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    t=$(push_all $tool)
    case $tool in
      vault) vault_t+=("$t"); vault_size=$(du -sb "$bench/vault-repo/main/wal" | cut -f1) ;;
      vault-ahead) ahead_t+=("$t"); [ "$(ls "$bench/vault-repo/main/wal/00000001" | wc -l)" = 64 ] || { echo "push-ahead lost segments"; exit 1; } ;;
      pgbackrest-async) async_t+=("$t") ;;
      floor) floor_t+=("$t") ;;
      *) pgbr_t+=("$t"); pgbr_size=$(du -sb "$bench/pgbr-repo/archive" | cut -f1) ;;
    esac
    echo "run $r $tool: $t s for 64 segments ($(awk -v t="$t" 'BEGIN{printf "%.1f", 64/t}') segments/s)"
  done
done
rss_v=$( { /usr/bin/time -f %M runuser -u postgres -- "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning archive-push "$bench/segments/$(ls "$bench/segments" | head -1)"; } 2>&1 | tail -1)
rss_p=$( { /usr/bin/time -f %M runuser -u postgres -- pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench archive-push "$bench/segments/$(ls "$bench/segments" | head -1)"; } 2>&1 | tail -1)
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
mv=$(median "${vault_t[@]}"); ma=$(median "${ahead_t[@]}"); mp=$(median "${pgbr_t[@]}"); mq=$(median "${async_t[@]}"); mf=$(median "${floor_t[@]}")
echo
echo "median vault:      $mv s  $(awk -v t="$mv" 'BEGIN{printf "%.1f", 64/t}') segments/s  stored $((vault_size / 1048576)) MiB  peak RSS (re-push) ${rss_v} KB"
echo "median pgbackrest: $mp s  $(awk -v t="$mp" 'BEGIN{printf "%.1f", 64/t}') segments/s  stored $((pgbr_size / 1048576)) MiB  peak RSS (re-push) ${rss_p} KB"
echo "median vault push_ahead $ahead: $ma s  $(awk -v t="$ma" 'BEGIN{printf "%.1f", 64/t}') segments/s"
echo "median pgbackrest archive-async (process-max 2): $mq s  $(awk -v t="$mq" 'BEGIN{printf "%.1f", 64/t}') segments/s"
echo "median floor (cat | zstd -3 -T2, synced): $mf s  $(awk -v t="$mf" 'BEGIN{printf "%.1f", 64/t}') segments/s; archive-async at 1.5x would take $(awk -v b="$mq" 'BEGIN{printf "%.2f", b/1.5}') s"
echo "ratio (vault rate / pgbackrest rate): $(awk -v a="$mv" -v b="$mp" 'BEGIN{printf "%.2f", b/a}')x; push_ahead against archive-async: $(awk -v a="$ma" -v b="$mq" 'BEGIN{printf "%.2f", b/a}')x"
