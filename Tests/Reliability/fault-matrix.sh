#!/usr/bin/env bash
# The fault matrix: runs the integration tests that inject each fault and writes
# docs/RELIABILITY.md's table from what passed in this run. Each row names a fault, the phase
# it hits, what the test then proves, and the test; the result column is this run's.
# Usage: bash Tests/Reliability/fault-matrix.sh [test-output]   (root, after .ci/install)
#        Without an argument it runs the integration tests (about 15 minutes on 2 cores); with
#        one, it reads the output of a run already made (`swift test`, or .ci/run's).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=docs/RELIABILITY.md
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# fault | phase | what is proved afterwards | test name (exact)
rows=(
"SIGKILL of vault|archive-push, first attempt at each segment killed 0, 5, 20, 50, 100 and 400 ms in (before, during and after the store)|PostgreSQL's archiver retries on its own; every segment comes back byte-identical; check, a backup and the repository check pass|SIGKILL of archive-push before, during and after the store: PostgreSQL's archiver retries on its own, every segment arrives byte-identical, and the repository stays valid"
"SIGKILL of vault|full backup: copying, writing chunks, waiting for WAL (killed at 50, 300, 800, 1500 ms)|no backup visible; the next backup succeeds; expire collects the leftovers after orphan_grace; the restore equals the source|SIGKILL at several points of a backup leaves the repository valid"
"SIGKILL of vault|incremental backup, 0, 100, 300 and 700 ms after its start (copying, writing its manifest, waiting for WAL)|each backup is complete or invisible; the repository check passes after each kill; the next incremental succeeds; the restore equals the source|SIGKILL of an incremental backup 0 to 700 ms after its start: complete or invisible, the repository check passes, the next incremental succeeds and restores exactly"
"SIGKILL of vault|restore, once the copy has begun|PostgreSQL refuses the directory (no pg_control yet); a plain restore refuses it; --delta finishes it, configuration files byte-identical, data equal to the source|SIGKILL of a restore: the directory cannot start (no pg_control yet), a plain restore refuses it, and --delta finishes it to the source's data"
"SIGKILL of vault|expire, 0, 2, 10 and 40 ms after it removed a head (packs and WAL still to go)|every listed backup passes the repository check; the next expire collects what was left; the newest restores exactly|SIGKILL of expire once it removed a head, at several points: every backup still listed passes the repository check, the next expire finishes the job, the newest restores exactly"
"SIGKILL of vault|switchover, while the target replays (old primary stopped) and right after the promotion|never two primaries; the old primary can only start as a standby of the target; failover and rejoin finish the job; every committed row is on the primary and both standbys stream|SIGKILL while the target replays (old primary stopped) and right after the promotion: never two primaries, the old primary can only start as a standby, and failover or rejoin finish the job with every committed row"
"SIGTERM of the scheduler|full backup running|the job is recorded as cancelled, nothing visible, vault check clean; the next start runs the missed full, which restores|SIGTERM during a backup abandons it cleanly; the next start runs the missed full; /metrics and vault metrics show it"
"SIGKILL of vault|verify, scratch server running|the next verify stops the stale server and removes its directory; a directory it did not mark is left|a verify killed outright leaves its scratch server and directory, which the next verify stops and removes; a look-alike directory it did not mark is left alone"
"SIGINT|verify, scratch server running|server stopped, directory removed, exit 130|SIGINT while the scratch PostgreSQL runs: it is stopped and its directory removed; --all verifies every backup"
"SIGKILL of vault|full backup on S3, lease held|the lease is refused to the next backup until it lapses, then taken over|leases: two concurrent backups never both run; a dead holder's lease is taken over once expired"
"process frozen past its lease|full backup on S3|the frozen backup writes no manifest after another took the lease over|a backup frozen past its lease, which another backup took over, writes no manifest"
"object store stopped and restarted|full backup and archive-push on S3|one clear error after retries, nothing visible; archive-push fails while the store is down and PostgreSQL's archiver catches up once it is back; the next backup succeeds and verifies|the object store dies during a backup and under the archiver: a clear error, nothing visible, archive-push fails until the store is back, then the archiver catches up and a backup succeeds"
"repository file system full|full backup and archive-push|one clear error each, no backup and no temporary file left; the push succeeds once there is room and the segment comes back whole|a backup or archive-push into a full disk fails with one clear error and leaves nothing behind; the push succeeds once there is room"
"database stopped (fast shutdown)|full backup copying|one error line, no backup visible; after a restart the next backup succeeds, passes the repository check and restores exactly|the database stopped under a running backup: one clear error, nothing visible, and the next backup after a restart succeeds"
"SIGKILL of the primary|under writes, then failover|every row a standby had is on the new primary; the archive has the new timeline; a backup after restores exactly|SIGKILL of the primary under writes, then failover: every row a standby had is on the new primary, the other standby follows, the archive has the new timeline, and a backup after the failover restores exactly"
"verify and expire at once|expire while verify restores the expired backup|reported as removed by expire, not as damage; nothing recorded|a backup expired while verify restores it is reported as expired, not as damage, and nothing is recorded"
"two backups at once|full backup|the second is refused by the lock|a second backup of the same shard at the same time is refused by the lock"
"backup and expire at once|expire while a full backup copies|expire refused by the shard's lock, naming the holder; the backup completes; expire and the repository check pass afterwards|expire while a backup runs is refused by the shard's lock, naming the holder; the backup completes and both pass afterwards"
"SIGKILL of vault|failover, once it stopped a standby's WAL receiver|never two primaries; running failover again finishes; rejoin brings the old primary back; every row the standbys had is kept and the standbys stream|SIGKILL of a failover once it froze the standbys: never two primaries, running it again finishes, rejoin brings the old primary back, every row the standbys had is kept"
"SIGKILL of the scheduler daemon|full backup running|nothing visible; locks free, vault check clean; the next start runs the missed full, recorded in the audit trail, which passes the repository check and restores|SIGKILL of the daemon during a backup: nothing visible, the locks are free, the next start runs the missed full, which is in the audit trail and restores"
"flipped byte, truncation, deletion, another object copied over its name|manifest head, pack, WAL segment, shard record, verification record (verify); root key file and later data key (any command)|each named; a deleted head is a removed backup (as expire would) and a deleted verification record a removed report; a swapped pack is not restored|manifest, pack, WAL, key file, later key, shard record and verification record: flipped, truncated, deleted or swapped, each is named by verify (or by the first command, for keys) and nothing is restored from it"
"pack deleted, byte flipped, chunk missing or foreign, WAL segment missing|verify|each named exactly; nothing left behind|a missing pack, a flipped byte, a missing or foreign manifest chunk, a missing WAL segment and a wrong smoke answer each fail, named exactly, with nothing left behind"
"manifest path escaping, unknown tablespace, piece past its extent|restore|refused before anything is written|a manifest with a path outside the data directory, an unknown tablespace or a piece past its extent is refused before anything is written"
"WAL segment byte flipped|recovery (archive-get)|recovery stops instead of promoting early|a flipped byte in a stored segment is detected and stops recovery"
"corrupt WAL segment mid-range|recovery|recovery stops instead of promoting early|a corrupt segment in the middle of the needed WAL stops recovery instead of promoting early"
"repository missing, shard gone, passphrase missing, repository unreadable|recovery (archive-get)|exit 128 stops recovery; exit 1 only for an archived-file answer of absent|archive-get exits 1 only when the repository answers that the file is absent; a missing repository, shard, passphrase or an unreadable repository stops recovery"
"audit record edited|audit|the edited record fails to open and is named|state-changing commands append authenticated records (user, host, command, shard, outcome); read-only ones do not; an edited record is named"
"temporary file of a killed writer|repository directory|found once older than the grace and removed; objects untouched|a temporary file of a killed writer is found once older than the grace and removed; the repository's objects are not touched"
"multipart upload left open by a killed writer|S3|aborted once older than the grace, by the store's clock|an unfinished multipart upload is found once older than the grace, by the store's clock, and aborted"
"a store that ignores conditional writes|init and check|refused before anything is written (probe)|SeaweedFS refuses failed conditional writes, so the probe init and check run passes and leaves no object behind"
)
not_covered=(
"SIGKILL of vault during rejoin (pg_rewind interrupted), and of a failover after its promotion"
"a deleted manifest head or audit record is not detected as damage: it reads as a removed backup or record"
"a lost keys/later/ record is named by vault key list through the audit trail, and by any command that meets an object sealed with it; the repository itself still opens"
)

