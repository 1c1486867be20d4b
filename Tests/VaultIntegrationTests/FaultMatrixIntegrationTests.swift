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

/// The fault matrix's rows that are not a part of another suite: SIGKILL of vault in each
/// phase of archiving, incremental backups, restore and expire; the database stopped under a
/// backup; and every kind of stored object damaged in each way. After each fault the
/// repository passes verify's repository check, no complete backup is lost, and the next run
/// succeeds; damage is named, never restored.
@Suite("fault matrix against real PostgreSQL")
struct FaultMatrixIntegrationTests {
    static func ids(_ f: VaultFixture) throws -> [String] {
        let list = try f.vault(["list", "--json"])
        guard list.status == 0 else { throw HarnessError("vault list failed: \(list.stderr)") }
        return try JSONDecoder().decode([BackupIntegrationTests.Summary].self, from: Data(list.stdout.utf8)).map(\.id)
    }

    static func accounts(_ server: PostgresServer) throws -> String? {
        try server.sql("SELECT md5(string_agg(aid || ':' || abalance, ',' ORDER BY aid)) FROM pgbench_accounts")
    }

    static func pgbench(_ server: PostgresServer, _ args: [String]) throws {
        try ProcessRunner.check([server.bindir + "/pgbench", "-h", "127.0.0.1", "-p", "\(server.port)", "-U", "postgres"] + args + ["postgres"], asPostgres: true)
    }

    static func expectRepositoryValid(_ f: VaultFixture, _ when: String) throws {
        let verify = try f.vault(["verify", "--repository-only", "--all"])
        #expect(verify.status == 0, "verify's repository check \(when): \(verify.stdout)\n\(verify.stderr)")
    }

