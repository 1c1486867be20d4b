import ArgumentParser
import Foundation
import VaultFormat
import VaultOperations

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove a backup restores: check its objects, restore it into a scratch PostgreSQL, recover, run pg_amcheck, smoke queries and pg_checksums.",
        discussion: """
            Without --backup or --all, verifies the newest backup. The scratch instance (under verify.scratch, \
            default /var/tmp/vault-verify) is stopped and removed however verification ends. The result is \
            recorded in the repository; 'vault list' and 'vault status' show it. Exit 0 when everything \
            passed, \(ExitStatus.checkFailed.rawValue) when a problem was found.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Backup id to verify (default: the newest).")
    var backup: String?

    @Flag(name: .long, help: "Verify every backup of the shard.")
    var all = false

    @Option(name: .long, help: "Recover the scratch copy to this time instead of to consistency.")
    var pointInTime: String?

    @Flag(name: .long, help: "Only check that every object exists, decrypts and matches its checksum (no restore).")
    var repositoryOnly = false

    @Flag(name: .long, help: "Print the results as JSON (a list of verification records, documented in the README).")
    var json = false

    @Flag(name: .long, help: "Verify every shard, fleet.parallel at once; one shard's failure does not stop the others.")
    var allShards = false

    func validate() throws {
        if all && backup != nil { throw ValidationError("give --backup or --all, not both") }
        try GlobalOptions.checkAllShards(allShards, shard: global.shard)
        if allShards && backup != nil { throw ValidationError("--backup names one shard's backup; it does not go with --all-shards") }
        if let t = pointInTime, RecoveryTarget.time(t) == nil { throw ValidationError("--point-in-time '\(t)' is not a time like '2026-11-26 03:15:00+00'") }
    }

    /// A verification that found a problem: the command's failure (exit 10).
    static func problem(_ records: [VerificationRecord]) -> (any Error)? {
        guard let failed = records.first(where: { !$0.passed }), let problem = failed.problems.first else { return nil }
        let more = failed.problems.count > 1 ? " (and \(failed.problems.count - 1) more problems)" : ""
        return OperationError(.checkFailed, "backup \(failed.backup) of shard \(failed.shard) failed verification: \(problem)\(more)")
    }

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("verify")
            let policy = try global.loadPolicy()
            var options = VerifyOperation.Options()
            options.backupID = backup
            options.all = all
            options.repositoryOnly = repositoryOnly
            if let t = pointInTime, let target = RecoveryTarget.time(t) { options.target = target }
            if allShards {
                let chosen = options
                try await FleetOutput.run("verify", policy: policy, json: json, text: { $0.map(Self.report) }, check: Self.problem) { shard, _ in
                    try await VerifyOperation(policy: policy, shard: shard).run(chosen)
                }
                return
            }
            let shard = try policy.resolveShard(global.shard)
            let records = try await VerifyOperation(policy: policy, shard: shard).run(options)
            if json {
                try printJSON(records)
            } else {
                for r in records { print(Self.report(r)) }
            }
            if let problem = Self.problem(records) { throw problem }
        }
    }

    /// The five-second report: verdict first, then what was proved, then every problem.
    static func report(_ r: VerificationRecord) -> String {
        let verdict = r.passed ? "PASSED" : "FAILED (\(r.problems.count) problem\(r.problems.count == 1 ? "" : "s"))"
        var lines = ["backup \(r.backup) of shard \(r.shard): \(verdict) in \(String(format: "%.1f", r.timings.totalSeconds)) s\(r.repositoryOnly ? " (repository only)" : "")"]
        lines += r.checked.map { "  ok       \($0)" }
        lines += r.problems.map { "  PROBLEM  \($0)" }
        if !r.repositoryOnly && r.problems.isEmpty { lines.append("  scratch instance stopped and removed") }
        return lines.joined(separator: "\n")
    }
}
