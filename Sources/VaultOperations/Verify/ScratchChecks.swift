import Foundation
import VaultSupport
import VaultSystem
import VaultPostgres
import VaultPolicy
import VaultFormat

/// `vault verify`, step two's checks on a recovered scratch instance: pg_amcheck on every
/// database, the policy's smoke queries, and, once stopped, pg_checksums. Each adds what it
/// proved to `checked` and what it found to `problems`.
struct ScratchChecks {
    let instance: ScratchInstance
    let shard: ShardPolicy

    struct Outcome {
        var checked: [String] = []
        var problems: [RepositoryProblem] = []
        var dataChecksums = false
    }

    /// The checks that need the server running.
    func runOnline(into outcome: inout Outcome) throws {
        let admin = try connect(database: "postgres")
        let superuser = try admin.scalar("SELECT rolname FROM pg_roles WHERE oid = 10")
        outcome.dataChecksums = try admin.scalar("SHOW data_checksums") == "on"
        let amcheck = instance.bindir + "/pg_amcheck"
        if FileIO.exists(amcheck) {
            let log = instance.directory + "/pg_amcheck.out"
            let status = try Subprocess.run([amcheck, "-h", instance.directory, "-p", "\(instance.port)", "-U", superuser,
                                             "--all", "--install-missing", "--no-strict-names"],
                                            asUser: Subprocess.owner(of: instance.dataDir), output: log)
            let databases = try admin.scalar("SELECT count(*) FROM pg_database WHERE datallowconn")
            if status == 0 {
                outcome.checked.append("pg_amcheck: \(databases) databases, every table and B-tree index, no corruption")
            } else {
                outcome.problems.append(RepositoryProblem("pg_amcheck", "exit \(status): \(Self.summary(log))"))
            }
        } else {
            outcome.checked.append("pg_amcheck: not installed in \(instance.bindir), skipped")
        }
        var passed = 0
        for query in shard.smoke {
            let label = "smoke query \"\(query.sql)\"" + (query.database.map { " on \($0)" } ?? "")
            do {
                let answer = try connect(database: query.database ?? "postgres").query(query.sql).first?.first ?? nil
                if answer == query.expect {
                    passed += 1
                } else {
                    outcome.problems.append(RepositoryProblem(label, "returned \(answer.map { "'\($0)'" } ?? "no value"), expected '\(query.expect)'"))
                }
            } catch let e {
                outcome.problems.append(RepositoryProblem(label, "failed: \(e)"))
            }
        }
        if !shard.smoke.isEmpty {
            outcome.checked.append("smoke queries: \(passed) of \(shard.smoke.count) answered as expected")
        }
    }

    /// pg_checksums --check on the stopped copy, when the cluster has data checksums.
    func runOffline(into outcome: inout Outcome) throws {
        let tool = instance.bindir + "/pg_checksums"
        guard outcome.dataChecksums else {
            outcome.checked.append("pg_checksums: data checksums are off in this cluster, skipped")
            return
        }
        guard FileIO.exists(tool) else {
            outcome.checked.append("pg_checksums: not installed in \(instance.bindir), skipped")
            return
        }
        let log = instance.directory + "/pg_checksums.out"
        let status = try Subprocess.run([tool, "--check", "-D", instance.dataDir], asUser: Subprocess.owner(of: instance.dataDir), output: log)
        if status == 0 {
            let scanned = Self.lines(log).first { $0.hasPrefix("Blocks scanned:") }?.split(separator: ":").last.map { String($0).trimmingSpaces() } ?? "all"
            outcome.checked.append("pg_checksums: \(scanned) blocks, no checksum failures")
        } else {
            outcome.problems.append(RepositoryProblem("pg_checksums", "exit \(status): \(Self.summary(log))"))
        }
    }

    private func connect(database: String) throws -> PostgresConnection {
        try RecoveryStarter.connectLocal(host: instance.directory, port: instance.port, database: database,
                                         owner: Subprocess.owner(of: instance.dataDir), label: "scratch instance \(instance.directory)")
    }

    private static func lines(_ path: String) -> [String] {
        ((try? FileIO.read(path)).map { String(decoding: $0, as: UTF8.self) } ?? "").split(separator: "\n").map(String.init)
    }

    /// The first lines of a tool's output, joined, for a one-line problem.
    private static func summary(_ path: String) -> String {
        let text = lines(path).prefix(3).joined(separator: " | ")
        return text.isEmpty ? "no output" : text
    }
}
