import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Where a passphrase and S3 secret must never appear, checked by looking for known values
/// everywhere they could: the command lines of every process while vault works, the
/// environment of the commands vault runs, vault's output and errors, PostgreSQL's logs and
/// every file of the repository.
@Suite("secrets against real PostgreSQL")
struct SecretsIntegrationTests {
    static let variable = "VAULT_SECRETS_TEST_PASSPHRASE"
    static let passphrase = "Tr0ub4dor-known-passphrase-5f3c9e"
    static let awsSecret = "known-aws-secret-0f1e2d3c4b5a"

    @Test("a passphrase from the environment and an S3 secret reach no command line, hook environment, output, log or repository object")
    func secretsStayPut() async throws {
        // The server's archive_command reads the passphrase from its environment, which it
        // inherits from this process (other tests' servers get the variable too; they ignore it).
        setenv(Self.variable, Self.passphrase, 1)
        let f = try VaultFixture("secrets")
        defer { f.cleanUp() }
        let server = try f.startServer(.v15)
        let hookEnv = f.dir.path + "/hook-env"
        let scratch = f.dir.path + "/scratch"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        try TestDirectory.giveToPostgres(scratch)
        _ = try f.dir.write("vault.yaml", """
            version: 1
            repository: {path: \(f.repositoryPath)}
            encryption: {passphrase_env: \(Self.variable)}
            compression: {level: 3}
            verify: {scratch: \(scratch)}
            fleet:
              pause_command: '/bin/sh -c "env > \(hookEnv)-pause"'
              resume_command: '/bin/sh -c "env > \(hookEnv)-resume"'
            shards:
              - name: main
                bindir: \(server.bindir)
                nodes: [{name: primary, conninfo: "host=127.0.0.1 port=\(server.port) user=postgres dbname=postgres connect_timeout=5"}]

            """, mode: 0o644)
        try server.start()
        let environment = [Self.variable: Self.passphrase, "AWS_SECRET_ACCESS_KEY": Self.awsSecret, "AWS_ACCESS_KEY_ID": "known-id"]
        var outputs: [ProcessOutput] = []

        // Every process's command line, sampled while the commands below run.
        let watcher = CommandLineWatcher(looking: [Self.passphrase, Self.awsSecret])
        watcher.start()
        func run(_ args: [String]) throws -> ProcessOutput {
            let r = try f.vault(args, environment: environment)
            outputs.append(r)
            return r
        }
        #expect(try run(["init"]).status == 0)
        _ = try server.sql("CREATE TABLE t(id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 1000)")
        #expect(try run(["backup", "--type", "full"]).status == 0, "\(outputs.last?.stderr ?? "")")
        let point = try run(["restore-point", "create", "p1"])
        #expect(point.status == 0, "\(point.stderr)")
        let verify = try run(["verify"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(try run(["restore", "--target-dir", f.dir.path + "/copy"]).status == 0, "\(outputs.last?.stderr ?? "")")
        let wrong = try f.vault(["list"], environment: [Self.variable: Self.passphrase + "-wrong"])
        #expect(wrong.status != 0 && wrong.stderr.contains("error:"), "\(wrong.stderr)")
        outputs.append(wrong)
        let seen = watcher.stop()
        #expect(seen.found.isEmpty, "secrets on command lines: \(seen.found)")
        // Each vault process is not dumpable: no core file, and its memory and environment
        // are closed to other processes of its user (their /proc files belong to root).
        #expect(seen.vaultProcesses > 0, "no vault process was sampled")
        #expect(seen.dumpable.isEmpty, "dumpable vault processes: \(seen.dumpable)")

        // The hooks ran, without the secrets in their environment.
        for hook in ["pause", "resume"] {
            let env = try String(contentsOfFile: "\(hookEnv)-\(hook)", encoding: .utf8)
            #expect(env.contains("PATH="), "the hook's environment was dumped")
            #expect(!env.contains(Self.passphrase) && !env.contains(Self.variable), "\(hook) hook saw the passphrase")
            #expect(!env.contains(Self.awsSecret) && !env.contains("AWS_ACCESS_KEY_ID"), "\(hook) hook saw S3 credentials")
        }
        for output in outputs {
            for secret in [Self.passphrase, Self.awsSecret] {
                #expect(!output.stdout.contains(secret) && !output.stderr.contains(secret), "vault printed a secret")
            }
        }
        // No file under the test's directory holds either secret: the repository, the
        // server's and the scratch server's logs, the restored copy.
        let leaks = try Self.files(under: f.dir.path).filter { path in
            guard let data = FileManager.default.contents(atPath: path) else { return false }
            return [Self.passphrase, Self.awsSecret].contains { data.range(of: Data($0.utf8)) != nil }
        }
        #expect(leaks.isEmpty, "files holding a secret: \(leaks)")
    }

    @Test("a passphrase file others can read, and a policy others can write, are refused with the fix, before anything is written")
    func permissions() throws {
        let f = try VaultFixture("secrets-modes")
        defer { f.cleanUp() }
        try f.writePolicy(server: nil)
        chmod(f.passphraseFile, 0o640)
        let open = try f.vault(["init"])
        #expect(open.status != 0 && open.stderr.contains("error: ") && open.stderr.contains("run: chmod 600 \(f.passphraseFile)"), "\(open.stderr)")
        #expect(!FileManager.default.fileExists(atPath: f.repositoryPath), "nothing was created")
        chmod(f.passphraseFile, 0o600)
        chmod(f.policyFile, 0o666)
        let policy = try f.vault(["init"])
        #expect(policy.status != 0 && policy.stderr.contains("run: chmod go-w \(f.policyFile)"), "\(policy.stderr)")
        #expect(policy.stderr.split(separator: "\n").count == 1, "one line: \(policy.stderr)")
        chmod(f.policyFile, 0o644)
        // Past the files, init goes on to the server (there is none here).
        let fixed = try f.vault(["init"])
        #expect(fixed.stderr.contains("cannot connect to node primary") && !fixed.stderr.contains("chmod"), "\(fixed.stderr)")
    }

    static func files(under root: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var out: [String] = []
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = root + "/" + relative
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue { out.append(path) }
        }
        return out
    }
}

/// Samples `/proc/*/cmdline` on a thread of its own (not the cooperative pool) until stopped,
/// and collects the command lines holding any of the strings looked for; also whether each
/// vault process running as another user than root is dumpable (its `/proc/<pid>/environ`
/// not owned by root).
final class CommandLineWatcher: @unchecked Sendable {
    // @unchecked: the collections and `running` are guarded by `lock`.
    private let looking: [String]
    private let lock = NSLock()
    private var found: Set<String> = []
    /// Per vault process: how often it was sampled, and whether it was dumpable the last time.
    private var vault: [String: (samples: Int, dumpable: Bool, line: String)] = [:]
    private var running = true
    private var thread: Thread?

    init(looking: [String]) { self.looking = looking }

    func start() {
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(pid) != nil {
                    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
                    let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
                    if looking.contains(where: { line.contains($0) }) { _ = lock.withLock { found.insert(line) } }
                    if line.hasPrefix(VaultBinary.path + " "), let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                       let uid = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") })?.split(separator: "\t").dropFirst().first, uid != "0" {
                        var st = stat()
                        guard stat("/proc/\(pid)/environ", &st) == 0 else { continue }
                        lock.withLock { vault[pid] = ((vault[pid]?.samples ?? 0) + 1, st.st_uid != 0, line) }
                    }
                }
                usleep(5_000)
            }
        }
        self.thread = thread
        thread.start()
    }

    /// The command lines holding a secret; how many vault processes lived long enough to be
    /// judged (sampled 20 times: a process is dumpable until its main function runs); and
    /// those of them still dumpable when last sampled.
    func stop() -> (found: Set<String>, vaultProcesses: Int, dumpable: [String]) {
        lock.withLock { running = false }
        usleep(20_000)
        return lock.withLock {
            let judged = vault.values.filter { $0.samples >= 20 }
            return (found, judged.count, judged.filter(\.dumpable).map(\.line))
        }
    }
}
