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

/// `vault verify`: a good backup is proved restorable; every kind of damage is named exactly;
/// no scratch process or directory survives either way.
@Suite("verify against real PostgreSQL")
struct VerifyIntegrationTests {
    /// A fixture whose policy has a smoke query and a private scratch base.
    static func start(_ name: String, version: PostgresVersion, expect: String = "100", retention: String = "") throws -> (VaultFixture, PostgresServer, String) {
        let f = try VaultFixture(name)
        let server = try f.startServer(version)
        let scratch = f.dir.path + "/scratch"
        let policy = { (expected: String) throws in
            try f.writePolicy(server: server, extra: "verify: {scratch: \(scratch)}\n\(retention)",
                              shardExtra: "verify: {smoke: [{sql: \"select count(*) from t\", expect: \"\(expected)\"}]}")
        }
        try policy(expect)
        try server.start()
        try f.initRepository()
        try server.sql("CREATE TABLE t(id int PRIMARY KEY)")
        try server.sql("INSERT INTO t SELECT generate_series(1, 100)")
        return (f, server, scratch)
    }

    /// Nothing of a scratch instance is left: no directory under the base, no process whose
    /// command line names it.
    static func expectNoScratchLeft(_ scratch: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let left = (try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []
        #expect(left.isEmpty, "scratch directories left: \(left)", sourceLocation: sourceLocation)
        let running = processes(containing: [scratch])
        #expect(running.isEmpty, "processes left running from \(scratch): \(running)", sourceLocation: sourceLocation)
    }

    @Test("a good backup verifies: objects, restore, recovery, pg_amcheck, pg_checksums, smoke; list, status and expire know it", arguments: PostgresVersion.available)
    func goodBackup(version: PostgresVersion) async throws {
        let (f, server, scratch) = try Self.start("verify-good-\(version.rawValue)", version: version, retention: "defaults: {retention: {full_backups: 1}}")
        defer { f.cleanUp() }
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let id = try #require(try await f.openRepository().backups(shard: "main").last?.id)

        let r = try f.vault(["verify"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("backup \(id) of shard main: PASSED"), "\(r.stdout)")
        for proof in ["repository:", "restore:", "recovery: reached consistency", "pg_amcheck:", "pg_checksums:", "smoke queries: 1 of 1"] {
            #expect(r.stdout.contains("ok       \(proof)"), "missing '\(proof)' in:\n\(r.stdout)")
        }
        Self.expectNoScratchLeft(scratch)

        let json = try f.vault(["verify", "--repository-only", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let records = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(records.first?["passed"] as? Bool == true)
        #expect(records.first?["repositoryOnly"] as? Bool == true)

        let list = try f.vault(["list", "--json"])
        let backups = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        let last = try #require(backups.first?["lastVerification"] as? [String: Any])
        #expect(last["passed"] as? Bool == true)
        let status = try f.vault(["status"])
        #expect(status.stdout.contains("last verified restore: backup \(id)"), "\(status.stdout)")
        let statusJSON = try #require(try JSONSerialization.jsonObject(with: Data(try f.vault(["status", "--json"]).stdout.utf8)) as? [[String: Any]])
        let shard = try #require(statusJSON.first)
        #expect(shard["newestBackup"] as? String == id)
        // Ages are measured from the backup's end and the newest segment's arrival: minutes at most here.
        let backupAge = try #require(shard["newestBackupAgeSeconds"] as? Int)
        let walAge = try #require(shard["newestWALAgeSeconds"] as? Int)
        #expect((0..<600).contains(backupAge) && (0..<600).contains(walAge), "\(shard)")
        #expect((shard["newestWAL"] as? String ?? "") >= manifest(of: id, in: backups)?["walStop"] as? String ?? "~", "\(shard)")

        // Retention keeps one full backup, but never the newest one proved restorable.
        try server.sql("INSERT INTO t SELECT generate_series(101, 110)")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let expire = try f.vault(["expire"])
        #expect(expire.status == 0, "\(expire.stderr)")
        #expect(expire.stdout.contains("keeping backup \(id): the newest one proved restorable"), "\(expire.stdout)")
        #expect(try await f.openRepository().backups(shard: "main").map(\.id).contains(id))
    }

    @Test("a missing pack, a flipped byte, a missing or foreign manifest chunk, a missing WAL segment and a wrong smoke answer each fail, named exactly, with nothing left behind")
    func damage() async throws {
        let (f, server, scratch) = try Self.start("verify-damage", version: .v15)
        defer { f.cleanUp() }
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let manifest = try #require(try await f.openRepository().backups(shard: "main").last)
        let pack = try #require(manifest.packs.sorted().first)
        let packPath = f.repositoryPath + "/" + pack
        let walObject = "main/wal/\(manifest.walStart.prefix(8))/\(manifest.walStart)"
        let walPath = f.repositoryPath + "/" + walObject

        func expectFailure(_ what: String, naming object: String, _ detail: String) throws {
            let r = try f.vault(["verify"])
            #expect(r.status == 10, "\(what): \(r.stdout)\n\(r.stderr)")
            #expect(r.stderr.hasPrefix("error: backup \(manifest.id) of shard main failed verification: \(object)"), "\(what): \(r.stderr)")
            #expect(r.stdout.contains("PROBLEM  \(object): \(detail)"), "\(what): \(r.stdout)")
            Self.expectNoScratchLeft(scratch)
        }

        try FileManager.default.moveItem(atPath: packPath, toPath: packPath + ".away")
        try expectFailure("missing pack", naming: pack, "missing (needed by backup \(manifest.id)")
        try FileManager.default.moveItem(atPath: packPath + ".away", toPath: packPath)

        let original = try Data(contentsOf: URL(fileURLWithPath: packPath))
        var flipped = original
        flipped[flipped.count / 2] ^= 0x40
        try flipped.write(to: URL(fileURLWithPath: packPath))
        try expectFailure("flipped byte", naming: pack, "extent at offset")
        try original.write(to: URL(fileURLWithPath: packPath))

        try FileManager.default.moveItem(atPath: walPath, toPath: walPath + ".away")
        try expectFailure("missing WAL", naming: walObject, "missing from the archive (needed to make backup \(manifest.id) consistent)")
        try FileManager.default.moveItem(atPath: walPath + ".away", toPath: walPath)

        // A manifest record that names other content than its extent holds (only a faulty
        // writer could make one): the envelope and the length pass, and restore, which does
        // not hash extents that carry a zstd checksum, would copy them; verify's hash names it.
        let repository = try await f.openRepository()
        let manifestName = BackupManifest.objectName(shard: "main", id: manifest.id)
        var wrong = manifest
        wrong.extents[0].sha256 = String(repeating: "0", count: 64)
        try await repository.writeManifest(wrong)
        try TestDirectory.giveToPostgres(f.repositoryPath)
        try expectFailure("record naming other content", naming: wrong.extents[0].pack, "extent at offset \(wrong.extents[0].offset): extent \(wrong.extents[0].pack)@\(wrong.extents[0].offset) does not match its checksum")
        try await repository.writeManifest(manifest)
        try TestDirectory.giveToPostgres(f.repositoryPath)

        // A chunk of the manifest's body that is missing, or that holds another backup's
        // chunk under its name, is named; restore would refuse the same.
        let chunk = ManifestStore.chunkName(shard: "main", id: manifest.id, index: 0)
        let chunkPath = f.repositoryPath + "/" + chunk
        try FileManager.default.moveItem(atPath: chunkPath, toPath: chunkPath + ".away")
        try expectFailure("missing chunk", naming: manifestName, "\(chunk) is missing")
        try FileManager.default.moveItem(atPath: chunkPath + ".away", toPath: chunkPath)
        var other = manifest
        other.files.removeLast()
        try await repository.write(chunk, try JSONCoding.encode(try #require(ManifestStore.chunks(of: other).first), pretty: false))
        try TestDirectory.giveToPostgres(f.repositoryPath)
        try expectFailure("chunk with other content", naming: manifestName, "\(chunk) does not hold the bytes its manifest recorded")
        try await repository.writeManifest(manifest)
        try TestDirectory.giveToPostgres(f.repositoryPath)

        try f.writePolicy(server: server, extra: "verify: {scratch: \(scratch)}",
                          shardExtra: "verify: {smoke: [{sql: \"select count(*) from t\", expect: \"99\"}]}")
        try expectFailure("smoke query", naming: "smoke query \"select count(*) from t\"", "returned '100', expected '99'")

        // Repaired, it passes again; the failures were recorded too.
        try f.writePolicy(server: server, extra: "verify: {scratch: \(scratch)}")
        #expect(try f.vault(["verify"]).status == 0)
        let records = try await f.openRepository().verifications(shard: "main")
        #expect(records.map(\.passed) == [false, false, false, false, false, false, false, true])
    }
}

/// Ctrl-C in the middle of a verify still stops and removes the scratch instance.
@Suite("verify interrupted against real PostgreSQL")
struct VerifyInterruptIntegrationTests {
    @Test("a backup expired while verify restores it is reported as expired, not as damage, and nothing is recorded")
    func expiredMeanwhile() async throws {
        let (f, server, scratch) = try VerifyIntegrationTests.start("verify-expired", version: .v15, retention: "defaults: {retention: {full_backups: 1}}")
        defer { f.cleanUp() }
        try ProcessRunner.check([server.bindir + "/pgbench", "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "postgres", "-i", "-s", "10", "-q", "postgres"], asPostgres: true)
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let old = try #require(try await f.openRepository().backups(shard: "main").first?.id)
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)

        // Freeze verify of the older backup as soon as its scratch directory appears (the
        // repository check has passed, the restore is starting); expire removes that backup.
        let log = f.dir.path + "/verify.log"
        let verify = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "verify", "--backup", old], logTo: log)
        let deadline = Date().addingTimeInterval(120)
        while ((try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []).isEmpty && Date() < deadline { usleep(2_000) }
        kill(verify, SIGSTOP)
        defer { kill(verify, SIGKILL) }
        let expire = try f.vault(["expire"])
        #expect(expire.status == 0, "\(expire.stderr)")
        #expect(expire.stdout.contains("removed backup \(old)"), "\(expire.stdout)")
        kill(verify, SIGCONT)
        let (status, output) = ProcessRunner.finish(verify, log: log)
        #expect(status == 1, "\(output)")
        #expect(output.contains("error: backup \(old) of shard main was removed by vault expire while verify ran; nothing was recorded"), "\(output)")
        #expect(try await f.openRepository().verifications(shard: "main").isEmpty, "no record of a removed backup")
        VerifyIntegrationTests.expectNoScratchLeft(scratch)
    }

    @Test("a verify killed outright leaves its scratch server and directory, which the next verify stops and removes; a look-alike directory it did not mark is left alone")
    func killedOutright() async throws {
        let (f, _, scratch) = try VerifyIntegrationTests.start("verify-killed", version: .v15)
        defer { f.cleanUp() }
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        // An operator's directory named as a scratch instance of a process that is gone.
        var deadPID: pid_t = 4_000_000
        while kill(deadPID, 0) == 0 || errno == EPERM { deadPID -= 1 }
        let decoy = scratch + "/main-\(deadPID)"
        try FileManager.default.createDirectory(atPath: decoy + "/data", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: decoy + "/data/keep-me", contents: Data("operator's".utf8))
        try TestDirectory.giveToPostgres(scratch)

        let log = f.dir.path + "/verify.log"
        let verify = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "verify"], logTo: log)
        let deadline = Date().addingTimeInterval(120)
        var killedDir: String?
        while killedDir == nil && Date() < deadline {
            killedDir = ((try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? []).map { scratch + "/" + $0 }
                .first { $0 != decoy && FileManager.default.fileExists(atPath: $0 + "/data/postmaster.pid") }
            if killedDir == nil { usleep(20_000) }
        }
        let left = try #require(killedDir, "the scratch server never started: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        kill(verify, SIGKILL)
        _ = ProcessRunner.wait(verify)
        #expect(FileManager.default.fileExists(atPath: left), "SIGKILL leaves the directory")

        let next = try f.vault(["verify"])
        #expect(next.status == 0, "\(next.stdout)\(next.stderr)")
        #expect(!FileManager.default.fileExists(atPath: left), "the killed verify's directory is removed")
        #expect(processes(containing: [left]).isEmpty, "its server is stopped")
        #expect(FileManager.default.fileExists(atPath: decoy + "/data/keep-me"), "a directory without vault's marker is never removed")
    }

    @Test("SIGINT while the scratch PostgreSQL runs: it is stopped and its directory removed; --all verifies every backup")
    func interrupted() async throws {
        let (f, server, scratch) = try VerifyIntegrationTests.start("verify-interrupt", version: .v15)
        defer { f.cleanUp() }
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        // A smoke query that takes long keeps the scratch server up while we interrupt.
        try f.writePolicy(server: server, extra: "verify: {scratch: \(scratch)}",
                          shardExtra: "verify: {smoke: [{sql: \"select pg_sleep(60)::text\", expect: \"\"}]}")
        let log = f.dir.path + "/verify.log"
        let verify = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "verify"], logTo: log)
        // The scratch server is up once its postmaster.pid exists.
        let deadline = Date().addingTimeInterval(120)
        var pidFile: String?
        while pidFile == nil && Date() < deadline {
            pidFile = ((try? FileManager.default.contentsOfDirectory(atPath: scratch)) ?? [])
                .map { scratch + "/" + $0 + "/data/postmaster.pid" }.first { FileManager.default.fileExists(atPath: $0) }
            if pidFile == nil { usleep(50_000) }
        }
        #expect(pidFile != nil, "the scratch server never started")
        usleep(500_000)
        kill(verify, SIGINT)
        let (status, output) = ProcessRunner.finish(verify, log: log)
        #expect(status == 130, "\(output)")
        #expect(output.contains("error: interrupted; the scratch instance was stopped and removed"), "\(output)")
        VerifyIntegrationTests.expectNoScratchLeft(scratch)

        // --all: two backups, two records, both passed.
        try f.writePolicy(server: server, extra: "verify: {scratch: \(scratch)}")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let all = try f.vault(["verify", "--all", "--repository-only", "--json"])
        #expect(all.status == 0, "\(all.stderr)")
        let records = try #require(try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [[String: Any]])
        #expect(records.count == 2)
        #expect(records.allSatisfy { $0["passed"] as? Bool == true })
    }
}

/// The `vault list --json` entry of backup `id`.
private func manifest(of id: String, in listed: [[String: Any]]) -> [String: Any]? {
    listed.first { $0["id"] as? String == id }
}
