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

/// Each operator mistake or damaged object gets one clear `error:` line, a non-zero exit,
/// and leaves the repository as it was.
@Suite("bad input against real PostgreSQL")
struct BadInputIntegrationTests {
    /// A running PostgreSQL 15 archiving into an initialised repository, with one segment archived.
    private func archivingFixture(_ name: String) async throws -> (VaultFixture, PostgresServer, String) {
        let f = try VaultFixture(name)
        let server = try f.startInitialised(.v15)
        try server.sql("CREATE TABLE t AS SELECT generate_series(1, 10000) AS id")
        let segment = try #require(try server.sql("SELECT pg_walfile_name(pg_switch_wal())"))
        try await waitUntilArchived(server, segment: segment)
        return (f, server, segment)
    }

    private func objectPath(_ f: VaultFixture, _ segment: String) -> String {
        "\(f.repositoryPath)/main/wal/\(segment.prefix(8))/\(segment)"
    }

    @Test("a wrong passphrase is one clear error before any work")
    func wrongPassphrase() async throws {
        let (f, server, segment) = try await archivingFixture("bad-passphrase")
        defer { f.cleanUp() }
        let wrong = try f.dir.write("wrong-passphrase", "not the passphrase at all, sorry\n")
        let policy = try f.writePolicy(server: server, file: "wrong.yaml", passphraseFile: wrong)

        let push = try f.vault(["archive-push", server.dataDir + "/pg_wal/" + segment], policy: policy)
        #expect(push.status == 4)
        #expect(push.stderr.hasPrefix("error: wrong passphrase for repository \(f.repositoryPath)"))
        #expect(push.stderr.split(separator: "\n").count == 1)
        #expect(!push.stderr.contains("not the passphrase"))

        let get = try f.vault(["archive-get", segment, f.dir.path + "/x"], policy: policy)
        #expect(get.status == 128, "a wrong passphrase must stop recovery, not end it")
        #expect(get.stderr.contains("wrong passphrase"))
        #expect(!FileManager.default.fileExists(atPath: f.dir.path + "/x"))
    }

    @Test("a flipped byte in a stored segment is detected and stops recovery")
    func flippedByte() async throws {
        let (f, _, segment) = try await archivingFixture("bad-flip")
        defer { f.cleanUp() }
        let path = objectPath(f, segment)
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let get = try f.vault(["archive-get", segment, f.dir.path + "/x"])
        #expect(get.status == 128)
        #expect(get.stderr.hasPrefix("error: object main/wal/00000001/\(segment) failed authentication"))
        #expect(!FileManager.default.fileExists(atPath: f.dir.path + "/x"))

        // On a standby (standby.signal in the working directory) vault exits 1 so the standby
        // goes on streaming, but still says loudly what is wrong.
        let standbyDir = f.dir.path + "/standby-cwd"
        try FileManager.default.createDirectory(atPath: standbyDir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: standbyDir + "/standby.signal", contents: Data())
        try TestDirectory.giveToPostgres(standbyDir)
        let onStandby = try f.vault(["archive-get", segment, standbyDir + "/x"], cwd: standbyDir)
        #expect(onStandby.status == 1)
        #expect(onStandby.stderr.contains("failed authentication"))
    }

