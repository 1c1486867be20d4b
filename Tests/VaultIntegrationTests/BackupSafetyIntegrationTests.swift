import Foundation
import Testing
@testable import VaultSupport
@testable import VaultSystem
@testable import VaultStorage
@testable import VaultCrypto
@testable import VaultPostgres
@testable import VaultPolicy
@testable import VaultFormat
@testable import VaultOperations

/// Backups read the right cluster, keep what can be restored, and restore trusts no manifest.
@Suite("backup sources, retention and manifests against real PostgreSQL")
struct BackupSafetyIntegrationTests {
    @Test("a standby's pgdata naming another cluster, or the primary's directory, is refused naming the node; its own directory is backed up")
    func standbyDirectoryProof() async throws {
        let f = try VaultFixture("safety-standby-dir")
        defer { f.cleanUp() }
        let primary = try f.startInitialised(.v15)
        try primary.sql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
        let standby = try f.startStandby(of: primary)
        let other = try PostgresServer(version: .v15, in: f.dir, name: "other-cluster")
        func policy(standbyPGData: String) throws -> String {
            try f.writeStandbyPolicy(primary: primary, standby: standby, from: "standby", standbyPGData: standbyPGData,
                                     file: "standby-\(abs(standbyPGData.hashValue)).yaml")
        }
        let cases: [(String, String)] = [
            (primary.dataDir, "is used by the server on port \(primary.port), but the node answers on port \(standby.port)"),
            (other.dataDir, "holds cluster"),
            (f.dir.path + "/nothing-here", "cannot prove"),
        ]
        for (dir, message) in cases {
            let r = try f.vault(["backup", "--type", "full"], policy: try policy(standbyPGData: dir))
            #expect(r.status == 6, "\(dir): \(r.stderr)")
            #expect(r.stderr.hasPrefix("error: node standby: "), "\(r.stderr)")
            #expect(r.stderr.contains(message), "\(r.stderr)")
        }
        #expect(try await f.openRepository().backupIDs(shard: "main").isEmpty, "nothing was stored")
        let good = try f.vault(["backup", "--type", "full"], policy: try policy(standbyPGData: standby.dataDir))
        #expect(good.status == 0, "\(good.stderr)")

        // pg_control is read whole, proved by its CRC; a flipped byte is not.
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: standby.dataDir + "/global/pg_control")))
        let control = try #require(ControlFile(bytes: bytes))
        #expect(String(control.systemIdentifier) == (try primary.sql("SELECT system_identifier::text FROM pg_control_system()")))
        var flipped = bytes
        flipped[40] ^= 0x01
        #expect(ControlFile(bytes: flipped) == nil)
        let manifest = try #require(try await f.openRepository().backups(shard: "main").first)
        let stored = try #require(manifest.files.first { $0.path == "global/pg_control" })
        #expect(stored.size == 8192 && stored.pieces.count == 1)
        // Copied after every other file: its extent is the last one appended to its pack.
        let extent = manifest.extents[stored.pieces[0].extent]
        let later = manifest.extents.filter { $0.pack == extent.pack && $0.offset > extent.offset }
        #expect(later.isEmpty, "pg_control is stored last; after it: \(later.count) extents")
    }

    @Test("an incremental from a standby that has not replayed up to its parent's stop is refused; auto takes a full backup")
    func standbyBehindParent() async throws {
        let f = try VaultFixture("safety-standby-behind")
        defer { f.cleanUp() }
        let primary = try f.startInitialised(.v15)
        try primary.sql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
        let standby = try f.startStandby(of: primary)
        func policy(_ from: String) throws -> String {
            try f.writeStandbyPolicy(primary: primary, standby: standby, from: from, primaryPGData: primary.dataDir,
                                     standbyPGData: standby.dataDir, file: "from-\(from).yaml")
        }
        // The standby stops replaying; the primary moves on and is backed up (as
        // prefer-standby does when no standby answers).
        try standby.sql("SELECT pg_wal_replay_pause()")
        try primary.sql("INSERT INTO t SELECT generate_series(1001, 50000)")
        let parent = try f.vault(["backup", "--type", "full"], policy: try policy("primary"))
        #expect(parent.status == 0, "\(parent.stderr)")
        let behind = try f.vault(["backup", "--type", "incremental"], policy: try policy("standby"))
        #expect(behind.status == 6, "\(behind.stderr)")
        #expect(behind.stderr.contains("the standby has replayed WAL only to"), "\(behind.stderr)")
        let auto = try f.vault(["backup", "--type", "auto"], policy: try policy("standby"))
        #expect(auto.status == 0, "\(auto.stderr)")
        #expect((auto.stdout + auto.stderr).contains("taking a full backup"), "\(auto.stderr)")
        try standby.sql("SELECT pg_wal_replay_resume()")
    }

    @Test("with a broken archive_command, fulls whose WAL never arrives do not count toward retention: expire keeps the last restorable full, which restores")
    func retentionCountsRestorableFulls() async throws {
        let f = try VaultFixture("safety-retention")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try f.writePolicy(server: server, shardExtra: "backup: {archive_timeout: 2s}\nretention: {full_backups: 1}")
        try server.sql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
        let good = try f.vault(["backup", "--type", "full", "--json"])
        #expect(good.status == 0, "\(good.stderr)")
        struct ID: Decodable { var id: String }
        let goodID = try JSONDecoder().decode(ID.self, from: Data(good.stdout.utf8)).id

        server.stop()
        try server.configure(["archive_command = '\(VaultBinary.path) --policy /nonexistent/vault.yaml archive-push %p'"])
        try server.start()
        try server.sql("INSERT INTO t SELECT generate_series(1001, 2000)")
        for _ in 0..<2 {
            let broken = try f.vault(["backup", "--type", "full"])
            #expect(broken.status == 10, "\(broken.stderr)")
        }
        let expire = try f.vault(["expire", "--json"])
        #expect(expire.status == 0, "\(expire.stderr)")
        struct Expired: Decodable { var expiredBackups: [String]; var keptBackups: [String]; var unrestorableFulls: [String] }
        let result = try JSONDecoder().decode(Expired.self, from: Data(expire.stdout.utf8))
        #expect(result.expiredBackups.isEmpty, "\(expire.stdout)")
        #expect(result.keptBackups.first == goodID)
        #expect(result.unrestorableFulls.count == 2)
        let copy = try await f.restoreAndRecover("restored", version: .v15, ["--backup", goodID, "--immediate"])
        defer { copy.stop() }
        #expect(try copy.sql("SELECT count(*) FROM t") == "1000")
    }

    @Test("a pg_wal linked elsewhere (initdb -X) is backed up as an empty directory; the copy starts and holds the data", arguments: PostgresVersion.available)
    func linkedWALDirectory(version: PostgresVersion) async throws {
        let f = try VaultFixture("safety-linked-wal-\(version.rawValue)")
        defer { f.cleanUp() }
        let server = try f.startServer(version)
        let walDir = f.dir.path + "/wal-elsewhere"
        try FileManager.default.moveItem(atPath: server.dataDir + "/pg_wal", toPath: walDir)
        try FileManager.default.createSymbolicLink(atPath: server.dataDir + "/pg_wal", withDestinationPath: walDir)
        _ = try ProcessRunner.run(["/bin/chown", "-h", "postgres:postgres", server.dataDir + "/pg_wal"])
        try f.writePolicy(server: server)
        try server.start()
        try f.initRepository()
        try server.sql("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g")
        let b = try f.vault(["backup", "--type", "full"])
        #expect(b.status == 0, "\(b.stderr)")
        let manifest = try #require(try await f.openRepository().backups(shard: "main").first)
        #expect(manifest.directories.contains { $0.path == "pg_wal" } && manifest.directories.contains { $0.path == "pg_wal/archive_status" })
        #expect(!manifest.files.contains { $0.path.hasPrefix("pg_wal/") })
        let copy = try await f.restoreAndRecover("restored", version: version, ["--immediate"])
        defer { copy.stop() }
        #expect(try copy.sql("SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t") == (try server.sql("SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t")))
    }

    @Test("a manifest with a path outside the data directory, an unknown tablespace or a piece past its extent is refused before anything is written")
    func untrustedManifest() async throws {
        let f = try VaultFixture("safety-manifest")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try server.sql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let repository = try await f.openRepository()
        let original = try #require(try await repository.backups(shard: "main").first)
        let tampers: [(String, (inout BackupManifest) -> Void)] = [
            ("path '../escaped' is not a plain relative path", { $0.files[0].path = "../escaped" }),
            ("path '/etc/passwd-copy' is not a plain relative path", { $0.files[0].path = "/etc/passwd-copy" }),
            ("tablespace 99999, which the manifest does not list", { $0.directories.append(BackupManifest.Directory(path: "pg_tblspc/99999", mode: 0o700)) }),
            ("tablespace_map names tablespace '16999'", { $0.tablespaceMap = "16999 /elsewhere\n" }),
            ("tablespace OID 'x1' is not a number", { $0.tablespaces.append(BackupManifest.Tablespace(oid: "x1", location: "/tmp/x")) }),
            ("names extent", { m in
                let i = m.files.firstIndex { !$0.pieces.isEmpty } ?? 0
                m.files[i].pieces[0].extent = m.extents.count + 5
            }),
            ("which holds", { m in
                let i = m.files.firstIndex { !$0.pieces.isEmpty } ?? 0
                m.files[i].pieces[0].extentOffset = m.extents[m.files[i].pieces[0].extent].rawLength
            }),
        ]
        for (n, (message, tamper)) in tampers.enumerated() {
            var m = original
            tamper(&m)
            try await repository.writeManifest(m)
            try TestDirectory.giveToPostgres(f.repositoryPath)
            let target = f.dir.path + "/tampered-\(n)"
            let r = try f.vault(["restore", "--target-dir", target])
            #expect(r.status == 5, "\(message): \(r.stderr)")
            #expect(r.stderr.contains("manifest is invalid") && r.stderr.contains(message), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: target), "nothing written")
            #expect(!FileManager.default.fileExists(atPath: f.dir.path + "/escaped"))
        }
    }
}
