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

/// Restores that follow a failover's new timeline, update a copy in place, or make a standby.
@Suite("restore across timelines, delta and standby against real PostgreSQL")
struct RestoreModesIntegrationTests {
    @Test("recovery follows a promoted copy's new timeline; timeline 1 stays reachable; targets beyond the archive are refused", arguments: PostgresVersion.available)
    func timelineSwitch(version: PostgresVersion) async throws {
        let f = try VaultFixture("restore-timeline-\(version.rawValue)")
        defer { f.cleanUp() }
        let server = try f.startInitialised(version)
        try server.sql("CREATE TABLE t(id int PRIMARY KEY)")
        try server.sql("INSERT INTO t SELECT generate_series(1, 5)")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        try server.sql("INSERT INTO t SELECT generate_series(6, 10)")
        try await waitUntilArchived(server, segment: try #require(try server.sql("SELECT pg_walfile_name(pg_switch_wal())")))

        // Targets the archive cannot reach are refused before anything is written.
        let refused = f.dir.path + "/refused"
        let beyondLSN = try f.vault(["restore", "--target-dir", refused, "--target-lsn", "FF/0"])
        #expect(beyondLSN.status == 6)
        #expect(beyondLSN.stderr.contains("missing from the archive (needed to reach LSN FF/0)"), "\(beyondLSN.stderr)")
        let future = Timestamp.format(Date().addingTimeInterval(3600))
        let beyondTime = try f.vault(["restore", "--target-dir", refused, "--point-in-time", future])
        #expect(beyondTime.status == 6)
        #expect(beyondTime.stderr.contains("does not reach"), "\(beyondTime.stderr)")
        #expect(!FileManager.default.fileExists(atPath: refused))

        // Failover: the primary is gone; a restored copy is promoted onto timeline 2 and keeps
        // archiving into the shard.
        server.stop()
        let promotedDir = f.dir.path + "/promoted"
        #expect(try f.vault(["restore", "--target-dir", promotedDir]).status == 0)
        let promoted = try PostgresServer(adopting: promotedDir, version: version, in: f.dir)
        defer { promoted.stop() }
        try promoted.configure(["port = \(promoted.port)"])
        try promoted.start()
        try await waitForPromotion(promoted)
        try promoted.sql("INSERT INTO t SELECT generate_series(11, 15)")
        let last = try #require(try promoted.sql("SELECT pg_walfile_name(pg_switch_wal())"))
        #expect(last.hasPrefix("00000002"))
        try await waitUntilArchived(promoted, segment: last)
        promoted.stop()

        let latest = try await f.restoreAndRecover("latest", version: version, [])
        defer { latest.stop() }
        #expect(try latest.sql("SELECT count(*) FROM t") == "15", "\(latest.log().suffix(2000))")
        #expect(try latest.sql("SELECT sum(id) FROM t") == "120")
        #expect(latest.log().contains("selected new timeline ID: 3"), "\(latest.log().suffix(2000))")
        #expect(!FileManager.default.fileExists(atPath: latest.dataDir + "/pg_wal/vault_prefetch"), "the prefetch spool is removed when recovery ends")
        let workers = processes(containing: ["--prefetch", f.dir.path])
        #expect(workers.isEmpty, "no prefetch worker outlives recovery: \(workers)")

        let first = try await f.restoreAndRecover("timeline-1", version: version, ["--target-timeline", "1"])
        defer { first.stop() }
        #expect(try first.sql("SELECT count(*) FROM t") == "10")
        first.stop()

        // Run by root, --start hands the restored directory to postgres and starts it as postgres.
        if ProcessRunner.isRoot {
            let dir = f.dir.path + "/by-root"
            let port = PortAllocator.allocate()
            let r = try ProcessRunner.run([VaultBinary.path, "--policy", f.policyFile, "restore", "--target-dir", dir, "--target-timeline", "1",
                                           "--start", "--port", "\(port)"], cwd: f.dir.path)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("recovery promoted"), "\(r.stdout)")
            let byRoot = try PostgresServer(adopting: dir, version: version, in: f.dir, port: port, running: true)
            defer { byRoot.stop() }
            #expect(try FileManager.default.attributesOfItem(atPath: dir + "/global/pg_control")[.ownerAccountName] as? String == "postgres")
            #expect(try byRoot.sql("SELECT count(*) FROM t") == "10")
        }
    }

