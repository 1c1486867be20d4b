import Foundation
import Testing
import VaultSupport
import VaultSystem
import VaultStorage
import VaultCrypto
import VaultPostgres
import VaultPolicy
import VaultFormat
import VaultOperations

/// The repository in a real object store: SeaweedFS's S3 API on loopback.
@Suite("S3 repositories on SeaweedFS against real PostgreSQL")
struct S3IntegrationTests {
    static let accountsSum = "SELECT md5(string_agg(aid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts"

    /// A fixture whose repository is a fresh bucket of `store`, with a credentials file the
    /// postgres user can read, and a running, initialised PostgreSQL 15 archiving into it.
    static func start(_ name: String, store: SeaweedFS, secretKey: String = SeaweedFS.secretKey, leaseSeconds: Int = 60,
                      extra: String = "") async throws -> (VaultFixture, PostgresServer, String) {
        let f = try VaultFixture(name)
        let bucket = try await store.makeBucket(name)
        let credentials = try f.dir.write("s3.credentials", "[default]\naws_access_key_id = \(SeaweedFS.accessKey)\naws_secret_access_key = \(secretKey)\n")
        f.repositoryYAML = store.policyLines(bucket: bucket, credentialsFile: credentials, leaseSeconds: leaseSeconds)
        let server = try f.startServer(.v15)
        try f.writePolicy(server: server, extra: "verify: {scratch: \(f.dir.path)/scratch}\n\(extra)")
        try server.start()
        try f.initRepository()
        return (f, server, bucket)
    }

    /// Sleeps until the shard lock's lease in `storage` has lapsed by the store's clock.
    static func waitForLeaseExpiry(_ storage: S3Storage) async throws {
        let held = try #require(try await storage.get("main/locks/backup.lock"))
        let expires = try #require((try JSONSerialization.jsonObject(with: Data(held)) as? [String: Any])?["expires"] as? Double)
        // The store judges by its whole-second Last-Modified plus one second of slack.
        try await Task.sleep(nanoseconds: UInt64(max(0, expires - Date().timeIntervalSince1970 + 2.5) * 1e9))
    }

