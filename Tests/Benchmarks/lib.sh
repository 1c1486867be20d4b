# Shared setup of the backup and restore benchmarks (sourced, not run): a release build, a
# PostgreSQL 15 cluster at $bench/data on 127.0.0.1:$port archiving into both vault and
# pgBackRest 2.45 with the same settings (zstd level 3, 2 workers; vault AES-256-GCM,
# pgBackRest AES-256-CBC), loaded with pgbench at $scale, or by the caller's load_data function
# when it defines one. Callers set bench, scale and port,
# and may set vault_repository (a policy `repository:` value) and pgbr_repository (repo1-*
# lines) for another repository than the local directories, bin for other server binaries,
# and archive_pgbackrest=0 to archive through vault alone (pgBackRest 2.45 predates PG 17).
# vault's repository is encrypted under a key file, as the README's setup makes one
# (`openssl rand -base64 32`); vault_secret=passphrase uses the same text as a passphrase instead
# (scrypt, about 0.1 s of CPU per process). pgBackRest's cipher pass is that same text.
bin=${bin:-/usr/lib/postgresql/15/bin}
archive_pgbackrest=${archive_pgbackrest:-1}
as_pg() { runuser -u postgres -- "$@"; }
psql_() { as_pg "$bin/psql" -qAt -h 127.0.0.1 -p $port -U postgres "$@"; }

swift build -c release --static-swift-stdlib 2>&1 | tail -1
if [ -f "$bench/data/postmaster.pid" ]; then as_pg "$bin/pg_ctl" -D "$bench/data" -m fast -w stop >/dev/null || true; fi
rm -rf "$bench"; mkdir -p "$bench/bin"; cp .build/release/vault "$bench/bin/"; chown -R postgres:postgres "$bench"
vault_secret=${vault_secret:-key_file}
passphrase=$(openssl rand -base64 32)
printf '%s\n' "$passphrase" > "$bench/$vault_secret"; chmod 600 "$bench/$vault_secret"
cat > "$bench/vault.yaml" <<YAML
version: 1
repository: ${vault_repository:-{path: $bench/vault-repo\}}
encryption: {${vault_secret/passphrase/passphrase_file}: $bench/$vault_secret}
compression: {level: 3}
defaults: {parallel: 2}
shards:
  - name: main
    pgdata: $bench/data
    nodes: [{name: local, conninfo: "host=127.0.0.1 port=$port user=postgres dbname=postgres"}]
YAML
cat > "$bench/pgbackrest.conf" <<CONF
[global]
${pgbr_repository:-repo1-path=$bench/pgbr-repo}
repo1-cipher-type=aes-256-cbc
repo1-cipher-pass=$passphrase
repo1-retention-full=10
compress-type=zst
compress-level=3
process-max=2
start-fast=y
log-level-console=warn
log-level-file=off
lock-path=$bench/pgbr-lock
[bench]
pg1-path=$bench/data
pg1-port=$port
pg1-socket-path=$bench
CONF
chown postgres: "$bench"/*; chmod 600 "$bench/pgbackrest.conf"

as_pg "$bin/initdb" -D "$bench/data" -A trust -U postgres --data-checksums >/dev/null
cat >> "$bench/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$bench'
archive_mode = on
archive_command = '$bench/bin/vault --policy $bench/vault.yaml --log-level warning archive-push %p$([ "$archive_pgbackrest" = 1 ] && echo " && pgbackrest --config=$bench/pgbackrest.conf --stanza=bench archive-push %p")'
max_wal_size = '4GB'
CONF
as_pg "$bin/pg_ctl" -D "$bench/data" -l "$bench/pg.log" -w start >/dev/null
trap 'as_pg "$bin/pg_ctl" -D "$bench/data" -m fast -w stop >/dev/null 2>&1 || true' EXIT
if declare -F load_data >/dev/null; then
  load_data # the caller's own data set
else
  echo "== pgbench -i -s $scale"
  as_pg "$bin/pgbench" -h 127.0.0.1 -p $port -U postgres -i -s "$scale" -q postgres >/dev/null 2>&1
fi
psql_ -c "CHECKPOINT" >/dev/null
echo "database: $(psql_ -c "SELECT pg_size_pretty(pg_database_size('postgres'))")"

# Before each timed step: the archiver has caught up (so neither tool waits for the other's
# WAL backlog in pg_backup_stop), everything is on disk, and the page cache is dropped.
settle() {
  psql_ -c "SELECT pg_switch_wal()" >/dev/null
  for _ in $(seq 1 600); do
    [ "$(psql_ -c "SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'")" = 0 ] && break
    sleep 0.2
  done
  sync; echo 3 > /proc/sys/vm/drop_caches
}
timed() { # command...: prints "wall-seconds peak-RSS-KB"
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -o "$bench/time.out" -f %M "$@" >/dev/null
  end=$(date +%s.%N)
  echo "$start $end $(tail -1 "$bench/time.out")" | awk '{printf "%.2f %d", $2 - $1, $3}'
}
# The disk's write floor for a restore: dd of as many MiB as the restored copy at $1 holds, made
# durable (conv=fdatasync), cache dropped, run as the restores are (runuser -u postgres), so the
# floor carries the same start-up of runuser as the tools do, in 256 KiB writes: on this
# machine's kernel (Linux 6.18, ext4) dd's usual bs=1M made the floor 1.3-2x slower and far
# noisier than the disk allows (docs/BENCHMARKS.md, "Write calls"). Prints what timed prints.
dd_floor() {
  local mib; mib=$(du -sm "$1" | cut -f1)
  rm -rf "$bench/dd"; mkdir -p "$bench/dd"; chown postgres: "$bench/dd"; sync; echo 3 > /proc/sys/vm/drop_caches
  timed runuser -u postgres -- dd if=/dev/zero of="$bench/dd/out" bs=256K count=$((mib * 4)) conv=fdatasync status=none
  rm -rf "$bench/dd"
}
