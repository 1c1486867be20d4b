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

/// Restores after a point-in-time restore became the shard's primary: a new timeline that
/// branches before the newest backup, and recovery settings inherited from that restore.
@Suite("timelines and inherited recovery settings against real PostgreSQL")
struct TimelineCorrectnessIntegrationTests {
    /// The rows of `t` in one string, so two servers can be compared exactly.
    static let digest = "SELECT md5(string_agg(id || ':' || v, ',' ORDER BY id)) FROM t"

    @Test("a primary restored to a point before the newest backup: incremental refused, auto takes a full one; restoring that with --immediate or to the end of WAL works and equals the primary",
          arguments: PostgresVersion.available)
    func branchBeforeNewestBackup(version: PostgresVersion) async throws {
        let f = try VaultFixture("timeline-branch-\(version.rawValue)")
        defer { f.cleanUp() }
        let server = try f.startInitialised(version)
        try server.sql("CREATE TABLE t(id int PRIMARY KEY, v text)")
        try server.sql("INSERT INTO t SELECT g, 'initial' FROM generate_series(1, 20000) g")
        let b1 = try f.vault(["backup", "--type", "full"])
        #expect(b1.status == 0, "\(b1.stderr)")

        // Between the two backups: a change, the point-in-time target, then a lot more.
        try server.sql("UPDATE t SET v = 'before-target' WHERE id % 10 = 0")
        let target = try #require(try server.sql("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"))
        let atTarget = try server.sql(Self.digest)
        try await Task.sleep(nanoseconds: 50_000_000)
        try server.sql("UPDATE t SET v = 'abandoned-' || id")
        let b2 = try f.vault(["backup", "--type", "full"])
        #expect(b2.status == 0, "\(b2.stderr)")
        server.stop()

        // The copy restored to the target becomes the shard's primary on timeline 2 and archives.
        let dir = f.dir.path + "/timeline-2"
        let pitr = try f.vault(["restore", "--target-dir", dir, "--point-in-time", target, "--target-action", "promote"])
        #expect(pitr.status == 0, "\(pitr.stderr)")
        let primary = try PostgresServer(adopting: dir, version: version, in: f.dir)
        defer { primary.stop() }
        try primary.configure(["port = \(primary.port)"])
        try primary.start()
        try await waitForPromotion(primary)
        #expect(try primary.sql(Self.digest) == atTarget, "the point-in-time restore holds the rows at the target")
        try f.writePolicy(server: primary)
        try primary.sql("UPDATE t SET v = 'timeline-2' WHERE id <= 5")
        let segment = try #require(try primary.sql("SELECT pg_walfile_name(pg_switch_wal())"))
        #expect(segment.hasPrefix("00000002"))
        try await waitUntilArchived(primary, segment: segment)

        // An incremental on the timeline-1 backup would take every page unchanged since the
        // branch from the abandoned history.
        let incremental = try f.vault(["backup", "--type", "incremental"])
        #expect(incremental.status == 6, "\(incremental.stderr)")
        #expect(incremental.stderr.contains("left timeline 1 at"), "\(incremental.stderr)")
        #expect(incremental.stderr.contains("take a full backup"), "\(incremental.stderr)")
        let auto = try f.vault(["backup", "--type", "auto"])
        #expect(auto.status == 0, "\(auto.stderr)")
        #expect((auto.stdout + auto.stderr).contains("taking a full backup"), "auto says why: \(auto.stdout) \(auto.stderr)")
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(try f.vault(["list", "--json"]).stdout.utf8)) as? [[String: Any]])
        let newest = try #require(listed.last)
        #expect(newest["type"] as? String == "full", "\(newest)")
        #expect(newest["timeline"] as? Int == 2, "\(newest)")
        let atBackup = try primary.sql(Self.digest)

        try primary.sql("UPDATE t SET v = 'after-backup' WHERE id > 19990")
        let afterBackup = try primary.sql(Self.digest)
        try await waitUntilArchived(primary, segment: try #require(try primary.sql("SELECT pg_walfile_name(pg_switch_wal())")))

        // The new full backup carries the first restore's recovery_target_time in its
        // postgresql.auto.conf; restore removes it and says so.
        let immediateDir = f.dir.path + "/immediate"
        let immediate = try f.vault(["restore", "--target-dir", immediateDir, "--immediate"])
        #expect(immediate.status == 0, "\(immediate.stderr)")
        let removedLine = immediate.stdout.split(separator: "\n").first { $0.hasPrefix("removed recovery settings inherited from the backup's source:") } ?? ""
        #expect(removedLine.contains("postgresql.auto.conf: recovery_target_time") && removedLine.contains("postgresql.auto.conf: restore_command"), "\(immediate.stdout)")
        let auto1 = try String(contentsOfFile: immediateDir + "/postgresql.auto.conf", encoding: .utf8)
        #expect(!auto1.contains("recovery_target_time"), "\(auto1)")
        #expect(auto1.components(separatedBy: "restore_command").count == 2, "one restore_command: \(auto1)")
        let copy = try PostgresServer(adopting: immediateDir, version: version, in: f.dir)
        defer { copy.stop() }
        try copy.configure(["port = \(copy.port)", "archive_mode = off"])
        try copy.start()
        try await waitForPromotion(copy)
        #expect(try copy.sql(Self.digest) == atBackup, "--immediate stops at the backup's end: \(copy.log().suffix(1500))")
        copy.stop()

        let latest = try await f.restoreAndRecover("end-of-wal", version: version, [])
        defer { latest.stop() }
        #expect(try latest.sql(Self.digest) == afterBackup, "recovery to the end of WAL does not stop at the old target: \(latest.log().suffix(1500))")
        #expect(try latest.sql(Self.digest) == primary.sql(Self.digest))
    }

    @Test("archive-get exits 1 only when the repository answers that the file is absent; a missing repository, shard, passphrase or an unreadable repository stops recovery")
    func archiveGetNeverMistakesFailureForEnd() async throws {
        let f = try VaultFixture("timeline-archive-get")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        let segment = try #require(try server.sql("SELECT pg_walfile_name(pg_switch_wal())"))
        try await waitUntilArchived(server, segment: segment)
        let dest = f.dir.path + "/fetched"
        let absent = "0000000100000000000000FE"

        #expect(try f.vault(["archive-get", segment, dest]).status == 0)
        let missing = try f.vault(["archive-get", absent, dest])
        #expect(missing.status == 1, "the repository answered: not archived: \(missing.stderr)")

        func expectStops(_ what: String, policy: String? = nil, _ message: String) throws {
            let r = try f.vault(["archive-get", absent, dest], policy: policy)
            #expect(r.status == 128, "\(what): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(message), "\(what): \(r.stderr)")
            #expect(r.stderr.contains("stopping recovery"), "\(what): \(r.stderr)")
        }
        // The repository's volume is not mounted.
        f.repositoryYAML = "repository:\n  path: \(f.dir.path)/unmounted"
        let unmounted = try f.writePolicy(server: server, file: "unmounted.yaml")
        f.repositoryYAML = nil
        try expectStops("repository missing", policy: unmounted, "no repository at")
        // The passphrase file is gone.
        let noKey = try f.writePolicy(server: server, file: "no-passphrase.yaml", passphraseFile: f.dir.path + "/gone")
        try expectStops("passphrase missing", policy: noKey, "gone")
        // The shard's directory is gone.
        try FileManager.default.moveItem(atPath: f.repositoryPath + "/main", toPath: f.repositoryPath + "/moved")
        try expectStops("shard missing", "shard main is not initialised")
        try FileManager.default.moveItem(atPath: f.repositoryPath + "/moved", toPath: f.repositoryPath + "/main")
        // The repository cannot be read (vault runs as postgres here).
        chmod(f.repositoryPath, 0o000)
        try expectStops("repository unreadable", "Permission denied")
        chmod(f.repositoryPath, 0o750)

        // On a standby the same failure exits 1 with a loud line, so it goes on streaming.
        let standbyDir = f.dir.path + "/standby-cwd"
        try FileManager.default.createDirectory(atPath: standbyDir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: standbyDir + "/standby.signal", contents: Data())
        try TestDirectory.giveToPostgres(standbyDir)
        let onStandby = try f.vault(["archive-get", absent, dest], policy: unmounted, cwd: standbyDir)
        #expect(onStandby.status == 1, "\(onStandby.stderr)")
        #expect(onStandby.stderr.contains("falling back to streaming replication"), "\(onStandby.stderr)")
        #expect(try f.vault(["archive-get", segment, dest]).status == 0, "the repository is back")
    }
}
