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

/// Point-in-time recovery through vault: the recovery target is reached exactly.
@Suite("restore to a target against real PostgreSQL")
struct RestoreIntegrationTests {
    @Test("a time, an LSN and a restore point each recover exactly the commits before them", arguments: PostgresVersion.available)
    func targets(version: PostgresVersion) async throws {
        let f = try VaultFixture("restore-targets-\(version.rawValue)")
        defer { f.cleanUp() }
        let server = try f.startInitialised(version)
        let conn = try server.connect()
        try conn.query("CREATE TABLE events(id int PRIMARY KEY)")
        let b = try f.vault(["backup", "--type", "full"])
        #expect(b.status == 0, "\(b.stderr)")

        var afterCommit: [Int: String] = [:]
        var lsnAfter8 = ""
        for i in 1...12 {
            try conn.query("INSERT INTO events VALUES ($1::int)", [String(i)])
            afterCommit[i] = try conn.scalar("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
            if i == 8 { lsnAfter8 = try conn.scalar("SELECT pg_current_wal_lsn()::text") }
            if i == 10 { try conn.query("SELECT pg_create_restore_point('after-10')") }
            try await Task.sleep(nanoseconds: 30_000_000)
        }
        try await waitUntilArchived(server, segment: try conn.scalar("SELECT pg_walfile_name(pg_switch_wal())"))

        let cases: [([String], Int)] = [
            (["--point-in-time", try #require(afterCommit[5])], 5),
            (["--target-lsn", lsnAfter8], 8),
            (["--target-name", "after-10"], 10),
            ([], 12),
        ]
        for (n, (args, expected)) in cases.enumerated() {
            let copy = try await f.restoreAndRecover("pitr-\(n)", version: version, args)
            defer { copy.stop() }
            let dir = copy.dataDir
            let got = try copy.sql("SELECT count(*) FROM events")
            #expect(got == String(expected), "\(args) must recover exactly \(expected) commits, got \(got ?? "-"); settings: \((try? String(contentsOfFile: dir + "/postgresql.auto.conf", encoding: .utf8)) ?? ""); log: \(copy.log().suffix(1500))")
            #expect(try copy.sql("SELECT coalesce(max(id), 0) FROM events") == String(expected))
        }

        // --start: vault starts the server, waits for the target and says where it stopped.
        let startedDir = f.dir.path + "/started"
        let port = PortAllocator.allocate()
        let started = try f.vault(["restore", "--target-dir", startedDir, "--target-name", "after-10", "--start", "--port", "\(port)"])
        #expect(started.status == 0, "\(started.stderr)")
        #expect(started.stdout.contains("recovery promoted in"), "\(started.stdout)")
        #expect(started.stdout.contains("on timeline 2"), "\(started.stdout)")
        let running = try PostgresServer(adopting: startedDir, version: version, in: f.dir, port: port, running: true)
        defer { running.stop() }
        #expect(try running.sql("SELECT count(*) FROM events") == "10")

        // A target before the oldest backup is refused before anything is written.
        let early = f.dir.path + "/too-early"
        let r = try f.vault(["restore", "--target-dir", early, "--point-in-time", "2000-01-01 00:00:00+00"])
        #expect(r.status == 6)
        #expect(r.stderr.contains("is before the end of the oldest backup of shard main"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: early))
    }
}

/// Recovery never ends early on a damaged archive.
@Suite("corrupt WAL during recovery against real PostgreSQL")
struct CorruptWALRecoveryTests {
    @Test("a corrupt segment in the middle of the needed WAL stops recovery instead of promoting early", arguments: PostgresVersion.available)
    func corruptSegmentStopsRecovery(version: PostgresVersion) async throws {
        let f = try VaultFixture("restore-corrupt-wal-\(version.rawValue)")
        defer { f.cleanUp() }
        let server = try f.startInitialised(version)
        let conn = try server.connect()
        try conn.query("CREATE TABLE t(id int)")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        var segments: [String] = []
        for i in 1...4 {
            try conn.query("INSERT INTO t SELECT generate_series(\(i * 1000), \(i * 1000 + 999))")
            segments.append(try conn.scalar("SELECT pg_walfile_name(pg_switch_wal())"))
        }
        try await waitUntilArchived(server, segment: try #require(segments.last))
        // Damage the second of the four segments written after the backup.
        let object = "\(f.repositoryPath)/main/wal/\(segments[1].prefix(8))/\(segments[1])"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: object)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: object))

        let dir = f.dir.path + "/restored"
        #expect(try f.vault(["restore", "--target-dir", dir]).status == 0)
        let copy = try PostgresServer(adopting: dir, version: version, in: f.dir)
        try copy.configure(["port = \(copy.port)", "archive_mode = off"])
        _ = try? copy.start() // pg_ctl reports failure: the startup process aborts
        defer { copy.stop() }
        let deadline = Date().addingTimeInterval(60)
        while FileManager.default.fileExists(atPath: dir + "/postmaster.pid") && Date() < deadline {
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        let log = copy.log()
        #expect(!FileManager.default.fileExists(atPath: dir + "/postmaster.pid"), "the server must stop, not promote")
        #expect(log.contains("error: object main/wal/\(segments[1].prefix(8))/\(segments[1]) failed authentication"), "\(log.suffix(2000))")
        #expect(!log.contains("database system is ready to accept connections"), "recovery must not end and promote")
        #expect(!log.contains("selected new timeline ID"))
    }
}
