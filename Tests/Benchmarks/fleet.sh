#!/usr/bin/env bash
# Benchmark (not a test): many small PostgreSQL 15 shards in one SeaweedFS bucket, as one
# system. For each shard count: backup --all-shards (full), verify --all-shards, a fleet
# restore point, and restore --all-shards to it with --start. Prints each step's wall time,
# vault's peak RSS, and S3 requests the store counted, per shard.
# Shards are small on purpose (shared_buffers 16 MB, pgbench scale 1, about 25 MB each): the
# figures are vault's per-shard overhead, not data throughput. The clusters are copies of one
# initdb (same system identifier; vault keeps one record per shard, so this changes nothing).
# Usage: bash Tests/Benchmarks/fleet.sh [shard counts...]   (root; needs .ci/install; default: 5 50)
set -euo pipefail
cd "$(dirname "$0")/../.."
counts=${*:-5 50}
bin=/usr/lib/postgresql/15/bin
store=/var/tmp/vault-bench-fleet-store
key=benchkey
secret=bench-secret-0123456789
as_pg() { runuser -u postgres -- "$@"; }

swift build -c release --static-swift-stdlib 2>&1 | tail -1

stop_store() {
  [ -f "$store/weed.pid" ] || return 0
  local pid; pid=$(cat "$store/weed.pid")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
stop_store
rm -rf "$store"; mkdir -p "$store/data"
printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}' "$key" "$secret" > "$store/s3.json"
/opt/vault-deps/python/bin/weed server -dir="$store/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port=47333 -master.port.grpc=47334 -volume.port=47080 -volume.port.grpc=47081 \
  -filer.port=47888 -filer.port.grpc=47889 -s3 -s3.port=47833 -s3.port.grpc=47834 -s3.config="$store/s3.json" \
  -s3.port.iceberg=0 -s3.port.lance=0 -master.volumeSizeLimitMB=1024 -volume.max=200 -metricsPort=47999 > "$store/weed.log" 2>&1 &
echo $! > "$store/weed.pid"
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$key" "$secret" > "$store/credentials"
chown postgres: "$store/credentials"; chmod 600 "$store/credentials"

# S3 requests the store has answered so far (SeaweedFS's own counter), or 0 when not exposed.
requests() { curl -s http://127.0.0.1:47999/metrics | awk '/^SeaweedFS_s3_request_total/ {n += $NF} END {printf "%d", n}'; }

servers=()
stop_servers() {
  for d in "${servers[@]}"; do [ -f "$d/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true; done
  servers=()
}
trap 'stop_servers; stop_store' EXIT

for n in $counts; do
  bench=/var/tmp/vault-bench-fleet-$n
  rm -rf "$bench"; mkdir -p "$bench/bin"; cp .build/release/vault "$bench/bin/"; chown -R postgres: "$bench"
  bucket=fleet-$n-$RANDOM
  for _ in $(seq 1 60); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 --user "$key:$secret" -X PUT "http://127.0.0.1:47833/$bucket" || true)
    [ "$code" = 200 ] && break
    sleep 0.5
  done
  openssl rand -base64 32 > "$bench/passphrase"; chown postgres: "$bench/passphrase"; chmod 600 "$bench/passphrase"
  {
    echo "version: 1"
    echo "repository: {s3: {endpoint: \"http://127.0.0.1:47833\", bucket: $bucket, credentials_file: $store/credentials}}"
    echo "encryption: {passphrase_file: $bench/passphrase}"
    echo "verify: {scratch: $bench/scratch}"
    echo "shards:"
    for i in $(seq 1 "$n"); do
      echo "  - name: s$i"
      echo "    pgdata: $bench/s$i"
      echo "    bindir: $bin"
      echo "    nodes: [{name: p, conninfo: \"host=127.0.0.1 port=$((56000 + i)) user=postgres dbname=postgres\"}]"
    done
  } > "$bench/vault.yaml"
  chown postgres: "$bench/vault.yaml"

  as_pg "$bin/initdb" -D "$bench/template" -A trust -U postgres --data-checksums >/dev/null
  cat >> "$bench/template/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$bench'
shared_buffers = 16MB
max_connections = 20
max_wal_senders = 2
archive_mode = on
CONF
  for i in $(seq 1 "$n"); do
    as_pg cp -a "$bench/template" "$bench/s$i"
    printf "port = %d\narchive_command = '%s --policy %s --shard s%d --log-level warning archive-push %%p'\n" \
      $((56000 + i)) "$bench/bin/vault" "$bench/vault.yaml" "$i" >> "$bench/s$i/postgresql.conf"
    as_pg "$bin/pg_ctl" -D "$bench/s$i" -l "$bench/s$i.log" -w start >/dev/null
    servers+=("$bench/s$i")
    as_pg "$bin/pgbench" -h 127.0.0.1 -p $((56000 + i)) -U postgres -i -s 1 -q postgres >/dev/null 2>&1
  done
  as_pg "$bench/bin/vault" --policy "$bench/vault.yaml" init >/dev/null
  as_pg "$bench/bin/vault" --policy "$bench/vault.yaml" check --all-shards >/dev/null

  step() { # label, vault arguments...
    local label=$1; shift
    local before after start end
    sync; echo 3 > /proc/sys/vm/drop_caches
    before=$(requests); start=$(date +%s.%N)
    /usr/bin/time -o "$bench/time.out" -f %M runuser -u postgres -- "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning "$@" > "$bench/$label.out"
    end=$(date +%s.%N); after=$(requests)
    awk -v l="$label" -v n="$n" -v s="$start" -v e="$end" -v m="$(tail -1 "$bench/time.out")" -v r=$((after - before)) \
      'BEGIN { printf "%3d shards  %-22s %7.1f s  %6.2f s/shard  peak RSS %4d MB  %6d S3 requests (%d per shard)\n", n, l, e - s, (e - s) / n, m / 1024, r, r / n }'
  }
  step "backup --all-shards" backup --all-shards --type full
  step "verify --all-shards" verify --all-shards
  step "restore-point create" restore-point create bench-point
  mkdir -p "$bench/restored"; chown postgres: "$bench/restored"
  step "restore --all-shards" restore --all-shards --target-name bench-point --target-root "$bench/restored" --start --port-base 57001
  for i in $(seq 1 "$n"); do servers+=("$bench/restored/s$i"); done
  echo "$n shards: bucket holds $(du -sh "$store/data" | cut -f1) in all (every count so far)"
  stop_servers
done
