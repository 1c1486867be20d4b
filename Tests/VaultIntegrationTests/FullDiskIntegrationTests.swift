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

/// A repository whose disk fills up during a backup: one clear error, nothing half-written
/// becomes visible.
@Suite("full repository disk against real PostgreSQL")
struct FullDiskIntegrationTests {
    @Test("a backup or archive-push into a full disk fails with one clear error and leaves nothing behind; the push succeeds once there is room",
          .enabled(if: ProcessRunner.isRoot || PostgresVersion.everythingRequired, "mounting a small tmpfs needs root (CI runs as root)"))
    func fullDisk() async throws {
        let f = try VaultFixture("full-disk")
        defer { f.cleanUp() }
        // A 6 MiB file system for the repository: enough for its key and a few WAL segments,
        // not for a compressed copy of a pgbench scale-5 database.
        try FileManager.default.createDirectory(atPath: f.repositoryPath, withIntermediateDirectories: true)
        try ProcessRunner.check(["/bin/mount", "-t", "tmpfs", "-o", "size=6m,mode=0755", "tmpfs", f.repositoryPath])
        defer { _ = try? ProcessRunner.run(["/bin/umount", "-l", f.repositoryPath]) }
        try TestDirectory.giveToPostgres(f.repositoryPath)

        let server = try f.startInitialised(.v15)
        // Random text does not compress: the copy cannot fit.
        try server.sql("CREATE TABLE filler AS SELECT g, md5(g::text) || md5(random()::text) AS t FROM generate_series(1, 200000) g")
        try server.sql("CHECKPOINT")

        let r = try f.vault(["backup", "--type", "full"])
        #expect(r.status == 8, "\(r.stderr)")
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(errors.count == 1, "\(r.stderr)")
        #expect(errors.first?.hasPrefix("error: cannot write") == true)
        #expect(errors.first?.contains("No space left on device") == true)

        let list = try f.vault(["list"])
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains("no backups"))
        let leftovers = (try? FileManager.default.subpathsOfDirectory(atPath: f.repositoryPath)) ?? []
        #expect(!leftovers.contains { $0.split(separator: "/").last?.hasPrefix(".vault-tmp") == true }, "temporary files must be removed: \(leftovers)")

        // archive-push into the full disk: a failure PostgreSQL retries (never success), one
        // clear line, no temporary file; once there is room the same segment arrives whole.
        let filler = f.repositoryPath + "/filler"
        _ = try? ProcessRunner.run(["/bin/dd", "if=/dev/zero", "of=\(filler)", "bs=64k"])
        let segment = try #require(try server.sql("SELECT pg_walfile_name(pg_current_wal_lsn())"))
        try server.sql("SELECT pg_switch_wal()")
        let walPath = server.dataDir + "/pg_wal/" + segment
        let object = f.repositoryPath + "/main/wal/00000001/" + segment
        try? FileManager.default.removeItem(atPath: object)
        let push = try f.vault(["archive-push", walPath])
        #expect(push.status != 0, "a push that could not be made durable must fail: \(push.stderr)")
        let pushErrors = push.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(pushErrors.count == 1 && pushErrors.first?.contains("No space left on device") == true, "\(push.stderr)")
        #expect(!FileManager.default.fileExists(atPath: object))
        let afterPush = (try? FileManager.default.subpathsOfDirectory(atPath: f.repositoryPath)) ?? []
        #expect(!afterPush.contains { $0.split(separator: "/").last?.hasPrefix(".vault-tmp") == true }, "\(afterPush)")
        try FileManager.default.removeItem(atPath: filler)
        let retried = try f.vault(["archive-push", walPath])
        #expect(retried.status == 0, "\(retried.stderr)")
        let back = f.dir.path + "/back"
        #expect(try f.vault(["archive-get", segment, back]).status == 0)
        #expect(FileManager.default.contents(atPath: back) == FileManager.default.contents(atPath: walPath))
    }
}