if [ $# -ge 1 ]; then
  grep -E '(✔|✘) Test "' "$1" > "$log" || true
else
  export VAULT_TESTS_REQUIRE_ALL=1
  swift build --build-tests >/dev/null
  swift test --skip-build --filter "VaultIntegrationTests" 2>&1 | grep -E '(✔|✘) Test "' > "$log" || true
fi

{
  echo "# Reliability: the fault matrix"
  echo
  echo "Each row is a fault injected by an integration test against real PostgreSQL (and SeaweedFS for"
  echo "the object store), the phase it hits, and what the test proves afterwards. The result column"
  echo "is the run this file was written from (\`bash Tests/Reliability/fault-matrix.sh\`, $(date -u +%Y-%m-%d))."
  echo
  echo "| fault | phase | proved afterwards | result |"
  echo "|---|---|---|---|"
  for row in "${rows[@]}"; do
    IFS='|' read -r fault phase proved test <<<"$row"
    if grep -qF "✔ Test \"$test\"" "$log"; then result="passed"
    elif grep -qF "✘ Test \"$test\"" "$log"; then result="**FAILED**"
    else result="not run"; fi
    echo "| $fault | $phase | $proved | $result |"
  done
  echo
  echo "Not covered by a test yet:"
  echo
  for item in "${not_covered[@]}"; do echo "- $item"; done
} > "$out"
echo "wrote $out"