    @Test("SIGKILL of archive-push before, during and after the store: PostgreSQL's archiver retries on its own, every segment arrives byte-identical, and the repository stays valid")
    func killedArchivePush() async throws {
        let f = try VaultFixture("fault-archive-kill")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        // The first attempt at each segment is killed after a delay that walks through the
        // push (0 s: before it reads the segment; 0.4 s: after it returned), then answers
        // failure as a killed command would; PostgreSQL's retry runs vault undisturbed.
        let script = try f.dir.write("killing-archiver.sh", """
            #!/bin/sh
            marker="\(f.dir.path)/killed-$2"
            if [ ! -e "$marker" ]; then
              n=$(ls "\(f.dir.path)" | grep -c '^killed-')
              touch "$marker"
              delays="0 0.005 0.02 0.05 0.1 0.4"
              delay=$(echo $delays | cut -d' ' -f$(( n % 6 + 1 )))
              \(VaultBinary.path) --policy \(f.policyFile) archive-push "$1" & pid=$!
              sleep "$delay"
              kill -9 "$pid" 2>/dev/null
              wait "$pid"
              exit 1
            fi
            exec \(VaultBinary.path) --policy \(f.policyFile) archive-push "$1"

            """, mode: 0o755)
        try server.sql("ALTER SYSTEM SET archive_command = '\(script) %p %f'")
        try server.sql("SELECT pg_reload_conf()")
        try server.sql("CREATE TABLE t (id int, v text)")
        var switched: [String] = []
        for i in 0..<6 {
            try server.sql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(\(i * 4000), \(i * 4000 + 3999)) g")
            switched.append(try #require(try server.sql("SELECT pg_walfile_name(pg_switch_wal())")))
        }
        try await waitUntilArchived(server, segment: try #require(switched.last), timeout: 180)
        // (The harness's own check: the killed first attempts were reported as failures.)
        let failed = Int(try server.sql("SELECT failed_count FROM pg_stat_archiver") ?? "0") ?? 0
        #expect(failed >= switched.count, "\(failed) failures")
        // check refuses an archive_command that does not call vault: back to the plain one.
        try server.sql("ALTER SYSTEM RESET archive_command")
        try server.sql("SELECT pg_reload_conf()")

        for segment in switched {
            let back = f.dir.path + "/back-\(segment)"
            let get = try f.vault(["archive-get", segment, back])
            #expect(get.status == 0, "\(segment): \(get.stderr)")
            #expect(FileManager.default.contents(atPath: back) == FileManager.default.contents(atPath: server.dataDir + "/pg_wal/" + segment),
                    "\(segment) differs from the server's copy")
        }
        let check = try f.vault(["check"])
        #expect(check.status == 0, "\(check.stdout)\n\(check.stderr)")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        try Self.expectRepositoryValid(f, "after killed pushes")
    }

    @Test("SIGKILL of an incremental backup 0 to 700 ms after its start: complete or invisible, the repository check passes, the next incremental succeeds and restores exactly")
    func killedIncremental() async throws {
        let f = try VaultFixture("fault-incremental-kill")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try Self.pgbench(server, ["-i", "-q", "-s", "8"])
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        try Self.pgbench(server, ["-n", "-t", "2000"])
        try server.sql("CHECKPOINT")
        let accounts = try Self.accounts(server)

        // Killed once the backup has started (its start LSN logged), at once or later: while
        // it copies, writes its manifest or waits for WAL. A backup killed after its head was
        // written is complete; any other is invisible.
        for (round, delayMs) in [0, 100, 300, 700].enumerated() {
            let before = try Self.ids(f)
            let log = f.dir.path + "/killed-\(round).log"
            let pid = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "backup", "--type", "incremental"], logTo: log)
            #expect(waitForText(" started at ", in: log), "the incremental never started")
            try await Task.sleep(nanoseconds: UInt64(delayMs) * 1_000_000)
            kill(pid, SIGKILL)
            _ = ProcessRunner.wait(pid)
            let after = try Self.ids(f)
            #expect(after.count == before.count || after.count == before.count + 1, "kill \(delayMs) ms after the start: \(before) → \(after)")
            try Self.expectRepositoryValid(f, "after an incremental killed \(delayMs) ms after its start")
        }
        let next = try f.vault(["backup", "--type", "incremental"])
        #expect(next.status == 0, "\(next.stderr)")
        try Self.expectRepositoryValid(f, "after killed incrementals")
        let copy = try await f.restoreAndRecover("restored", version: .v15, ["--immediate"])
        #expect(try Self.accounts(copy) == accounts)
    }

    @Test("SIGKILL of a restore: the directory cannot start (no pg_control yet), a plain restore refuses it, and --delta finishes it to the source's data")
    func killedRestore() async throws {
        let f = try VaultFixture("fault-restore-kill")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try Self.pgbench(server, ["-i", "-q", "-s", "8"])
        try server.sql("CHECKPOINT")
        let accounts = try Self.accounts(server)
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)

        // Killed once the copy has begun (the directory has its first database), at once or
        // a little later; a restore that finished first is tried again at the next delay. A
        // shell watches and kills, so the test process's own scheduling under load cannot
        // let the restore finish first.
        let target = f.dir.path + "/killed-restore"
        var killed = false
        for delay in ["0", "0.1", "0.3", "0"] where !killed {
            try? FileManager.default.removeItem(atPath: target)
            let script = """
                \(VaultBinary.path) --policy \(f.policyFile) restore --target-dir \(target) --immediate >> \(f.dir.path)/restore.log 2>&1 & pid=$!
                while [ ! -e \(target)/base ] && kill -0 $pid 2>/dev/null; do sleep 0.002; done
                sleep \(delay); kill -9 $pid 2>/dev/null; wait $pid; echo "exit $?"
                """
            let run = try ProcessRunner.run(["/bin/sh", "-c", script], asPostgres: true, cwd: f.dir.path)
            killed = run.stdout.contains("exit 137")
        }
        try #require(killed, "a restore was killed before it finished")
        #expect(!FileManager.default.fileExists(atPath: target + "/global/pg_control"), "pg_control is put in place last")
        let start = try ProcessRunner.run([server.bindir + "/pg_ctl", "-D", target, "-l", f.dir.path + "/killed-start.log", "-w", "-t", "20", "start"], asPostgres: true)
        #expect(start.status != 0, "PostgreSQL must refuse a half-restored directory")
        let again = try f.vault(["restore", "--target-dir", target, "--immediate"])
        #expect(again.status != 0 && again.stderr.contains("is not empty") && again.stderr.contains("--delta"), "\(again.stderr)")
        let finished = try f.vault(["restore", "--target-dir", target, "--immediate", "--delta"])
        #expect(finished.status == 0, "\(finished.stderr)")
        // Files that are not a whole number of pages come back whole too.
        for file in ["postgresql.conf", "pg_hba.conf", "pg_ident.conf"] {
            #expect(FileManager.default.contents(atPath: target + "/" + file) == FileManager.default.contents(atPath: server.dataDir + "/" + file), "\(file)")
        }
        let copy = try PostgresServer(adopting: target, version: .v15, in: f.dir)
        try copy.configure(["port = \(copy.port)", "archive_mode = off"])
        do { try copy.start() } catch { throw HarnessError("\(error)\nserver log:\n\(copy.log().suffix(3000))") }
        defer { copy.stop() }
        try await waitForPromotion(copy)
        #expect(try Self.accounts(copy) == accounts)
    }

    @Test("SIGKILL of expire once it removed a head, at several points: every backup still listed passes the repository check, the next expire finishes the job, the newest restores exactly")
    func killedExpire() async throws {
        let f = try VaultFixture("fault-expire-kill")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try f.writePolicy(server: server, extra: "defaults: {retention: {full_backups: 1, orphan_grace: 0s}}")
        try Self.pgbench(server, ["-i", "-q", "-s", "4"])
        for delayMs in [0, 2, 10, 40] {
            for _ in 0..<2 {
                try Self.pgbench(server, ["-n", "-t", "300"])
                #expect(try f.vault(["backup", "--type", "full"]).status == 0)
            }
            // Killed once expire has removed the oldest head (the backup is gone, its packs not
            // yet), at once or a little later.
            let oldest = try #require(try Self.ids(f).first)
            let head = f.repositoryPath + "/" + BackupManifest.objectName(shard: "main", id: oldest)
            let pid = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "expire"], logTo: f.dir.path + "/expire.log")
            #expect(try await poll(timeout: 60, every: 500_000) { !FileManager.default.fileExists(atPath: head) }, "expire never removed \(oldest)")
            try await Task.sleep(nanoseconds: UInt64(delayMs) * 1_000_000)
            kill(pid, SIGKILL)
            _ = ProcessRunner.wait(pid)
            #expect(try !Self.ids(f).isEmpty, "the newest full is never expired (kill at \(delayMs) ms)")
            try Self.expectRepositoryValid(f, "after expire killed at \(delayMs) ms")
        }
        let expire = try f.vault(["expire"])
        #expect(expire.status == 0, "\(expire.stderr)")
        #expect(try Self.ids(f).count == 1)
        let repository = try await f.openRepository()
        let kept = try await repository.backups(shard: "main")
        let onDisk = Set(try await repository.storage.list(prefix: "main/packs"))
        #expect(onDisk == kept.reduce(into: Set<String>()) { $0.formUnion($1.packs) }, "the next expire collects what the killed ones left")
        try server.sql("CHECKPOINT")
        let accounts = try Self.accounts(server)
        #expect(try f.vault(["backup", "--type", "incremental"]).status == 0)
        let copy = try await f.restoreAndRecover("restored", version: .v15, ["--immediate"])
        #expect(try Self.accounts(copy) == accounts)
    }

    @Test("the database stopped under a running backup: one clear error, nothing visible, and the next backup after a restart succeeds")
    func databaseStoppedMidBackup() async throws {
        let f = try VaultFixture("fault-db-stopped")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try Self.pgbench(server, ["-i", "-q", "-s", "20"])
        try server.sql("CHECKPOINT")
        let log = f.dir.path + "/backup.log"
        let pid = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "backup", "--type", "full"], logTo: log)
        #expect(waitForText(" started at ", in: log), "the backup never started")
        usleep(200_000)
        server.stop()
        let (status, output) = ProcessRunner.finish(pid, log: log)
        #expect(status != 0, "\(output)")
        #expect(output.split(separator: "\n").filter { $0.hasPrefix("error:") }.count == 1, "\(output)")
        #expect(try Self.ids(f).isEmpty)
        try server.start()
        let accounts = try Self.accounts(server)
        let next = try f.vault(["backup", "--type", "full"])
        #expect(next.status == 0, "\(next.stderr)")
        try Self.expectRepositoryValid(f, "after the database was stopped")
        let copy = try await f.restoreAndRecover("restored", version: .v15, ["--immediate"])
        #expect(try Self.accounts(copy) == accounts)
    }

    @Test("expire while a backup runs is refused by the shard's lock, naming the holder; the backup completes and both pass afterwards")
    func expireDuringBackup() async throws {
        let f = try VaultFixture("fault-expire-backup")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try Self.pgbench(server, ["-i", "-q", "-s", "20"])
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let log = f.dir.path + "/backup.log"
        let pid = try ProcessRunner.spawnAsPostgres([VaultBinary.path, "--policy", f.policyFile, "backup", "--type", "full"], logTo: log)
        #expect(waitForText(" started at ", in: log), "the backup never started")
        let expire = try f.vault(["expire"])
        #expect(expire.status != 0 && expire.stderr.contains("is locked by") && expire.stderr.contains("one writer per shard at a time"), "\(expire.stderr)")
        let (status, output) = ProcessRunner.finish(pid, log: log)
        #expect(status == 0, "\(output)")
        #expect(try Self.ids(f).count == 2)
        #expect(try f.vault(["expire"]).status == 0)
        try Self.expectRepositoryValid(f, "after expire and backup met")
    }

    static func contents(_ f: VaultFixture, _ object: String?) throws -> Data {
        guard let object, let data = FileManager.default.contents(atPath: f.repositoryPath + "/" + object) else { throw HarnessError("no object \(object ?? "?") to copy") }
        return data
    }

    /// One way of damaging a stored file.
    enum Damage: String, CaseIterable {
        case flipped = "a flipped byte"
        case truncated = "truncation"
        case deleted = "deletion"
        case swapped = "another object copied over its name"
    }

    @Test("manifest, pack, WAL, key file, later key, shard record and verification record: flipped, truncated, deleted or swapped, each is named by verify (or by the first command, for keys) and nothing is restored from it")
    func damagedObjects() async throws {
        let f = try VaultFixture("fault-damage")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try Self.pgbench(server, ["-i", "-q", "-s", "2"])
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        #expect(try f.vault(["key", "new"]).status == 0)
        #expect(try f.vault(["key", "new"]).status == 0)
        try Self.pgbench(server, ["-n", "-t", "200"])
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        #expect(try f.vault(["verify", "--repository-only", "--all"]).status == 0)

        let repository = try await f.openRepository()
        let backups = try await repository.backups(shard: "main")
        #expect(backups.count == 2)
        let (older, newer) = (backups[0], backups[1])
        let all = try await repository.storage.list(prefix: "")
        let keyFile = try #require(all.first { $0.hasPrefix("keys/") && !$0.hasPrefix("keys/later/") })
        let verifications = all.filter { $0.hasPrefix("main/verify/") }
        let olderWAL = WALArchive.objectName(shard: "main", file: older.walStart)
        let otherWAL = try #require(all.filter { $0.hasPrefix("main/wal/00000001/") && $0.count == olderWAL.count && $0 != olderWAL }.first)
        // A key file of another repository, for the swap.
        let (foreign, _) = try KeyFile.create(secret: .passphrase(Passphrase(bytes: Array("another repository's key".utf8))), created: "x")

        // (object, what is copied over it, the command that must name it)
        let cases: [(object: String, swapWith: [UInt8]?, command: [String])] = [
            (BackupManifest.objectName(shard: "main", id: older.id), nil, ["verify", "--repository-only", "--all"]),
            (try #require(older.packs.sorted().first), nil, ["verify", "--repository-only", "--all"]),
            (olderWAL, nil, ["verify", "--repository-only", "--all"]),
            (ShardRecord.objectName("main"), nil, ["verify", "--repository-only"]),
            (try #require(verifications.first), nil, ["verify", "--repository-only"]),
            (keyFile, try JSONCoding.encode(foreign), ["list"]),
            (LaterKeyRecord.objectName(generation: 2), nil, ["list"]),
        ]
        let others: [String: String] = [
            cases[0].object: BackupManifest.objectName(shard: "main", id: newer.id),
            cases[1].object: try #require(newer.packs.sorted().first { $0 != cases[1].object }),
            cases[2].object: otherWAL,
            cases[3].object: try #require(verifications.last),
            cases[4].object: try #require(verifications.last),
            cases[6].object: LaterKeyRecord.objectName(generation: 3),
        ]
        #expect(verifications.count == 2)

        for c in cases {
            let path = f.repositoryPath + "/" + c.object
            let original = try #require(FileManager.default.contents(atPath: path), "\(c.object)")
            for damage in Damage.allCases {
                switch damage {
                case .flipped:
                    var bytes = original
                    bytes[bytes.count / 2] ^= 0x01
                    try bytes.write(to: URL(fileURLWithPath: path))
                case .truncated:
                    try original.prefix(original.count / 2).write(to: URL(fileURLWithPath: path))
                case .deleted:
                    try FileManager.default.removeItem(atPath: path)
                case .swapped:
                    try (c.swapWith.map { Data($0) } ?? Self.contents(f, others[c.object])).write(to: URL(fileURLWithPath: path))
                }
                let r = try f.vault(c.command)
                let output = r.stdout + r.stderr
                if damage == .deleted && c.object.hasSuffix(".manifest") {
                    // A head removed is a backup removed (as expire does): it leaves the list,
                    // and nothing is restored from what it named.
                    let listed = try Self.ids(f)
                    #expect(r.status == 0 && !listed.contains(older.id), "\(output)")
                } else if damage == .deleted && c.object.hasPrefix("main/verify/") {
                    // A report removed: nothing depends on it.
                    #expect(r.status == 0, "\(output)")
                } else {
                    #expect(r.status != 0, "\(damage.rawValue) of \(c.object) must fail \(c.command): \(output)")
                    #expect(output.contains(c.object), "\(damage.rawValue) of \(c.object) must be named: \(output)")
                }
                try original.write(to: URL(fileURLWithPath: path))
                try TestDirectory.giveToPostgres(path)
            }
        }
        #expect(try f.vault(["verify", "--repository-only", "--all"]).status == 0, "every object put back")

        // A swapped pack is not restored: the restore stops, naming it.
        let pack = try #require(older.packs.sorted().first)
        let packPath = f.repositoryPath + "/" + pack
        let original = try #require(FileManager.default.contents(atPath: packPath))
        try Self.contents(f, others[pack]).write(to: URL(fileURLWithPath: packPath))
        let restore = try f.vault(["restore", "--target-dir", f.dir.path + "/from-swapped", "--backup", older.id, "--immediate"])
        #expect(restore.status != 0 && restore.stderr.contains(pack), "\(restore.stderr)")
        try original.write(to: URL(fileURLWithPath: packPath))
    }
}
