#!/usr/bin/env bash
# Benchmark (not a test): how long writes stop during vault switchover and vault failover.
# One PostgreSQL 15 primary (a) and two streaming standbys (b, c) on 127.0.0.1, archiving
# through vault. A client inserts one row at a time (a new psql connection per insert, about
# every 10 ms) into whichever node accepts writes, logging the time of each success.
# - switchover: the outage is the longest gap between two successful inserts around it;
# - failover: SIGKILL of the primary, then `vault failover --confirm-primary-down`; measured
#   from the kill, and from the command's start, to the first insert on the new primary.
# Each run switches over a → b and back, then fails over.
# Usage: bash Tests/Benchmarks/failover.sh [runs]   (root; needs .ci/install)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
bin=/usr/lib/postgresql/15/bin
root=/var/tmp/vault-bench-failover
ports=(55450 55451 55452)
as_pg() { runuser -u postgres -- "$@"; }
now() { date +%s.%N; }

swift build -c release --static-swift-stdlib 2>&1 | tail -1
stop_all() { for n in a b c; do [ -f "$root/$n/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$root/$n" -m immediate -w stop >/dev/null 2>&1 || true; done; }
writer=
trap 'rc=$?; [ -n "$writer" ] && kill "$writer" 2>/dev/null; stop_all; exit $rc' EXIT

# A writer that tries every node until one accepts the insert; logs "time id" per success.
write_loop() {
  local id=1
  while [ ! -f "$root/stop-writer" ]; do
    for p in "${ports[@]}"; do
      if "$bin/psql" -qAt -h 127.0.0.1 -p "$p" -U postgres -d postgres -c "INSERT INTO log VALUES ($id)" >/dev/null 2>&1; then
        echo "$(now) $id" >> "$root/writes.log"; id=$((id + 1)); break
      fi
    done
    sleep 0.01
  done
}
# Seconds from $2 to $1.
span() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
# Longest gap between successful inserts from a second before $1 to two seconds after $2.
gap() { awk -v a="$1" -v b="$2" '$1 >= a - 1 && $1 <= b + 2 { if (p) { g = $1 - p; if (g > m) m = g }; p = $1 } END { printf "%.2f", m }' "$root/writes.log"; }

setup() {
  stop_all; rm -rf "$root"; mkdir -p "$root/bin"; cp .build/release/vault "$root/bin/"
  openssl rand -base64 32 > "$root/passphrase"
  chown -R postgres:postgres "$root"
  as_pg "$bin/initdb" -D "$root/a" -A trust -U postgres --data-checksums >/dev/null
  cat >> "$root/a/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = ${ports[0]}
unix_socket_directories = '$root'
wal_level = replica
archive_mode = on
archive_command = '$root/bin/vault --policy $root/vault.yaml --log-level warning archive-push %p'
wal_keep_size = '1GB'
CONF
  chown -R postgres:postgres "$root"; chmod 600 "$root/passphrase"
  as_pg "$bin/pg_ctl" -D "$root/a" -l "$root/a.log" -w start >/dev/null
  for i in 1 2; do
    n=$([ $i = 1 ] && echo b || echo c)
    as_pg "$bin/pg_basebackup" -D "$root/$n" -h 127.0.0.1 -p ${ports[0]} -U postgres -X stream -R -c fast
    echo "port = ${ports[$i]}" >> "$root/$n/postgresql.conf"
    as_pg "$bin/pg_ctl" -D "$root/$n" -l "$root/$n.log" -w start >/dev/null
  done
  cat > "$root/vault.yaml" <<YAML
version: 1
repository: {path: $root/repo}
encryption: {passphrase_file: $root/passphrase}
shards:
  - name: main
    bindir: $bin
    nodes:
      - {name: a, conninfo: "host=127.0.0.1 port=${ports[0]} user=postgres dbname=postgres", pgdata: $root/a}
      - {name: b, conninfo: "host=127.0.0.1 port=${ports[1]} user=postgres dbname=postgres", pgdata: $root/b}
      - {name: c, conninfo: "host=127.0.0.1 port=${ports[2]} user=postgres dbname=postgres", pgdata: $root/c, priority: 50}
YAML
  chown postgres:postgres "$root/vault.yaml"
  as_pg "$root/bin/vault" --policy "$root/vault.yaml" init >/dev/null
  as_pg "$bin/psql" -qAt -h 127.0.0.1 -p ${ports[0]} -U postgres -c "CREATE TABLE log(id bigint PRIMARY KEY)"
  sleep 1
}
vault_() { as_pg "$root/bin/vault" --policy "$root/vault.yaml" --log-level warning "$@"; }

for r in $(seq 1 "$runs"); do
  setup
  rm -f "$root/stop-writer" "$root/writes.log"; write_loop & writer=$!
  sleep 2
  t0=$(now); vault_ switchover --to b >/dev/null; t1=$(now)
  sleep 2
  t2=$(now); vault_ switchover --to a >/dev/null; t3=$(now)
  sleep 2
  gap1=$(gap "$t0" "$t1"); gap2=$(gap "$t2" "$t3")
  kill -9 "$(head -1 "$root/a/postmaster.pid")"; tk=$(now)
  rm -f "$root/a/postmaster.pid" "$root/.s.PGSQL.${ports[0]}.lock"
  tf=$(now); vault_ failover --confirm-primary-down >/dev/null; tf2=$(now)
  sleep 2; touch "$root/stop-writer"; wait $writer
  first=$(awk -v t="$tk" '$1 > t { print $1; exit }' "$root/writes.log")
  echo "run $r: switchover a→b $(span "$t1" "$t0") s command, longest write gap ${gap1} s; back to a $(span "$t3" "$t2") s, gap ${gap2} s; failover command $(span "$tf2" "$tf") s, first write $(span "$first" "$tk") s after the kill ($(span "$first" "$tf") s after the command started); $(wc -l < "$root/writes.log") rows written"
  stop_all
done