    static func pgbench(_ server: PostgresServer, scale: Int) throws {
        try ProcessRunner.check([server.bindir + "/pgbench", "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "postgres", "-i", "-s", "\(scale)", "-q", "postgres"], asPostgres: true)
    }

    @Test("archive, full and incremental backup, restore, verify and expire against S3; a deleted pack is named by verify")
    func lifecycle() async throws {
        let store = try await SeaweedFS.shared()
        let (f, server, bucket) = try await Self.start("s3-lifecycle", store: store, extra: "defaults: {retention: {full_backups: 1}}")
        defer { f.cleanUp() }
        try Self.pgbench(server, scale: 2)
        let full = try f.vault(["backup", "--type", "full"])
        #expect(full.status == 0, "\(full.stderr)")
        try server.sql("UPDATE pgbench_accounts SET abalance = aid % 89 WHERE aid % 7 = 0")
        let incremental = try f.vault(["backup", "--type", "incremental"])
        #expect(incremental.status == 0, "\(incremental.stderr)")
        let expected = try server.sql(Self.accountsSum)
        try await waitUntilArchived(server, segment: try #require(try server.sql("SELECT pg_walfile_name(pg_switch_wal())")))

        // What PostgreSQL archived is in the bucket, byte for byte.
        let objects = try await store.storage(bucket: bucket).list(prefix: "main/wal")
        #expect(objects.count >= 3, "\(objects)")

        let copy = try await f.restoreAndRecover("restored", version: .v15, [])
        #expect(try copy.sql(Self.accountsSum) == expected)
        copy.stop()

        let verify = try f.vault(["verify"])
        #expect(verify.status == 0, "\(verify.stdout)\n\(verify.stderr)")
        #expect(verify.stdout.contains("PASSED"), "\(verify.stdout)")

        // A second full: retention keeps one full, but never the verified incremental.
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let bucketStorage = try store.storage(bucket: bucket)
        let before = try await bucketStorage.listSizes(prefix: "main")
        let expire = try f.vault(["expire", "--json"])
        #expect(expire.status == 0, "\(expire.stderr)")
        let result = try #require(try JSONSerialization.jsonObject(with: Data(expire.stdout.utf8)) as? [String: Any])
        // What expire says it freed is exactly the size of the objects that left the bucket
        // (PostgreSQL may archive a backup history file meanwhile: only removals count).
        let after = Set(try await bucketStorage.list(prefix: "main"))
        let removed = before.filter { !after.contains($0.name) }
        #expect((result["expiredBackups"] as? [String])?.count == 1, "\(result)")
        #expect(!removed.isEmpty)
        #expect(result["bytesFreed"] as? Int64 == removed.reduce(0) { $0 + $1.size }, "\(result), removed \(removed.map(\.name))")
        let repository = try await Repository.open(storage: try store.storage(bucket: bucket), compressionLevel: 3) { () -> KeySecret? in
            .passphrase(Passphrase(bytes: Array("correct horse battery staple 0123456789".utf8)))
        }
        let kept = try await repository.backups(shard: "main")
        #expect(kept.map(\.kind) == [.incremental, .full], "the verified incremental (self-contained) and the newest full: \(kept.map(\.id))")

        // Delete one pack the newest backup needs: verify names it.
        let newest = try #require(kept.last)
        let pack = try #require(newest.packs.sorted().first)
        try await repository.storage.delete(pack)
        let damaged = try f.vault(["verify", "--repository-only"])
        #expect(damaged.status == 10)
        #expect(damaged.stderr.contains("\(pack): missing"), "\(damaged.stderr)")
    }

    @Test("a wrong secret key is one clear error before any work")
    func wrongSecret() async throws {
        let store = try await SeaweedFS.shared()
        let (f, server, bucket) = try await Self.start("s3-wrong-secret", store: store)
        defer { f.cleanUp() }
        let before = try await store.storage(bucket: bucket).list(prefix: "")
        _ = try f.dir.write("s3.credentials", "[default]\naws_access_key_id = \(SeaweedFS.accessKey)\naws_secret_access_key = not-the-secret\n")
        let r = try f.vault(["backup", "--type", "full"])
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("error: \(store.endpoint) refused the S3 credentials for bucket \(bucket)"), "\(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
        #expect(!r.stderr.contains("not-the-secret"))
        #expect(try await store.storage(bucket: bucket).list(prefix: "") == before, "nothing written")
        _ = server
    }

    @Test("leases: two concurrent backups never both run; a dead holder's lease is taken over once expired")
    func leases() async throws {
        let store = try await SeaweedFS.shared()
        // Long enough that a busy test machine starts the next vault well inside it (15 s was
        // not: under the full suite, 13 s passed between the kill and the next vault's check;
        // with 30 s, a lease renewed 10 s before the kill expired before the check once).
        let (f, server, bucket) = try await Self.start("s3-leases", store: store, leaseSeconds: 90)
        defer { f.cleanUp() }
        try Self.pgbench(server, scale: 8)
        let log = f.dir.path + "/backups.log"
        let argv = [VaultBinary.path, "--policy", f.policyFile, "backup", "--type", "full"]
        let a = try ProcessRunner.spawnAsPostgres(argv, logTo: log)
        let b = try ProcessRunner.spawnAsPostgres(argv, logTo: log)
        let statuses = [ProcessRunner.wait(a), ProcessRunner.wait(b)].sorted()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(statuses == [0, 6], "exactly one backup runs: \(statuses)\n\(output)")
        #expect(output.contains("is held by vault backup"), "\(output)")

        // A backup killed mid-way leaves its lease behind; the next one is refused until the
        // lease expires, then takes it over.
        let lease = try store.storage(bucket: bucket)
        let killedLog = f.dir.path + "/killed.log"
        let killed = try ProcessRunner.spawnAsPostgres(argv, logTo: killedLog)
        // "started at" is logged once the lease is held and the copy begins.
        #expect(waitForText(" started at ", in: killedLog), "the backup never started")
        kill(killed, SIGKILL)
        _ = ProcessRunner.wait(killed)
        let holder = try await lease.get("main/locks/backup.lock").map { String(decoding: $0, as: UTF8.self) }
        #expect(holder?.contains("vault backup pid \(killed)") == true, "the killed backup left its lease: \(holder ?? "no lease")")
        let refused = try f.vault(["backup", "--type", "full"])
        #expect(refused.status == 6, "\(refused.stderr)")
        #expect(refused.stderr.contains("main/locks/backup.lock is held by vault backup pid \(killed)"), "\(refused.stderr)")
        try await Self.waitForLeaseExpiry(lease)
        let after = try f.vault(["backup", "--type", "full"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(after.stderr.contains("took over the lease"), "\(after.stderr)")
    }

    @Test("a backup frozen past its lease, which another backup took over, writes no manifest")
    func lostLease() async throws {
        let store = try await SeaweedFS.shared()
        let (f, server, bucket) = try await Self.start("s3-lost-lease", store: store, leaseSeconds: 4)
        defer { f.cleanUp() }
        try Self.pgbench(server, scale: 8)
        let lease = try store.storage(bucket: bucket)
        let frozenLog = f.dir.path + "/frozen.log"
        let frozen = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "backup", "--type", "full"], logTo: frozenLog)
        #expect(waitForText(" started at ", in: frozenLog), "the backup never started")
        kill(frozen, SIGSTOP)
        defer { kill(frozen, SIGKILL) }
        // Past the frozen holder's expiry, another backup takes the lease over and finishes.
        try await Self.waitForLeaseExpiry(lease)
        let other = try f.vault(["backup", "--type", "full"])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stderr.contains("took over the lease"), "\(other.stderr)")

        kill(frozen, SIGCONT)
        let (status, output) = ProcessRunner.finish(frozen, log: frozenLog)
        #expect(status == 6, "\(output)")
        #expect(output.contains("error: lost the lease"), "\(output)")
        let list = try f.vault(["list", "--json"])
        let ids = (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])?.compactMap { $0["id"] as? String }
        #expect(ids?.count == 1, "only the backup that held the lease is visible: \(ids ?? [])")
        #expect(try f.vault(["verify", "--repository-only"]).status == 0)
    }

    @Test("the object store dies during a backup and under the archiver: a clear error, nothing visible, archive-push fails until the store is back, then the archiver catches up and a backup succeeds")
    func storeDies() async throws {
        let store = try SeaweedFS(name: "dies")
        try await store.start()
        defer { store.destroy() }
        let (f, server, bucket) = try await Self.start("s3-store-dies", store: store, leaseSeconds: 4)
        defer { f.cleanUp() }
        try Self.pgbench(server, scale: 20)
        let log = f.dir.path + "/backup.log"
        let backup = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "backup", "--type", "full"], logTo: log)
        // Killed a second after the copy began, with most of it still to go.
        #expect(waitForText(" started at ", in: log), "the backup never started")
        usleep(1_000_000)
        store.crash()
        let (status, output) = ProcessRunner.finish(backup, log: log)
        #expect(status == 8, "\(output)")
        #expect(output.contains("error: cannot"), "\(output)")
        #expect(output.contains("(after 5 attempts)"), "\(output)")

