import ArgumentParser
import Foundation
import VaultCore

/// `vault status`: per shard, the newest backup, how far WAL is archived, and when the shard
/// was last proved restorable (with its measured recovery time).
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each shard's newest backup, newest archived WAL and last verified restore.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print JSON (one object per shard, documented in the README).")
    var json = false

    func run() async throws {
        try await CommandRunner.run {
            let policy = try global.loadPolicy()
            let shards = try global.shard.map { [try policy.shard(named: $0)] } ?? policy.shards
            let repository = try await RepositoryOpener.open(policy)
            var out: [ShardStatus] = []
            for shard in shards { out.append(try await ShardStatus.load(shard.name, repository: repository)) }
            if json {
                try printJSON(out)
                return
            }
            for s in out { print(s.text) }
        }
    }
}

/// The stable JSON shape of one shard in `vault status --json`.
struct ShardStatus: Encodable {
    var shard: String
    var backups: Int
    var newestBackup: String?
    var newestBackupStopTime: String?
    var newestWAL: String?
    var lastVerification: VerificationSummary?
    var lastVerifiedRestore: VerificationSummary?

    static func load(_ shard: String, repository: Repository) async throws -> ShardStatus {
        let backups = try await repository.backups(shard: shard)
        let verifications = try await repository.verifications(shard: shard)
        let wal = try await repository.storage.list(prefix: "\(shard)/wal").compactMap { name -> String? in
            let file = String(name.split(separator: "/").last ?? "")
            return WALFileName(file)?.kind == .segment ? file : nil
        }.max()
        return ShardStatus(shard: shard, backups: backups.count, newestBackup: backups.last?.id, newestBackupStopTime: backups.last?.stopTime,
                           newestWAL: wal, lastVerification: verifications.last.map(VerificationSummary.init),
                           lastVerifiedRestore: verifications.lastRestoredAndPassed.map(VerificationSummary.init))
    }

    var text: String {
        var lines = ["shard \(shard): \(backups) backup\(backups == 1 ? "" : "s"), newest \(newestBackup.map { "\($0) (consistent at \(newestBackupStopTime ?? "?"))" } ?? "none")"]
        lines.append("  WAL archived up to \(newestWAL ?? "nothing yet")")
        if let v = lastVerifiedRestore {
            lines.append("  last verified restore: backup \(v.backup) at \(v.finished), recovery took \(v.recoverySeconds.map { String(format: "%.1f s", $0) } ?? "?")")
        } else {
            lines.append("  last verified restore: never (run 'vault verify')")
        }
        if let v = lastVerification, !v.passed {
            lines.append("  LAST VERIFICATION FAILED: backup \(v.backup) at \(v.finished): \(v.firstProblem ?? "?")")
        }
        return lines.joined(separator: "\n")
    }
}

/// A verification as `list` and `status` report it.
struct VerificationSummary: Encodable {
    var backup: String
    var finished: String
    var passed: Bool
    var repositoryOnly: Bool
    var recoverySeconds: Double?
    var firstProblem: String?

    init(_ r: VerificationRecord) {
        backup = r.backup
        finished = r.finished
        passed = r.passed
        repositoryOnly = r.repositoryOnly
        recoverySeconds = r.timings.recoverySeconds
        firstProblem = r.problems.first?.description
    }
}