    @Test("a segment re-pushed with different content is refused and the archive keeps the original")
    func differentContent() async throws {
        let (f, server, segment) = try await archivingFixture("bad-repush")
        defer { f.cleanUp() }
        let before = try Data(contentsOf: URL(fileURLWithPath: objectPath(f, segment)))

        // Same bytes again: PostgreSQL retries after a crash, so this must succeed.
        let same = try f.vault(["archive-push", server.dataDir + "/pg_wal/" + segment])
        #expect(same.status == 0, "\(same.stderr)")

        var changed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: server.dataDir + "/pg_wal/" + segment)))
        changed[100_000] ^= 0xff
        let dir = f.dir.path + "/other"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(changed).write(to: URL(fileURLWithPath: dir + "/" + segment))
        try TestDirectory.giveToPostgres(dir)
        let push = try f.vault(["archive-push", dir + "/" + segment])
        #expect(push.status == 6)
        #expect(push.stderr.hasPrefix("error: \(segment) is already archived in shard main with different content"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: objectPath(f, segment))) == before)
    }

    @Test("an unreachable server is named with its host and port")
    func unreachableServer() async throws {
        let f = try VaultFixture("bad-unreachable")
        defer { f.cleanUp() }
        let port = PortAllocator.allocate()
        try f.writePolicy(server: nil, port: port)
        let r = try f.vault(["init"])
        #expect(r.status == 7)
        #expect(r.stderr.hasPrefix("error: cannot connect to node primary of shard main (host=127.0.0.1 port=\(port))"))
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    @Test("a policy with typos names the line of each problem and does nothing")
    func policyTypos() async throws {
        let f = try VaultFixture("bad-policy")
        defer { f.cleanUp() }
        let policy = try f.dir.write("typo.yaml", """
            version: 1
            repository:
              path: \(f.repositoryPath)
            encryption: {passphrase_file: \(f.passphraseFile)}
            shards:
              - name: main
                nodse:
                  - {name: a, conninfo: "host=127.0.0.1"}
            """, mode: 0o644)
        let r = try f.vault(["init"], policy: policy)
        #expect(r.status == 3)
        #expect(r.stderr.contains("typo.yaml:6: shards[0].nodes is missing"))
        let check = try f.vault(["policy", "check", policy])
        #expect(check.status == 3)
        #expect(check.stderr.contains("typo.yaml:7:5: unknown key shards[0].nodse (did you mean 'nodes'?)"))
        #expect(!FileManager.default.fileExists(atPath: f.repositoryPath))
    }

    @Test("a repository shard that belongs to another cluster refuses its WAL and its init")
    func anotherCluster() async throws {
        let (f, _, _) = try await archivingFixture("bad-cluster")
        defer { f.cleanUp() }
        let other = try PostgresServer(version: .v15, in: f.dir, name: "other")
        defer { other.stop() }
        try other.configure(["listen_addresses = '127.0.0.1'", "port = \(other.port)", "unix_socket_directories = '\(f.dir.path)'"])
        try other.start()
        let policy = try f.writePolicy(server: other, file: "other.yaml")

        let initOther = try f.vault(["init"], policy: policy)
        #expect(initOther.status == 6)
        #expect(initOther.stderr.contains("shard main in the repository belongs to cluster"))

        let segment = try #require(try other.sql("SELECT pg_walfile_name(pg_switch_wal())"))
        let push = try f.vault(["archive-push", other.dataDir + "/pg_wal/" + segment], policy: policy)
        #expect(push.status == 6)
        #expect(push.stderr.contains("belongs to cluster"))
    }

    @Test("archive_mode off refuses a backup; WAL that never reaches the repository: the backup is kept, exits 10 naming the WAL; once archiving works, list shows it complete")
    func walNotArchived() async throws {
        let f = try VaultFixture("bad-archive-timeout")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try f.writePolicy(server: server, shardExtra: "backup: {archive_timeout: 2s}")
        try server.sql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
        // archive_mode off: refused before anything is copied.
        server.stop()
        try server.configure(["archive_mode = off"])
        try server.start()
        let refused = try f.vault(["backup", "--type", "full"])
        #expect(refused.status == 6, "\(refused.stderr)")
        #expect(refused.stderr.contains("error: node primary: archive_mode is 'off'"), "\(refused.stderr)")
        let none = try JSONSerialization.jsonObject(with: Data(try f.vault(["list", "--json"]).stdout.utf8)) as? [Any]
        #expect(none?.isEmpty == true, "nothing stored")

        // Archiving configured but failing (a typo in the policy path of archive_command).
        server.stop()
        try server.configure(["archive_mode = on", "archive_command = '\(VaultBinary.path) --policy /nonexistent/vault.yaml archive-push %p'"])
        try server.start()
        let backup = try f.vault(["backup", "--type", "full"])
        #expect(backup.status == 10, "\(backup.stderr)")
        let lines = backup.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(lines.count == 1)
        #expect(backup.stderr.contains("did not reach the repository within backup.archive_timeout (2 s)"), "\(backup.stderr)")
        #expect(backup.stderr.contains("PostgreSQL's archiver last archived"), "the archiver's state is logged: \(backup.stderr)")

        func listed() throws -> [String: Any] {
            let list = try f.vault(["list", "--json"])
            let all = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
            return try #require(all.first)
        }
        let before = try listed()
        #expect(before["walComplete"] as? Bool == false)
        let walStop = try #require(before["walStop"] as? String)

        server.stop()
        try server.configureArchiving(policy: f.policyFile)
        try server.start()
        try await waitUntilArchived(server, segment: walStop)
        #expect(try listed()["walComplete"] as? Bool == true)
    }

    @Test("restore --start without the server binaries is refused before anything is written")
    func restoreWithoutBinaries() async throws {
        let f = try VaultFixture("bad-restore-bindir")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        let policy = try f.writePolicy(server: server, file: "no-binaries.yaml", bindir: "/nonexistent/bin")
        let target = f.dir.path + "/restored"
        let r = try f.vault(["restore", "--target-dir", target, "--start"], policy: policy)
        #expect(r.status == 2, "\(r.stderr)")
        #expect(r.stderr == "error: bindir /nonexistent/bin of shard main has no pg_ctl\n", "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target), "nothing written")
    }

    @Test("without libpq, restore and list still run; a command that needs a server names libpq before it writes anything")
    func withoutLibPQ() async throws {
        let f = try VaultFixture("bad-no-libpq")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        try server.sql("CREATE TABLE t AS SELECT generate_series(1, 10000) AS id")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        // libpq hidden from vault alone: /dev/null bound over it in a mount namespace of its own.
        func withoutLibPQ(_ args: [String]) throws -> ProcessOutput {
            try ProcessRunner.run(["unshare", "-m", "sh", "-c",
                                   "mount --bind /dev/null \"$(readlink -f \"$(ldconfig -p | awk '/libpq\\.so\\.5 /{print $NF; exit}')\")\" && exec runuser -u postgres -- \"$@\"",
                                   "sh", VaultBinary.path, "--policy", f.policyFile] + args, cwd: f.dir.path)
        }
        let check = try withoutLibPQ(["check"])
        #expect(check.status == 9, "\(check.stderr)")
        #expect(check.stderr.hasPrefix("error: libpq (libpq.so.5) cannot be loaded: "), "\(check.stderr)")
        #expect(check.stderr.hasSuffix("; install the libpq5 package\n") && check.stderr.split(separator: "\n").count == 1, "\(check.stderr)")
        #expect(try withoutLibPQ(["list"]).status == 0)
        // Commands that would need libpq only after writing (to watch the server they start)
        // are refused before they write anything.
        let started = try withoutLibPQ(["restore", "--target-dir", f.dir.path + "/started", "--start"])
        #expect(started.status == 9 && started.stderr.contains("libpq"), "\(started.stderr)")
        #expect(!FileManager.default.fileExists(atPath: f.dir.path + "/started"), "nothing written")
        let restored = try withoutLibPQ(["restore", "--target-dir", f.dir.path + "/restored"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let copy = try await f.recover(f.dir.path + "/restored", version: .v15)
        #expect(try copy.sql("SELECT sum(id) FROM t") == server.sql("SELECT sum(id) FROM t"))
    }
}