        // PostgreSQL's archiver meets the stopped store too: archive-push fails (never
        // success), and once the store is back the archiver catches up on its own.
        let failedBefore = Int(try server.sql("SELECT failed_count FROM pg_stat_archiver") ?? "0") ?? 0
        let pending = try #require(try server.sql("SELECT pg_walfile_name(pg_switch_wal())"))
        #expect(try await poll(timeout: 120) { (Int(try server.sql("SELECT failed_count FROM pg_stat_archiver") ?? "0") ?? 0) > failedBefore })
        #expect((try server.sql("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") ?? "") < pending, "nothing archived while the store is down")

        try await store.start()
        try await waitUntilArchived(server, segment: pending, timeout: 180)
        // The failed backup could not release its lease while the store was down; it expires.
        try await Task.sleep(nanoseconds: 4_500_000_000)
        let list = try f.vault(["list", "--json"])
        let listed = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [Any]
        #expect(listed?.count == 0, "the interrupted backup is invisible: \(list.stdout)")
        // The retry runs under a lease a loaded machine can keep: with 4 s, one renewal late by
        // a few seconds (the whole suite shares two cores) loses it and the backup stops.
        f.repositoryYAML = store.policyLines(bucket: bucket, credentialsFile: f.dir.path + "/s3.credentials", leaseSeconds: 60)
        let longLease = try f.writePolicy(server: server, file: "long-lease.yaml", extra: "verify: {scratch: \(f.dir.path)/scratch}\n")
        let retry = try f.vault(["backup", "--type", "full"], policy: longLease)
        #expect(retry.status == 0, "\(retry.stderr)")
        let verify = try f.vault(["verify", "--repository-only"], policy: longLease)
        #expect(verify.status == 0, "\(verify.stdout)\n\(verify.stderr)")
    }
}

