import Foundation
import Testing

/// The files in Deploy/ are what operators copy to their hosts: the systemd units must load,
/// and every vault command line in them (units and crontab) must be one this vault accepts.
/// Also how vault answers a command line it cannot parse.
@Suite("Deploy files")
struct DeployFilesTests {
    static let deployDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Deploy").path
    static let installedPath = "/usr/local/bin/vault"

    /// The vault arguments of every `/usr/local/bin/vault …` command in `text`, cut at a pipe.
    static func vaultCommands(in text: String) -> [[String]] {
        text.split(separator: "\n").compactMap { line -> [String]? in
            guard !line.hasPrefix("#"), let range = line.range(of: installedPath + " ") else { return nil }
            let command = line[range.upperBound...].split(separator: "|").first ?? ""
            let words = command.split(separator: " ").map(String.init).filter { $0 != "2>&1" }
            return words.map { $0.replacingOccurrences(of: "%i", with: "main") }
        }
    }

    @Test("the systemd units pass systemd-analyze verify, instantiated for a shard")
    func units() throws {
        let dir = try TestDirectory("deploy-units")
        defer { dir.remove() }
        let source = Self.deployDir + "/systemd"
        let files = try FileManager.default.contentsOfDirectory(atPath: source).filter { $0.hasSuffix(".service") || $0.hasSuffix(".timer") }
        #expect(files.count == 7, "\(files)")
        var instances: [String] = []
        for file in files {
            // Point ExecStart at the vault under test: systemd-analyze checks it is executable.
            let text = try String(contentsOfFile: source + "/" + file, encoding: .utf8)
                .replacingOccurrences(of: Self.installedPath, with: VaultBinary.path)
            try text.write(toFile: dir.path + "/" + file, atomically: true, encoding: .utf8)
            guard file.contains("@.") else {
                instances.append(dir.path + "/" + file)
                continue
            }
            let instance = file.replacingOccurrences(of: "@.", with: "@main.")
            try FileManager.default.createSymbolicLink(atPath: dir.path + "/" + instance, withDestinationPath: file)
            instances.append(dir.path + "/" + instance)
        }
        let r = try ProcessRunner.run(["/usr/bin/systemd-analyze", "verify"] + instances.sorted())
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stderr.isEmpty, "no warnings: \(r.stderr)")
    }

    @Test("every vault command line in the units and the crontab parses: it fails only for the missing repository")
    func commandLines() throws {
        var commands: [[String]] = []
        for file in ["systemd/vault-backup@.service", "systemd/vault-expire@.service", "systemd/vault-verify@.service", "cron/vault"] {
            commands += Self.vaultCommands(in: try String(contentsOfFile: Self.deployDir + "/" + file, encoding: .utf8))
        }
        #expect(commands.count == 6, "\(commands)")
        // The units name the policy through VAULT_POLICY; this one has shard main and a
        // repository that does not exist, so a command that parses stops there, with exit 1.
        let dir = try TestDirectory("deploy-commands")
        defer { dir.remove() }
        let policy = try dir.write("vault.yaml", """
            version: 1
            repository: {path: \(dir.path)/no-repository}
            encryption: {passphrase_file: \(dir.path)/no-passphrase}
            shards:
              - name: main
                nodes: [{name: a, conninfo: "host=127.0.0.1 port=1"}]
            """, mode: 0o644)
        for args in commands {
            let r = try ProcessRunner.run([VaultBinary.path] + args, environment: ["VAULT_POLICY": policy])
            #expect(r.status == 1, "vault \(args.joined(separator: " ")): \(r.stderr)")
            #expect(r.stderr.hasPrefix("error: no repository at \(dir.path)/no-repository"), "\(r.stderr)")
        }
        // The crontab keeps vault's exit status through the pipe into logger, and says so.
        let cron = try String(contentsOfFile: Self.deployDir + "/cron/vault", encoding: .utf8)
        #expect(cron.contains("\nSHELL=/bin/bash\n"))
        for line in cron.split(separator: "\n") where line.contains(Self.installedPath) {
            guard let start = line.range(of: "set -o pipefail; ") else {
                Issue.record("the cron line does not set pipefail: \(line)")
                continue
            }
            // The command as cron's shell runs it, with logger swallowing the output here.
            let runnable = "logger() { cat >/dev/null; }; " + line[start.lowerBound...].replacingOccurrences(of: Self.installedPath, with: VaultBinary.path)
            let r = try ProcessRunner.run(["/bin/bash", "-c", runnable], environment: ["VAULT_POLICY": policy])
            #expect(r.stdout.contains("failed (exit 1)"), "the cron line reports vault's failure: \(runnable): \(r.stdout)\(r.stderr)")
        }
        // A wrong option is a usage error (exit 2), so the check above can fail.
        let typo = try ProcessRunner.run([VaultBinary.path, "--shard", "main", "backup", "--typo", "auto"], environment: ["VAULT_POLICY": policy])
        #expect(typo.status == 2)
        #expect(typo.stderr == "error: Unknown option '--typo'. Did you mean '--type'? (vault backup --help lists the options)\n", "\(typo.stderr)")
    }

    @Test("the scheduler unit's command runs with the unit's options, serves /metrics, reloads on SIGHUP and exits 0 on SIGTERM")
    func schedulerUnit() throws {
        let unit = try String(contentsOfFile: Self.deployDir + "/systemd/vault-scheduler.service", encoding: .utf8)
        let commands = Self.vaultCommands(in: unit)
        #expect(commands == [["schedule", "run", "--metrics-listen", "127.0.0.1:9743"]])
        let dir = try TestDirectory("deploy-scheduler")
        defer { dir.remove() }
        let policy = try dir.write("vault.yaml", """
            version: 1
            repository: {path: \(dir.path)/no-repository}
            encryption: none
            defaults: {schedule: {full: "0 2 * * 0"}}
            shards:
              - name: main
                nodes: [{name: a, conninfo: "host=127.0.0.1 port=1"}]
            """, mode: 0o644)
        // The unit's port may be taken on a test host: the same options, another port.
        let port = PortAllocator.allocate()
        let args = (commands.first ?? []).map { $0 == "127.0.0.1:9743" ? "127.0.0.1:\(port)" : $0 }
        let log = dir.path + "/daemon.log"
        let pid = try ProcessRunner.spawnBackground([VaultBinary.path, "--policy", policy] + args, logTo: log)
        #expect(waitForText("serving metrics at http://127.0.0.1:\(port)/metrics", in: log, timeout: 60))
        // No repository: the start-up check for missed runs says so, and the daemon keeps running.
        #expect(waitForText("cannot read the repository to find runs missed while stopped", in: log, timeout: 60))
        #expect(waitForText("\"event\":\"scheduled\"", in: log, timeout: 60))
        kill(pid, SIGHUP)
        #expect(waitForText("\"event\":\"reloaded\"", in: log, timeout: 60))
        kill(pid, SIGTERM)
        let stopped = ProcessRunner.finish(pid, log: log)
        #expect(stopped.status == 0, "\(stopped.output)")
        #expect(stopped.output.contains("\"event\":\"stopped\""), "\(stopped.output)")
    }

    @Test("restore_command with wrong arguments stops recovery (exit 128), or on a standby exits 1")
    func archiveGetArguments() throws {
        let dir = try TestDirectory("deploy-archive-get")
        defer { dir.remove() }
        let r = try ProcessRunner.run([VaultBinary.path, "archive-get", "000000010000000000000001"], cwd: dir.path)
        #expect(r.status == 128, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("error: restore_command arguments: Missing expected argument"), "\(r.stderr)")
        _ = FileManager.default.createFile(atPath: dir.path + "/standby.signal", contents: Data())
        #expect(try ProcessRunner.run([VaultBinary.path, "archive-get", "--bogus", "a", "b"], cwd: dir.path).status == 1)
    }
}
