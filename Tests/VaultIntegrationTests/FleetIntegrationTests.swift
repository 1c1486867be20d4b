import Foundation
import Synchronization
import Testing
import VaultPostgres

/// Writes a global sequence number into whichever of three shards owns each key, on its own
/// thread, and keeps which numbers each shard committed. Honors the fleet pause: while
/// `pause` exists it stops between transactions, says so by creating `paused`, and notes what
/// each shard had committed at that moment.
final class ShardedWriter: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let state = Mutex<(committed: [[Int]], atPause: [[Int]]?, failure: String?)>(([[], [], []], nil, nil))
    private let finished = DispatchSemaphore(value: 0)

    /// Key k (0…299) belongs to shard k / 100.
    static func shard(ofKey key: Int) -> Int { key / 100 }

    init(ports: [UInt16], pauseFile: String, pausedFile: String) {
        let thread = Thread { [self] in
            defer { finished.signal() }
            do {
                let conns = try ports.map { try PostgresConnection(conninfo: "host=127.0.0.1 port=\($0) user=postgres dbname=postgres", label: "writer") }
                var seq = 0
                while !stopFlag.load(ordering: .relaxed) {
                    if FileManager.default.fileExists(atPath: pauseFile) {
                        state.withLock { $0.atPause = $0.committed }
                        FileManager.default.createFile(atPath: pausedFile, contents: Data())
                        while FileManager.default.fileExists(atPath: pauseFile) { usleep(5_000) }
                        try? FileManager.default.removeItem(atPath: pausedFile)
                    }
                    seq += 1
                    let key = (seq * 37) % 300
                    let shard = Self.shard(ofKey: key)
                    try conns[shard].query("INSERT INTO events VALUES ($1::bigint, $2::int)", [String(seq), String(key)])
                    state.withLock { $0.committed[shard].append(seq) }
                    usleep(2_000)
                }
            } catch {
                state.withLock { $0.failure = "\(error)" }
            }
        }
        thread.start()
    }

    /// Stops (a pause left behind is lifted), and returns what each shard committed in all and
    /// at the pause.
    func stop(pauseFile: String) throws -> (all: [[Int]], atPause: [[Int]]) {
        stopFlag.store(true, ordering: .relaxed)
        try? FileManager.default.removeItem(atPath: pauseFile)
        guard finished.wait(timeout: .now() + 60) == .success else { throw HarnessError("the writer did not stop within 60 s") }
        let s = state.withLock { $0 }
        if let failure = s.failure { throw HarnessError("writer failed: \(failure)") }
        guard let atPause = s.atPause else { throw HarnessError("the writer was never paused") }
        return (s.committed, atPause)
    }

    var committedCount: Int { state.withLock { $0.committed.reduce(0) { $0 + $1.count } } }
}

