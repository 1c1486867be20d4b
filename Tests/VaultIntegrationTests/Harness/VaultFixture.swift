import Foundation
import VaultSupport
import VaultSystem
import VaultStorage
import VaultCrypto
import VaultPostgres
import VaultPolicy
import VaultFormat
import VaultOperations

/// One test's world: a scratch directory, a passphrase file, a policy naming a repository
/// in that directory, and helpers to run the vault binary as PostgreSQL would.
final class VaultFixture {
    let dir: TestDirectory
    let passphraseFile: String
    var policyFile: String
    let repositoryPath: String
    /// Policy lines for the repository when it is not the local directory (an S3 bucket).
    var repositoryYAML: String?
    private var servers: [PostgresServer] = []

    init(_ name: String, passphrase: String = "correct horse battery staple 0123456789") throws {
        dir = try TestDirectory(name)
        passphraseFile = try dir.write("passphrase", passphrase + "\n")
        repositoryPath = dir.path + "/repo"
        policyFile = dir.path + "/vault.yaml"
    }

    /// Writes the policy for one shard named `shard` whose primary is `server`.
    @discardableResult
    func writePolicy(shard: String = "main", server: PostgresServer?, port: UInt16? = nil, file: String = "vault.yaml",
                     passphraseFile: String? = nil, extra: String = "", shardExtra: String = "", bindir: String? = nil) throws -> String {
        let p = port ?? server?.port ?? 1
        let repository = repositoryYAML ?? "repository:\n  path: \(repositoryPath)"
        let yaml = """
            version: 1
            \(repository)
            encryption:
              passphrase_file: \(passphraseFile ?? self.passphraseFile)
            compression: {level: 3}
            \(extra)
            shards:
              - name: \(shard)
                bindir: \(bindir ?? server?.bindir ?? "/usr/lib/postgresql/15/bin")
                nodes:
                  - name: primary
                    conninfo: "host=127.0.0.1 port=\(p) user=postgres dbname=postgres connect_timeout=5"
            \(shardExtra.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))

            """
        return try dir.write(file, yaml, mode: 0o644)
    }

    /// Writes a policy for shard `main` with nodes `primary` and `standby` (priority 10),
    /// `backup.from: from`, and each node's `pgdata` where given.
    @discardableResult
    func writeStandbyPolicy(primary: PostgresServer, standby: PostgresServer, from: String, primaryPGData: String? = nil,
                            standbyPGData: String?, file: String = "vault.yaml") throws -> String {
        func pgdata(_ dir: String?) -> String { dir.map { ", pgdata: \($0)" } ?? "" }
        return try dir.write(file, """
            version: 1
            repository: {path: \(repositoryPath)}
            encryption: {passphrase_file: \(passphraseFile)}
            defaults: {backup: {from: \(from)}}
            shards:
              - name: main
                nodes:
                  - {name: primary, conninfo: "host=127.0.0.1 port=\(primary.port) user=postgres dbname=postgres"\(pgdata(primaryPGData))}
                  - {name: standby, conninfo: "host=127.0.0.1 port=\(standby.port) user=postgres dbname=postgres"\(pgdata(standbyPGData)), priority: 10}

            """, mode: 0o644)
    }

    /// Starts a server of `version` archiving through vault with this fixture's policy.
    func startServer(_ version: PostgresVersion, name: String = "data") throws -> PostgresServer {
        let server = try PostgresServer(version: version, in: dir, name: name)
        servers.append(server)
        try server.configureArchiving(policy: policyFile)
        return server
    }

    /// Runs vault as the postgres user, as archive_command would.
    @discardableResult
    func vault(_ args: [String], policy: String? = nil, cwd: String? = nil, environment: [String: String] = [:]) throws -> ProcessOutput {
        try ProcessRunner.run([VaultBinary.path, "--policy", policy ?? policyFile] + args, asPostgres: true, cwd: cwd ?? dir.path, environment: environment)
    }

    /// The common start of a test: a running server of `version` archiving through vault
    /// into this fixture's freshly initialised repository.
    func startInitialised(_ version: PostgresVersion) throws -> PostgresServer {
        let server = try startServer(version)
        try writePolicy(server: server)
        try server.start()
        try initRepository()
        return server
    }

    /// A streaming standby of `primary`, made with pg_basebackup -R and started on its own port.
    func startStandby(of primary: PostgresServer, name: String = "standby") throws -> PostgresServer {
        let dir = self.dir.path + "/" + name
        try ProcessRunner.check([primary.bindir + "/pg_basebackup", "-D", dir, "-h", "127.0.0.1", "-p", "\(primary.port)",
                                 "-U", "postgres", "-X", "stream", "-R", "-c", "fast"], asPostgres: true)
        let standby = try PostgresServer(adopting: dir, version: primary.version, in: self.dir)
        servers.append(standby)
        try standby.configure(["port = \(standby.port)"])
        try standby.start()
        return standby
    }

    /// Runs `vault restore --target-dir <dir/name> <args>`, starts the restored copy on its own
    /// port with archiving off (so it cannot archive into the shard), and waits until it has
    /// finished recovery and been promoted. Throws with vault's stderr when the restore fails.
    func restoreAndRecover(_ name: String, version: PostgresVersion, _ args: [String]) async throws -> PostgresServer {
        let dir = self.dir.path + "/" + name
        let r = try vault(["restore", "--target-dir", dir] + args)
        guard r.status == 0 else { throw HarnessError("vault restore \(args) exited \(r.status): \(r.stderr)") }
        return try await recover(dir, version: version)
    }

    /// Starts the restored copy at `dir` on its own port with archiving off and waits until it
    /// has finished recovery and been promoted.
    func recover(_ dir: String, version: PostgresVersion) async throws -> PostgresServer {
        let copy = try PostgresServer(adopting: dir, version: version, in: self.dir)
        servers.append(copy)
        try copy.configure(["port = \(copy.port)", "archive_mode = off"])
        do { try copy.start() } catch { throw HarnessError("\(error)\nserver log:\n\(copy.log().suffix(3000))") }
        try await waitForPromotion(copy)
        return copy
    }

    /// Runs `vault init` and throws with its output unless it succeeds.
    @discardableResult
    func initRepository() throws -> ProcessOutput {
        let r = try vault(["init"])
        guard r.status == 0 else { throw HarnessError("vault init exited \(r.status): \(r.stderr)") }
        return r
    }

    /// Opens the repository in-process, for assertions.
    func openRepository(passphrase: String = "correct horse battery staple 0123456789") async throws -> Repository {
        try await Repository.open(storage: PosixStorage(root: repositoryPath), compressionLevel: 3) {
            .passphrase(Passphrase(bytes: Array(passphrase.utf8)))
        }
    }

    func cleanUp() {
        for s in servers { s.stop() }
        dir.remove()
    }
}

extension Repository {
    /// Every backup of a shard whole, oldest first (tests only: vault itself reads heads and
    /// loads one body at a time).
    func backups(shard: String) async throws -> [BackupManifest] {
        var out: [BackupManifest] = []
        for head in try await heads(shard: shard) {
            if let m = try await manifest(shard: shard, id: head.id) { out.append(m) }
        }
        return out
    }
}
