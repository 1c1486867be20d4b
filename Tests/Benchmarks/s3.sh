#!/usr/bin/env bash
# Benchmark (not a test): full backup and restore of the same pgbench cluster into SeaweedFS's
# S3 API over TLS (self-signed certificate, trusted through a CA file by both tools), vault
# vs pgBackRest 2.45 with the backup benchmark's settings, alternating which goes first, page
# cache dropped before each step. Both archive WAL into their bucket.
# Usage: bash Tests/Benchmarks/s3.sh [runs] [scale]   (root; needs .ci/install)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
scale=${2:-70}
bench=/var/tmp/vault-bench-s3-$scale
store=/var/tmp/vault-bench-s3-store
port=55446
s3=46443
key=benchkey
secret=bench-secret-0123456789

# The object store: every SeaweedFS port named, S3 over TLS on $s3.
stop_store() {
  [ -f "$store/weed.pid" ] || return 0
  local pid; pid=$(cat "$store/weed.pid")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
stop_store
rm -rf "$store"; mkdir -p "$store/data"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout "$store/key.pem" -out "$store/cert.pem" \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
chmod 755 "$store"; chmod 644 "$store/cert.pem"
printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}' "$key" "$secret" > "$store/s3.json"
/opt/vault-deps/python/bin/weed server -dir="$store/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port=46333 -master.port.grpc=46334 -volume.port=46080 -volume.port.grpc=46081 \
  -filer.port=46888 -filer.port.grpc=46889 -s3 -s3.port=46833 -s3.port.grpc=46834 \
  -s3.port.https=$s3 -s3.cert.file="$store/cert.pem" -s3.key.file="$store/key.pem" -s3.config="$store/s3.json" \
  -s3.port.iceberg=0 -s3.port.lance=0 -master.volumeSizeLimitMB=1024 -volume.max=64 > "$store/weed.log" 2>&1 &
echo $! > "$store/weed.pid"
trap stop_store EXIT
for bucket in vault-bench pgbr-bench; do
  for _ in $(seq 1 60); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$store/cert.pem" --aws-sigv4 aws:amz:us-east-1:s3 --user "$key:$secret" -X PUT "https://127.0.0.1:$s3/$bucket" || true)
    [ "$code" = 200 ] && break
    sleep 0.5
  done
done
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$key" "$secret" > "$store/credentials"
chown postgres: "$store/credentials"; chmod 600 "$store/credentials"

vault_repository="{s3: {endpoint: \"https://localhost:$s3\", bucket: vault-bench, ca_file: $store/cert.pem, credentials_file: $store/credentials}}"
pgbr_repository="repo1-type=s3
repo1-path=/pgbr
repo1-s3-bucket=pgbr-bench
repo1-s3-endpoint=localhost
repo1-storage-port=$s3
repo1-s3-region=us-east-1
repo1-s3-key=$key
repo1-s3-key-secret=$secret
repo1-s3-uri-style=path
repo1-storage-ca-file=$store/cert.pem"
source Tests/Benchmarks/lib.sh
trap 'as_pg "$bin/pg_ctl" -D "$bench/data" -m fast -w stop >/dev/null 2>&1 || true; stop_store' EXIT

as_pg "$bench/bin/vault" --policy "$bench/vault.yaml" init >/dev/null
as_pg pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench stanza-create >/dev/null
vault_backup() { settle; timed runuser -u postgres -- "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning backup --type full; }
pgbr_backup() { settle; timed runuser -u postgres -- pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench backup --type=full; }
fresh() { rm -rf "$1"; mkdir -p "$1"; chown postgres: "$1"; chmod 700 "$1"; sync; echo 3 > /proc/sys/vm/drop_caches; }
vault_restore() { fresh "$bench/r-vault"; timed runuser -u postgres -- "$bench/bin/vault" --policy "$bench/vault.yaml" --log-level warning restore --target-dir "$bench/r-vault" --immediate; }
pgbr_restore() { fresh "$bench/r-pgbr"; timed runuser -u postgres -- pgbackrest --config="$bench/pgbackrest.conf" --stanza=bench --pg1-path="$bench/r-pgbr" --type=immediate restore; }

for r in $(seq 1 "$runs"); do
  if [ $(( r % 2 )) = 1 ]; then v=$(vault_backup); p=$(pgbr_backup); else p=$(pgbr_backup); v=$(vault_backup); fi
  echo "run $r full backup: vault ${v% *} s (RSS ${v#* } KB)   pgbackrest ${p% *} s (RSS ${p#* } KB)"
  if [ $(( r % 2 )) = 1 ]; then v=$(vault_restore); p=$(pgbr_restore); else p=$(pgbr_restore); v=$(vault_restore); fi
  f=$(dd_floor "$bench/r-vault")
  echo "run $r restore:     vault ${v% *} s (RSS ${v#* } KB)   pgbackrest ${p% *} s (RSS ${p#* } KB)   dd floor ${f% *} s for $(du -sm "$bench/r-vault" | cut -f1) MiB"
done
echo "bucket sizes: $(du -sh "$store/data" | cut -f1) in all (both tools, WAL included)"