    @Test("a delta restore after a small change writes a small fraction and restores the exact data", arguments: PostgresVersion.available)
    func delta(version: PostgresVersion) async throws {
        let f = try VaultFixture("restore-delta-\(version.rawValue)")
        defer { f.cleanUp() }
        let server = try f.startInitialised(version)
        try server.sql("CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 300000) g")
        try server.sql("ALTER TABLE big ADD PRIMARY KEY (id)")
        // Frozen, so reading the copy does not set hint bits on every page (that is a change too).
        try server.sql("VACUUM (FREEZE, ANALYZE) big")
        try server.sql("CHECKPOINT")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let checksum = "SELECT md5(string_agg(id::text || v, ',' ORDER BY id)) FROM big"
        let expected = try server.sql(checksum)
        try await waitUntilArchived(server, segment: try #require(try server.sql("SELECT pg_walfile_name(pg_switch_wal())")))

        let copy = try await f.restoreAndRecover("copy", version: version, ["--immediate"])
        // A running server is never overwritten.
        let running = try f.vault(["restore", "--target-dir", copy.dataDir, "--delta", "--immediate"])
        #expect(running.status == 6)
        #expect(running.stderr.contains("postmaster.pid exists"), "\(running.stderr)")
        try copy.sql("UPDATE big SET v = 'changed' WHERE id IN (50000, 100000, 150000, 200000, 250000, 300000)")
        try copy.sql("CHECKPOINT")
        copy.stop()
        try Data("stray".utf8).write(to: URL(fileURLWithPath: copy.dataDir + "/base/stray-file"))

        let r = try f.vault(["restore", "--target-dir", copy.dataDir, "--delta", "--immediate", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let written = try #require(report["bytesWritten"] as? Int)
        let unchanged = try #require(report["bytesUnchanged"] as? Int)
        #expect(written > 0)
        #expect(written * 10 < written + unchanged, "a small change must rewrite a small fraction: \(written) of \(written + unchanged) bytes")
        #expect(!FileManager.default.fileExists(atPath: copy.dataDir + "/base/stray-file"))

        let again = try PostgresServer(adopting: copy.dataDir, version: version, in: f.dir)
        defer { again.stop() }
        try again.configure(["port = \(again.port)", "archive_mode = off"])
        try again.start()
        try await waitForPromotion(again)
        #expect(try again.sql(checksum) == expected)
        #expect(try again.sql("SELECT count(*) FROM big WHERE v = 'changed'") == "0")
    }

    @Test("--standby --start makes a streaming replica of the shard's primary")
    func standby() async throws {
        let f = try VaultFixture("restore-standby")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try server.sql("CREATE TABLE t(id int)")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let dir = f.dir.path + "/standby"
        let port = PortAllocator.allocate()
        let r = try f.vault(["restore", "--target-dir", dir, "--standby", "--start", "--port", "\(port)"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("running as a standby"), "\(r.stdout)")
        let standby = try PostgresServer(adopting: dir, version: .v15, in: f.dir, port: port, running: true)
        defer { standby.stop() }
        #expect(FileManager.default.fileExists(atPath: dir + "/standby.signal"))
        try server.sql("INSERT INTO t SELECT generate_series(1, 100)")
        var seen: String?
        _ = try await poll(timeout: 60) {
            seen = try? standby.sql("SELECT count(*) FROM t")
            return seen == "100"
        }
        #expect(seen == "100", "the standby must stream the primary's new rows; log: \(standby.log().suffix(1500))")
        #expect(try standby.sql("SELECT status FROM pg_stat_wal_receiver") == "streaming")
        #expect(try standby.sql("SELECT pg_is_in_recovery()") == "t")
    }

    @Test("archive-get prefetches the following segments in the background and answers from the spool")
    func prefetch() async throws {
        let f = try VaultFixture("restore-prefetch")
        defer { f.cleanUp() }
        let server = try f.startServer(.v15)
        try f.writePolicy(server: server, extra: "archive: {get_ahead: 3}")
        try server.start()
        try f.initRepository()
        try server.sql("CREATE TABLE t(id int)")
        var segments: [String] = []
        for i in 0..<5 {
            try server.sql("INSERT INTO t SELECT generate_series(\(i * 1000), \(i * 1000 + 999))")
            segments.append(try #require(try server.sql("SELECT pg_walfile_name(pg_switch_wal())")))
        }
        try await waitUntilArchived(server, segment: try #require(segments.last))

        // As PostgreSQL runs restore_command: in the data directory, %p under pg_wal.
        let wal = f.dir.path + "/recovering/pg_wal"
        try FileManager.default.createDirectory(atPath: wal, withIntermediateDirectories: true)
        try TestDirectory.giveToPostgres(f.dir.path + "/recovering")
        let spool = wal + "/vault_prefetch"
        let first = try f.vault(["--log-level", "debug", "archive-get", segments[0], "pg_wal/RECOVERYXLOG"], cwd: f.dir.path + "/recovering")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("restored \(segments[0]) (16777216 bytes)"), "\(first.stderr)")
        // The worker runs on after archive-get returned: wait for its three segments.
        for s in segments[1...3] { #expect(waitForFile(spool + "/" + s, timeout: 60), "\(s) was not prefetched") }
        #expect(!FileManager.default.fileExists(atPath: spool + "/" + segments[4]), "no more than get_ahead segments ahead")

        let second = try f.vault(["--log-level", "debug", "archive-get", segments[1], "pg_wal/RECOVERYXLOG"], cwd: f.dir.path + "/recovering")
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("restored \(segments[1]) from the prefetch spool"), "\(second.stderr)")
        let original = FileManager.default.contents(atPath: server.dataDir + "/pg_wal/" + segments[1])
        #expect(FileManager.default.contents(atPath: wal + "/RECOVERYXLOG") == original, "the spooled copy is byte-identical")

        // The end of archived WAL removes the spool.
        let missing = try f.vault(["archive-get", "0000000100000000000000FF", "pg_wal/RECOVERYXLOG"], cwd: f.dir.path + "/recovering")
        #expect(missing.status == 1)
        #expect(!FileManager.default.fileExists(atPath: spool))
    }
}
