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

/// Full and incremental backups of a database that is being written to, restored and
/// compared with the source.
@Suite("backups against real PostgreSQL")
struct BackupIntegrationTests {
    struct Summary: Decodable {
        var id: String
        var type: String
        var bytesRead: Int64
        var bytesStoredNew: Int64
        var databaseBytes: Int64
        var walComplete: Bool
    }

    @Test("full and incremental backups taken under writes restore to consistent copies", arguments: PostgresVersion.available)
    func fullAndIncremental(version: PostgresVersion) async throws {
        let f = try VaultFixture("backup-\(version.rawValue)")
        defer { f.cleanUp() }
        let server = try f.startInitialised(version)
        try ProcessRunner.check([server.bindir + "/pgbench", "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "postgres", "-i", "-s", "3", "-q", "postgres"], asPostgres: true)
        try server.connect().query(BackgroundWriter.schema)
        // Settle the loaded data on disk and let its mtimes age past the full backup's start,
        // as a production database's old data is: the incremental must then skip it unread.
        try server.sql("CHECKPOINT")
        try await Task.sleep(nanoseconds: 2_100_000_000)
        let staticSum = try #require(try server.sql("SELECT md5(string_agg(aid || ':' || bid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts"))
        // A file that is no relation and no whole number of pages, over three extents: its
        // pieces and its short tail must land byte for byte.
        let oddFile = (0..<(2 << 20) + 3 * 4096 + 123).map { _ in UInt8.random(in: 0...255) }
        try FileIO.writeDurably(server.dataDir + "/vault-odd-size.bin", oddFile, mode: 0o644)

        let writer = BackgroundWriter(conninfo: server.conninfo)
        try await writer.waitFor(50)
        // `auto` (the default): full on an empty shard, then incremental (no schedule.full set).
        let full = try backup(f, type: "auto")
        try await writer.waitFor(writer.count + 300)
        let incremental = try backup(f, type: "auto")
        let total = try writer.stop()

        #expect(full.type == "full" && incremental.type == "incremental")
        #expect(full.walComplete && incremental.walComplete)
        // The incremental reads unchanged files not at all and stores only changed pages. How
        // many pages the writer and autovacuum change while it runs depends on the machine's
        // load (the suite runs many servers at once): a third of the full is the bound.
        #expect(incremental.bytesStoredNew * 3 < full.bytesStoredNew, "incremental stored \(incremental.bytesStoredNew) vs full \(full.bytesStoredNew)")
        #expect(incremental.bytesRead * 2 < full.bytesRead, "incremental read \(incremental.bytesRead) vs full \(full.bytesRead)")

        var restoredCounts: [Int] = []
        for b in [full, incremental] {
            let copy = try await f.restoreAndRecover("restore-\(b.id)", version: version, ["--backup", b.id, "--immediate"])
            defer { copy.stop() }

            #expect(try copy.sql("SELECT md5(string_agg(aid || ':' || bid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts") == staticSum)
            // Digests, not the 2 MiB arrays: a failure stays one short line.
            #expect(Hex.encode(try SHA256.hash(try FileIO.read(copy.dataDir + "/vault-odd-size.bin"))) == Hex.encode(try SHA256.hash(oddFile)),
                    "the odd-sized file differs after restoring \(b.id)")
            let k = try #require(Int(try copy.sql("SELECT count(*) FROM log") ?? ""))
            #expect(try copy.sql("SELECT coalesce(max(id), 0) FROM log") == String(k), "log ids must be exactly 1…K")
            #expect(try copy.sql("SELECT sum(n) FROM counters") == String(k))
            #expect(try copy.sql("SELECT bool_and(n = (SELECT count(*) FROM log WHERE id % 10 = c.id)) FROM counters c") == "t")
            let sourceRows = try server.sql("SELECT md5(string_agg(id || payload, ',' ORDER BY id)) FROM log WHERE id <= \(k)")
            #expect(try copy.sql("SELECT md5(string_agg(id || payload, ',' ORDER BY id)) FROM log") == sourceRows)
            restoredCounts.append(k)
        }
        #expect(restoredCounts[0] >= 50 && restoredCounts[1] >= restoredCounts[0] + 300 && restoredCounts[1] <= total)
        #expect(restoredCounts[0] < restoredCounts[1])

        let list = try f.vault(["list", "--json"])
        let listed = try JSONDecoder().decode([Summary].self, from: Data(list.stdout.utf8))
        #expect(listed.map(\.id) == [full.id, incremental.id])
    }

    @Test("PostgreSQL 18 with summarize_wal: the incremental reads only the changed blocks of a changed table and restores it exactly")
    func walSummaries() async throws {
        let f = try VaultFixture("backup-summaries")
        defer { f.cleanUp() }
        let server = try f.startServer(.v18)
        try server.configure(["summarize_wal = on"])
        try f.writePolicy(server: server)
        try server.start()
        try f.initRepository()
        try ProcessRunner.check([server.bindir + "/pgbench", "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "postgres", "-i", "-s", "8", "-q", "postgres"], asPostgres: true)
        try server.connect().query(BackgroundWriter.schema)
        // pgbench_accounts is 107 MB: the few MB the incremental reads besides its changed
        // blocks (the background writer's table, pg_xact, catalogs) stay well under a quarter.
        let accountsBytes = try #require(Int64(try server.sql("SELECT pg_relation_size('pgbench_accounts')") ?? ""))
        let accountsSum = "SELECT md5(string_agg(aid || ':' || bid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts"

        let writer = BackgroundWriter(conninfo: server.conninfo)
        try await writer.waitFor(50)
        let full = try backup(f, type: "full")
        // Scattered updates all over pgbench_accounts (its one file changes, a few pages of it).
        try ProcessRunner.check([server.bindir + "/pgbench", "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "postgres", "-n", "-t", "300", "postgres"], asPostgres: true)
        let expectedAccounts = try #require(try server.sql(accountsSum))
        try await writer.waitFor(writer.count + 100)
        let r = try f.vault(["backup", "--type", "incremental", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let incremental = try JSONDecoder().decode(Summary.self, from: Data(r.stdout.utf8))
        _ = try writer.stop()

        #expect(r.stderr.contains("changed blocks in"), "the WAL summaries were used: \(r.stderr)")
                #expect(incremental.bytesRead * 4 < accountsBytes, "read \(incremental.bytesRead) bytes; pgbench_accounts alone is \(accountsBytes)")
        #expect(incremental.bytesRead * 4 < full.bytesRead)

        let copy = try await f.restoreAndRecover("restored", version: .v18, ["--backup", incremental.id, "--immediate"])
        defer { copy.stop() }
        #expect(try copy.sql(accountsSum) == expectedAccounts)
        let k = try #require(Int(try copy.sql("SELECT count(*) FROM log") ?? ""))
        #expect(k >= 150)
        #expect(try copy.sql("SELECT coalesce(max(id), 0) FROM log") == String(k), "log ids must be exactly 1…K")
        #expect(try copy.sql("SELECT sum(n) FROM counters") == String(k))
        let sourceRows = try server.sql("SELECT md5(string_agg(id || payload, ',' ORDER BY id)) FROM log WHERE id <= \(k)")
        #expect(try copy.sql("SELECT md5(string_agg(id || payload, ',' ORDER BY id)) FROM log") == sourceRows)
        // Every table and index of the copy is sound.
        let amcheck = try ProcessRunner.run([copy.bindir + "/pg_amcheck", "-h", "127.0.0.1", "-p", "\(copy.port)", "-U", "postgres", "--all", "--install-missing", "--heapallindexed"], asPostgres: true)
        #expect(amcheck.status == 0, "\(amcheck.stdout)\(amcheck.stderr)")
    }

    /// Clearing a visibility-map bit is not WAL-logged on its own and does not move the map
    /// page's LSN (the heap record clears it again on replay, but an incremental's changes
    /// before its start are not replayed). A map page reused from the parent would still say
    /// "all visible" for heap pages changed since, and index-only scans on the restored copy
    /// would return dead rows.
    @Test("an incremental after updates to a vacuumed table restores a visibility map that matches the heap", arguments: PostgresVersion.available)
    func visibilityMap(version: PostgresVersion) async throws {
        let f = try VaultFixture("backup-vm-\(version.rawValue)")
        defer { f.cleanUp() }
        let server = try f.startServer(version)
        // On 18 the incremental takes the WAL-summary path, on 15 the page-LSN path.
        if version == .v18 { try server.configure(["summarize_wal = on"]) }
        try f.writePolicy(server: server)
        try server.start()
        try f.initRepository()
        try server.sql("CREATE TABLE v(id int PRIMARY KEY, n int)")
        try server.sql("INSERT INTO v SELECT g, g FROM generate_series(1, 20000) g")
        try server.sql("VACUUM (FREEZE) v")
        try server.sql("CHECKPOINT")
        try await Task.sleep(nanoseconds: 2_100_000_000)
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        // Non-HOT updates (the key changes): every tenth row's page stops being all-visible.
        try server.sql("UPDATE v SET id = id + 100000 WHERE id % 10 = 0")
        try server.sql("CHECKPOINT")
        let r = try f.vault(["backup", "--type", "incremental"])
        #expect(r.status == 0, "\(r.stderr)")

        let copy = try await f.restoreAndRecover("restored", version: version, ["--immediate"])
        defer { copy.stop() }
        try copy.sql("CREATE EXTENSION pg_visibility")
        #expect(try copy.sql("SELECT count(*) FROM pg_check_visible('v')") == "0", "no page marked all-visible holds an invisible tuple")
        let indexOnly = "SET enable_seqscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM v WHERE id > 0"
        #expect(try copy.sql(indexOnly) == "20000", "an index-only scan sees each row once")
    }

    @Test("a second backup of the same shard at the same time is refused by the lock")
    func oneWriterPerShard() async throws {
        let f = try VaultFixture("backup-lock")
        defer { f.cleanUp() }
        _ = try f.startInitialised(.v15)
        // Hold the shard's lock the way a running backup does.
        let storage = PosixStorage(root: f.repositoryPath)
        let lock = try await storage.lock("main/locks/backup.lock", owner: "test holder")
        try TestDirectory.giveToPostgres(f.repositoryPath + "/main/locks")
        let r = try f.vault(["backup", "--type", "full"])
        #expect(r.status == 6)
        #expect(r.stderr.contains("is locked by test holder"))
        await lock.release()
        let ok = try f.vault(["backup", "--type", "full"])
        #expect(ok.status == 0, "\(ok.stderr)")
        // A tiny cluster backs up in well under a second; the next backup must still get an
        // identifier of its own (ids are to the second), not replace this one's manifest.
        let again = try f.vault(["backup", "--type", "full"])
        #expect(again.status == 0, "\(again.stderr)")
        let list = try f.vault(["list", "--json"])
        let ids = try JSONDecoder().decode([Summary].self, from: Data(list.stdout.utf8)).map(\.id)
        #expect(ids.count == 2 && Set(ids).count == 2, "\(ids)")
    }

    private func backup(_ f: VaultFixture, type: String) throws -> Summary {
        let r = try f.vault(["backup", "--type", type, "--json"])
        guard r.status == 0 else { throw HarnessError("backup --type \(type) exited \(r.status): \(r.stderr)") }
        return try JSONDecoder().decode(Summary.self, from: Data(r.stdout.utf8))
    }
}

/// Waits until a restored server has finished recovery and been promoted.
func waitForPromotion(_ server: PostgresServer, timeout: TimeInterval = 120) async throws {
    if try await poll(timeout: timeout, { (try? server.sql("SELECT pg_is_in_recovery()")) == "f" }) { return }
    throw HarnessError("restored server did not finish recovery within \(Int(timeout)) s:\n\(server.log().suffix(3000))")
}

/// `backup: {from: standby}` reads the files of a streaming standby, not the primary's.
@Suite("backups from a standby against real PostgreSQL")
struct StandbyBackupIntegrationTests {
    @Test("a backup taken from a streaming standby restores to the primary's data", arguments: PostgresVersion.available)
    func fromStandby(version: PostgresVersion) async throws {
        let f = try VaultFixture("backup-standby-\(version.rawValue)")
        defer { f.cleanUp() }
        let primary = try f.startInitialised(version)
        try ProcessRunner.check([primary.bindir + "/pgbench", "-h", "127.0.0.1", "-p", "\(primary.port)", "-U", "postgres", "-i", "-s", "2", "-q", "postgres"], asPostgres: true)
        let standby = try f.startStandby(of: primary)
        let standbyDir = standby.dataDir

        try f.writeStandbyPolicy(primary: primary, standby: standby, from: "standby", standbyPGData: standbyDir)
        try primary.sql("UPDATE pgbench_accounts SET abalance = aid % 97 WHERE aid % 3 = 0")
        let expected = try primary.sql("SELECT md5(string_agg(aid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts")
        let lsn = try #require(try primary.sql("SELECT pg_current_wal_lsn()::text"))
        for _ in 0..<300 where try standby.sql("SELECT pg_last_wal_replay_lsn() >= '\(lsn)'::pg_lsn") != "t" {
            try await Task.sleep(nanoseconds: 100_000_000)
        }

        let r = try f.vault(["backup", "--type", "full", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        struct Node: Decodable { var node: String; var walComplete: Bool }
        let summary = try JSONDecoder().decode(Node.self, from: Data(r.stdout.utf8))
        #expect(summary.node == "standby")
        #expect(summary.walComplete)

        let copy = try await f.restoreAndRecover("restored", version: version, ["--immediate"])
        #expect(!FileManager.default.fileExists(atPath: copy.dataDir + "/standby.signal"), "standby.signal is never backed up")
        #expect(try copy.sql("SELECT md5(string_agg(aid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts") == expected)
    }
}

/// Data page checksums are validated while a backup reads the files.
@Suite("page checksums against real PostgreSQL")
struct PageChecksumIntegrationTests {
    @Test("a page corrupted on disk is reported by the backup, which is kept and marked")
    func corruptPage() async throws {
        let f = try VaultFixture("backup-checksum")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try server.sql("CREATE TABLE victim AS SELECT g, md5(g::text) AS t FROM generate_series(1, 5000) g")
        try server.sql("CHECKPOINT")
        let relpath = try #require(try server.sql("SELECT pg_relation_filepath('victim')"))
        // Every page of a real relation passes vault's checksum, so the algorithm matches PostgreSQL's.
        let clean = try f.vault(["backup", "--type", "full"])
        #expect(clean.status == 0, "\(clean.stderr)")

        // Flip one byte in block 2, on disk only (the server keeps its cached copy).
        let path = server.dataDir + "/" + relpath
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[2 * 8192 + 5000] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let r = try f.vault(["backup", "--type", "full"])
        #expect(r.status == 10)
        #expect(r.stderr.contains("1 page failed the data checksum (first: \(relpath) block 2); the backup is kept and marked"), "\(r.stderr)")
        let list = try f.vault(["list", "--json"])
        struct Row: Decodable { var pageChecksumFailures: Int }
        let rows = try JSONDecoder().decode([Row].self, from: Data(list.stdout.utf8))
        #expect(rows.map(\.pageChecksumFailures) == [0, 1])
    }
}

/// Tablespace links under pg_tblspc are followed and recorded.
@Suite("tablespaces against real PostgreSQL")
struct TablespaceIntegrationTests {
    @Test("files in a tablespace are backed up under pg_tblspc, its location is recorded, and restore can move it")
    func tablespace() async throws {
        let f = try VaultFixture("backup-tablespace")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        let location = f.dir.path + "/ts"
        try FileManager.default.createDirectory(atPath: location, withIntermediateDirectories: true)
        try TestDirectory.giveToPostgres(location)
        try server.sql("CREATE TABLESPACE extra LOCATION '\(location)'")
        try server.sql("CREATE TABLE far TABLESPACE extra AS SELECT generate_series(1, 20000) AS id")
        try server.sql("CHECKPOINT")
        let oid = try #require(try server.sql("SELECT oid::text FROM pg_tablespace WHERE spcname = 'extra'"))
        let relpath = try #require(try server.sql("SELECT pg_relation_filepath('far')"))

        let r = try f.vault(["backup", "--type", "full"])
        #expect(r.status == 0, "\(r.stderr)")
        let manifest = try #require(try await f.openRepository().backups(shard: "main").first)
        #expect(manifest.tablespaces == [BackupManifest.Tablespace(oid: oid, location: location)])
        let file = try #require(manifest.files.first { $0.path == relpath }, "\(relpath) missing from the manifest")
        let onDisk = try FileManager.default.attributesOfItem(atPath: server.dataDir + "/" + relpath)[.size] as? Int64
        #expect(file.size == onDisk)
        #expect(manifest.tablespaceMap?.contains(location) == true)

        // The original location is in use: restoring there is refused before anything is written.
        let blocked = f.dir.path + "/blocked"
        let refused = try f.vault(["restore", "--target-dir", blocked, "--immediate"])
        #expect(refused.status == 6)
        #expect(refused.stderr.contains("target directory \(location) is not empty"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: blocked))

        // --tablespace-map puts it elsewhere; WAL replay writes into the moved tablespace.
        try server.sql("INSERT INTO far SELECT generate_series(20001, 25000)")
        try await waitUntilArchived(server, segment: try #require(try server.sql("SELECT pg_walfile_name(pg_switch_wal())")))
        let moved = f.dir.path + "/ts-moved"
        let copy = try await f.restoreAndRecover("relocated", version: .v15, ["--tablespace-map", "\(oid)=\(moved)"])
        defer { copy.stop() }
        #expect(try copy.sql("SELECT count(*) FROM far") == "25000")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: copy.dataDir + "/pg_tblspc/\(oid)") == moved)
        #expect(try copy.sql("SELECT pg_tablespace_location(\(oid))") == moved)
        #expect(try server.sql("SELECT count(*) FROM far") == "25000", "the source's tablespace is untouched")

        // A delta restore of the copy without the map would write into the source's live
        // tablespace: refused with nothing written, not even the copy's stray file removed.
        copy.stop()
        let stray = copy.dataDir + "/stray-file"
        _ = FileManager.default.createFile(atPath: stray, contents: Data("x".utf8))
        let sourceFiles = try FileManager.default.subpathsOfDirectory(atPath: location).sorted()
        let intoLive = try f.vault(["restore", "--target-dir", copy.dataDir, "--delta", "--immediate"])
        #expect(intoLive.status == 6, "\(intoLive.stderr)")
        #expect(intoLive.stderr.contains("tablespace \(oid) would be restored into \(location), which is not empty"), "\(intoLive.stderr)")
        #expect(FileManager.default.fileExists(atPath: stray), "nothing was written or removed")
        #expect(try FileManager.default.subpathsOfDirectory(atPath: location).sorted() == sourceFiles)
        #expect(try server.sql("SELECT count(*) FROM far") == "25000")
        // Into the copy's own tablespace link it goes ahead.
        let own = try f.vault(["restore", "--target-dir", copy.dataDir, "--delta", "--immediate", "--tablespace-map", "\(oid)=\(moved)"])
        #expect(own.status == 0, "\(own.stderr)")
        #expect(!FileManager.default.fileExists(atPath: stray))
    }
}