/// Three shards as one system: `--all-shards`, fleet restore points and a fleet restore.
@Suite("fleet commands against three real PostgreSQL shards")
struct FleetIntegrationTests {
    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test("a fleet restore point under a sharded workload: every shard restored to it holds exactly the rows committed before it; refusals write nothing; one shard down fails only itself")
    func restorePoint() async throws {
        let f = try VaultFixture("fleet")
        defer { f.cleanUp() }
        let servers = try (1...3).map { i -> PostgresServer in
            let server = try f.startServer(.v15, name: "s\(i)")
            try server.configure(["archive_command = '\(VaultBinary.path) --policy \(f.policyFile) --shard s\(i) archive-push %p'"])
            return server
        }
        let pause = f.dir.path + "/pause", paused = f.dir.path + "/paused"
        let shards = servers.enumerated().map { i, s in
            """
              - name: s\(i + 1)
                keys: {from: \(i * 100), to: \(i * 100 + 99)}
                bindir: \(s.bindir)
                nodes: [{name: primary, conninfo: "host=127.0.0.1 port=\(s.port) user=postgres dbname=postgres connect_timeout=5"}]
            """
        }.joined(separator: "\n")
        _ = try f.dir.write("vault.yaml", """
            version: 1
            repository: {path: \(f.repositoryPath)}
            encryption: {passphrase_file: \(f.passphraseFile)}
            defaults: {backup: {archive_timeout: 60s}}
            fleet:
              parallel: 2
              pause_command: '/bin/sh -c "touch \(pause); for i in $(seq 1 300); do [ -e \(paused) ] && exit 0; sleep 0.02; done; exit 1"'
              resume_command: '/bin/rm -f \(pause)'
            shards:
            \(shards)

            """, mode: 0o644)
        for s in servers {
            try s.start()
            _ = try s.sql("CREATE TABLE events(seq bigint PRIMARY KEY, key int NOT NULL)")
        }
        try f.initRepository()

        // The workload runs from here on; the pause command waits for it to stop writing.
        let writer = ShardedWriter(ports: servers.map(\.port), pauseFile: pause, pausedFile: paused)
        defer { _ = try? writer.stop(pauseFile: pause) }
        // A point before any backup: a fleet restore to it is refused before anything is written.
        let early = try f.vault(["restore-point", "create", "before-backups"])
        #expect(early.status == 0, "\(early.stderr)")

        let backup = try f.vault(["backup", "--all-shards", "--type", "full", "--json"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let backupReport = try Self.json(backup.stdout)
        #expect(backupReport["succeeded"] as? [String] == ["s1", "s2", "s3"])
        #expect((backupReport["shards"] as? [[String: Any]])?.compactMap { ($0["result"] as? [String: Any])?["type"] as? String } == ["full", "full", "full"])

        let before = writer.committedCount
        #expect(try await poll(timeout: 60) { writer.committedCount >= before + 150 })
        let created = try f.vault(["restore-point", "create", "p1", "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let point = try Self.json(created.stdout)
        #expect(point["paused"] as? Bool == true)
        #expect((point["spreadSeconds"] as? Double ?? 99) < 5)
        #expect((point["shards"] as? [[String: Any]])?.count == 3)
        let atPoint = writer.committedCount
        #expect(try await poll(timeout: 60) { writer.committedCount >= atPoint + 150 })
        let (all, atPause) = try writer.stop(pauseFile: pause)
        for i in 0..<3 {
            #expect(!atPause[i].isEmpty && all[i].count > atPause[i].count, "shard s\(i + 1) has rows on both sides of the point")
        }
        let checked = try f.vault(["check", "--all-shards", "--json"])
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(try Self.json(checked.stdout)["succeeded"] as? [String] == ["s1", "s2", "s3"])

        let list = try f.vault(["restore-point", "list"])
        #expect(list.stdout.contains("p1") && list.stdout.contains("before-backups"), "\(list.stdout)")

        // Refused: no backup ended before 'before-backups'. Nothing is written.
        let root = f.dir.path + "/restored"
        let refused = try f.vault(["restore", "--all-shards", "--target-name", "before-backups", "--target-root", root])
        #expect(refused.status == 6, "\(refused.stderr)")
        #expect(refused.stderr.contains("nothing was restored") && refused.stderr.contains("shard s1"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/s1"))
        let unknown = try f.vault(["restore", "--all-shards", "--target-name", "nope", "--target-root", root])
        #expect(unknown.status == 1 && unknown.stderr.contains("no fleet restore point 'nope'"), "\(unknown.stderr)")

        // The fleet restore: each shard holds exactly what it committed before the point.
        let portBase = Int(PortAllocator.allocate())
        for _ in 0..<2 { _ = PortAllocator.allocate() }
        let restored = try f.vault(["restore", "--all-shards", "--target-name", "p1", "--target-root", root, "--start", "--port-base", "\(portBase)", "--json"])
        var copies: [PostgresServer] = []
        defer { for c in copies { c.stop() } }
        for i in 0..<3 where FileManager.default.fileExists(atPath: root + "/s\(i + 1)/postmaster.pid") {
            copies.append(try PostgresServer(adopting: root + "/s\(i + 1)", version: .v15, in: f.dir, port: UInt16(portBase + i), running: true))
        }
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(try Self.json(restored.stdout)["succeeded"] as? [String] == ["s1", "s2", "s3"])
        #expect(copies.count == 3)
        for (i, copy) in copies.enumerated() {
            let rows = try copy.sql("SELECT coalesce(string_agg(seq::text, ',' ORDER BY seq), '') FROM events") ?? ""
            #expect(rows == atPause[i].map(String.init).joined(separator: ","), "shard s\(i + 1): \(rows.split(separator: ",").count) rows restored, \(atPause[i].count) committed before the point")
        }

        // The writer is gone, so the pause command gives up: nothing is made, and the
        // resume command still runs.
        let noPause = try f.vault(["restore-point", "create", "p2"])
        #expect(noPause.status == 6 && noPause.stderr.contains("fleet.pause_command (/bin/sh) exited 1"), "\(noPause.stderr)")
        #expect(!FileManager.default.fileExists(atPath: pause), "the resume command ran")

        // A shard whose WAL does not reach the repository after the points are made: nothing
        // is recorded, the application is resumed, and the name is not used again.
        FileManager.default.createFile(atPath: paused, contents: Data())
        _ = try servers[2].sql("ALTER SYSTEM SET archive_command = '\(VaultBinary.path) --policy \(f.dir.path)/missing.yaml --shard s3 archive-push %p'")
        _ = try servers[2].sql("SELECT pg_reload_conf()")
        let unarchived = try f.vault(["restore-point", "create", "p3"])
        #expect(unarchived.status == 10, "\(unarchived.stderr)")
        #expect(unarchived.stderr.contains("did not reach the repository on shard s3"), "\(unarchived.stderr)")
        #expect(!FileManager.default.fileExists(atPath: pause), "the application was resumed")
        let points = try f.vault(["restore-point", "list"]).stdout
        #expect(!points.contains("p2") && !points.contains("p3"), "\(points)")
        let again = try f.vault(["restore-point", "create", "p3"])
        #expect(again.status == 6 && again.stderr.contains("was used by an earlier attempt"), "\(again.stderr)")

        // One shard down: no point is made; a fleet backup fails only that shard.
        servers[2].stop()
        let down = try f.vault(["restore-point", "create", "p4"])
        #expect(down.status == 7, "\(down.stderr)")
        #expect(down.stderr.contains("no restore point was made: shard s3"), "\(down.stderr)")
        let partial = try f.vault(["backup", "--all-shards", "--json"])
        #expect(partial.status == 7, "\(partial.stderr)")
        let partialReport = try Self.json(partial.stdout)
        #expect(partialReport["succeeded"] as? [String] == ["s1", "s2"])
        #expect(partialReport["failed"] as? [String] == ["s3"])
        let text = try f.vault(["backup", "--all-shards"])
        #expect(text.stdout.contains("backup: 2 of 3 shards succeeded; failed: s3 (exit 7)"), "\(text.stdout)")
    }
}
