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

/// A backup killed with SIGKILL at any moment leaves the repository valid: the partial backup
/// is invisible, the next backup succeeds, and expire collects the leftovers.
@Suite("crash safety against real PostgreSQL")
struct CrashSafetyIntegrationTests {
    @Test("SIGKILL at several points of a backup leaves the repository valid")
    func killedBackups() async throws {
        let f = try VaultFixture("crash-kill")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try ProcessRunner.check([server.bindir + "/pgbench", "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "postgres", "-i", "-s", "8", "-q", "postgres"], asPostgres: true)
        try server.sql("CHECKPOINT")
        let accounts = try server.sql("SELECT md5(string_agg(aid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts")

        var completed = 0
        for delayMs in [50, 300, 800, 1500] {
            let pid = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "backup", "--type", "full"], logTo: f.dir.path + "/killed.log")
            try await Task.sleep(nanoseconds: UInt64(delayMs) * 1_000_000)
            kill(pid, SIGKILL)
            if ProcessRunner.wait(pid) == 0 { completed += 1 }
            let list = try f.vault(["list", "--json"])
            #expect(list.status == 0, "list after a kill at \(delayMs) ms: \(list.stderr)")
            let ids = try JSONDecoder().decode([BackupIntegrationTests.Summary].self, from: Data(list.stdout.utf8)).map(\.id)
            #expect(ids.count == completed, "a killed backup must stay invisible (kill at \(delayMs) ms)")
        }

        let after = try f.vault(["backup", "--type", "full"])
        #expect(after.status == 0, "the next backup must succeed: \(after.stderr)")

        // Chunks no head names: of a backup killed before its head was written, and one past
        // a kept backup's last (a killed attempt under the same id).
        let keptID = try #require(try await f.openRepository().heads(shard: "main").last?.id)
        for orphan in [ManifestStore.chunkName(shard: "main", id: "20261202T235959Z-F", index: 0), ManifestStore.chunkName(shard: "main", id: keptID, index: 7)] {
            try await f.openRepository().write(orphan, Array("{}".utf8))
        }
        // A temporary file a writer killed two days ago left behind (never listed).
        let stale = f.repositoryPath + "/main/packs/.vault-tmp-1-1"
        FileManager.default.createFile(atPath: stale, contents: Data([1]))
        var twoDaysAgo = [timeval(tv_sec: time(nil) - 2 * 86_400, tv_usec: 0), timeval(tv_sec: time(nil) - 2 * 86_400, tv_usec: 0)]
        utimes(stale, &twoDaysAgo)
        try TestDirectory.giveToPostgres(f.repositoryPath)

        // Within retention.orphan_grace (a day by default) the leftovers stay, and expire says so.
        let young = try f.vault(["expire"])
        #expect(young.status == 0 && young.stdout.contains("no backup names, younger than retention.orphan_grace"), "\(young.stdout)\(young.stderr)")
        #expect(young.stdout.contains("removed 1 unfinished write of killed processes"), "\(young.stdout)")
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(try await f.openRepository().storage.exists(ManifestStore.chunkName(shard: "main", id: keptID, index: 7)))

        try f.writePolicy(server: server, extra: "defaults: {retention: {orphan_grace: 0s}}")
        let expire = try f.vault(["expire"])
        #expect(expire.status == 0, "\(expire.stderr)")
        let repository = try await f.openRepository()
        let kept = try await repository.backups(shard: "main")
        let referenced = kept.reduce(into: Set<String>()) { $0.formUnion($1.packs) }
        let onDisk = Set(try await repository.storage.list(prefix: "main/packs"))
        #expect(onDisk == referenced, "expire must collect every pack no kept backup references")
        let chunks = Set(try await repository.storage.list(prefix: ManifestStore.chunkPrefix("main")))
        let named = kept.flatMap { m in (0..<(m.chunks?.count ?? 0)).map { ManifestStore.chunkName(shard: "main", id: m.id, index: $0) } }
        #expect(!named.isEmpty && chunks == Set(named), "expire must collect chunks no kept backup names")

        let copy = try await f.restoreAndRecover("restored", version: .v15, ["--immediate"])
        #expect(try copy.sql("SELECT md5(string_agg(aid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts") == accounts)
    }
}