/// TLS to the object store is verified: with the policy's CA bundle it works, without it the
/// store's self-signed certificate is refused at once, in one clear line.
@Suite("S3 over TLS on SeaweedFS")
struct S3TLSIntegrationTests {
    @Test("a private CA named in ca_file is trusted; without it the certificate is refused before any work")
    func tls() async throws {
        let store = try await SeaweedFS.shared()
        let f = try VaultFixture("s3-tls")
        defer { f.cleanUp() }
        let bucket = try await store.makeBucket("s3-tls")
        let credentials = try f.dir.write("s3.credentials", "aws_access_key_id = \(SeaweedFS.accessKey)\naws_secret_access_key = \(SeaweedFS.secretKey)\n")
        let server = try f.startServer(.v15)
        f.repositoryYAML = "repository:\n  s3: {endpoint: \"\(store.tlsEndpoint)\", bucket: \(bucket), credentials_file: \(credentials)}"
        try f.writePolicy(server: server)
        try server.start()
        let untrusted = try f.vault(["init"])
        #expect(untrusted.status == 8, "\(untrusted.stderr)")
        #expect(untrusted.stderr.hasPrefix("error: TLS with \(store.tlsEndpoint) failed:"), "\(untrusted.stderr)")
        #expect(untrusted.stderr.contains("repository.s3.ca_file"))

        f.repositoryYAML = "repository:\n  s3: {endpoint: \"\(store.tlsEndpoint)\", bucket: \(bucket), credentials_file: \(credentials), ca_file: \(store.caFile)}"
        try f.writePolicy(server: server)
        #expect(try f.vault(["init"]).status == 0)
        try server.sql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
        let backup = try f.vault(["backup", "--type", "full"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let copy = try await f.restoreAndRecover("restored", version: .v15, ["--immediate"])
        #expect(try copy.sql("SELECT count(*) FROM t") == "1000")
    }
}

/// Listing and deleting at a scale where S3 pages its answers.
@Suite("S3 listing and batch delete on SeaweedFS")
struct S3ListingIntegrationTests {
    @Test("SeaweedFS refuses failed conditional writes, so the probe init and check run passes and leaves no object behind")
    func conditionalWrites() async throws {
        let store = try await SeaweedFS.shared()
        let storage = try store.storage(bucket: try await store.makeBucket("s3-probe"))
        try await storage.probeConditionalWrites()
        #expect(try await storage.list(prefix: "probes").isEmpty)
        // What the probe relies on, asked directly: a second create and a stale If-Match fail.
        #expect(try await storage.putIfAbsent("main/once", [1]))
        #expect(try await !storage.putIfAbsent("main/once", [2]))
        #expect(try await storage.get("main/once") == [1])
    }

    @Test("a listing pages through 1,050 objects under a prefix with their sizes, and a batch delete removes them all")
    func pagination() async throws {
        let store = try await SeaweedFS.shared()
        let storage = try store.storage(bucket: try await store.makeBucket("s3-pages"))
        let names = (0..<1050).map { String(format: "main/wal/00000001/%024X", $0) }
        let work = names
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<8 {
                group.addTask {
                    for name in work[lane...].enumerated().filter({ $0.offset % 8 == 0 }).map(\.element) {
                        try await storage.put(name, Array(name.utf8))
                    }
                }
            }
            try await group.waitForAll()
        }
        try await storage.put("main/walrus", [1])
        let listed = try await storage.list(prefix: "main/wal")
        #expect(listed == names.sorted(), "\(listed.count) listed")
        // Sizes come with the listing (each object holds its own name: 42 bytes).
        let sized = try await storage.listSizes(prefix: "main/wal")
        #expect(sized.map(\.name) == listed)
        #expect(sized.allSatisfy { $0.size == 42 })
        try await storage.delete(Array(names.prefix(1020)))
        #expect(try await storage.list(prefix: "main/wal") == Array(names.sorted().suffix(30)))
        #expect(try await storage.get("main/walrus") == [1])
    }
}
