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

/// PostgreSQL archives through vault and gets every file back byte for byte.
@Suite("WAL archive against real PostgreSQL")
struct WALArchiveIntegrationTests {
    @Test("every switched segment is archived and comes back byte-identical", arguments: PostgresVersion.available)
    func roundTrip(version: PostgresVersion) async throws {
        let f = try VaultFixture("wal-roundtrip-\(version.rawValue)")
        defer { f.cleanUp() }
        let server = try f.startServer(version)
        try f.writePolicy(server: server)
        try server.start()

        let initOut = try f.initRepository()
        #expect(initOut.stdout.contains("created encrypted repository"))

        let conn = try server.connect()
        try conn.query("CREATE TABLE t (id int, payload text)")
        var switched: [String] = []
        for i in 0..<8 {
            try conn.query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(\(i * 5000), \(i * 5000 + 4999)) g")
            switched.append(try conn.scalar("SELECT pg_walfile_name(pg_switch_wal())"))
        }
        let last = try #require(switched.last)
        try await waitUntilArchived(server, segment: last)

        let check = try f.vault(["check"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("reached the repository"))

        let names = try await PosixStorage(root: f.repositoryPath).list(prefix: "main/wal/00000001")
        let segments = names.compactMap { $0.split(separator: "/").last.map(String.init) }
        #expect(segments.count >= switched.count)
        for s in switched { #expect(segments.contains(s), "segment \(s) missing from the archive") }

        for segment in segments {
            let dest = f.dir.path + "/restored-\(segment)"
            let r = try f.vault(["archive-get", segment, dest])
            #expect(r.status == 0, "archive-get \(segment): \(r.stderr)")
            let restored = try Data(contentsOf: URL(fileURLWithPath: dest))
            let original = try Data(contentsOf: URL(fileURLWithPath: server.dataDir + "/pg_wal/" + segment))
            #expect(restored == original, "\(segment) differs after the round trip")
        }

        // A segment that was never archived is "not found": exit 1, PostgreSQL's end of WAL.
        let missing = try f.vault(["archive-get", "00000001000000FF000000FF", f.dir.path + "/nothing"])
        #expect(missing.status == 1)
        #expect(!FileManager.default.fileExists(atPath: f.dir.path + "/nothing"))
    }

    @Test("pushing ahead archives every segment once, in order, byte-identical, at the WAL's own compression level")
    func pushAhead() async throws {
        let f = try VaultFixture("wal-push-ahead")
        defer { f.cleanUp() }
        let server = try f.startServer(.v15)
        // Level 0 for WAL (stored as is) while base backups keep the default level 3.
        try f.writePolicy(server: server, extra: "archive: {push_ahead: 3, compression_level: 0}")
        try server.start()
        try f.initRepository()
        let conn = try server.connect()
        try conn.query("CREATE TABLE t (id int, payload text)")
        // Hold the archiver back so several segments become .ready at once.
        try conn.query("ALTER SYSTEM SET archive_command = '/bin/false'")
        try conn.query("SELECT pg_reload_conf()")
        var switched: [String] = []
        for i in 0..<10 {
            try conn.query("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(\(i * 2000), \(i * 2000 + 1999)) g")
            switched.append(try conn.scalar("SELECT pg_walfile_name(pg_switch_wal())"))
        }
        try conn.query("ALTER SYSTEM RESET archive_command")
        try conn.query("SELECT pg_reload_conf()")
        try await waitUntilArchived(server, segment: try #require(switched.last))

        #expect(server.log().contains("was pushed ahead by the background worker"), "push-ahead never happened")
        for segment in switched {
            let dest = f.dir.path + "/got-\(segment)"
            #expect(try f.vault(["archive-get", segment, dest]).status == 0)
            #expect(try Data(contentsOf: URL(fileURLWithPath: dest)) == Data(contentsOf: URL(fileURLWithPath: server.dataDir + "/pg_wal/" + segment)))
            // Pushed ahead or not, every segment went in at archive.compression_level 0:
            // its 16 MiB plus the envelope's header and tag, where level 3 would shrink it.
            let stored = try FileManager.default.attributesOfItem(atPath: f.repositoryPath + "/main/wal/00000001/" + segment)[.size] as? Int
            #expect(stored == (16 << 20) + ObjectEnvelope.headerSize + 16, "\(segment): \(stored ?? -1) bytes stored")
        }
        // Markers of segments PostgreSQL has moved past are cleaned up.
        let left = ((try? FileManager.default.contentsOfDirectory(atPath: server.dataDir + "/pg_wal/vault_spool")) ?? []).filter { !$0.hasPrefix(".") }
        #expect(left.count <= 3, "spool keeps only markers ahead of the archiver: \(left)")
    }

    @Test("a promoted copy archives its timeline history and partial segment", arguments: PostgresVersion.available)
    func historyAndPartial(version: PostgresVersion) async throws {
        let f = try VaultFixture("wal-history-\(version.rawValue)")
        defer { f.cleanUp() }
        let primary = try f.startInitialised(version)
        try primary.sql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")

        // A streaming standby made with pg_basebackup, then promoted: timeline 2.
        let standby = try f.startStandby(of: primary)
        let standbyDir = standby.dataDir
        // Promote in the middle of a segment, so the old timeline leaves a .partial segment.
        try primary.sql("INSERT INTO t SELECT generate_series(1001, 1500)")
        let target = try #require(try primary.sql("SELECT pg_current_wal_lsn()::text"))
        for _ in 0..<300 where try standby.sql("SELECT pg_last_wal_replay_lsn() >= '\(target)'::pg_lsn") != "t" {
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        try ProcessRunner.check([primary.bindir + "/pg_ctl", "-D", standbyDir, "-w", "promote"], asPostgres: true)
        try standby.sql("INSERT INTO t SELECT generate_series(1501, 2000)")
        let segment = try #require(try standby.sql("SELECT pg_walfile_name(pg_switch_wal())"))
        try await waitUntilArchived(standby, segment: segment)

        let names = try await PosixStorage(root: f.repositoryPath).list(prefix: "main/wal/00000002")
        #expect(names.contains("main/wal/00000002/00000002.history"))
        let history = f.dir.path + "/got.history"
        #expect(try f.vault(["archive-get", "00000002.history", history]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: history)) == Data(contentsOf: URL(fileURLWithPath: standbyDir + "/pg_wal/00000002.history")))
        let partials = try await PosixStorage(root: f.repositoryPath).list(prefix: "main/wal/00000001").filter { $0.hasSuffix(".partial") }
        #expect(partials.count == 1, "expected the old timeline's .partial segment, got \(partials); standby log: \(standby.log().suffix(3000))")
    }
}

/// Waits until the server reports `segment` (or a later one) as archived.
func waitUntilArchived(_ server: PostgresServer, segment: String, timeout: TimeInterval = 90) async throws {
    let archived = try await poll(timeout: timeout) {
        let row = try server.connect().query("SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
        guard let last = row.first?.first ?? nil else { return false }
        return !last.isEmpty && last >= segment
    }
    if !archived { throw HarnessError("\(segment) was not archived within \(Int(timeout)) s; server log:\n\(server.log().suffix(2000))") }
}
