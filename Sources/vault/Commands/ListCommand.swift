import ArgumentParser
import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat
import VaultOperations

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List backups: type, parent, times, LSNs, sizes, and whether their WAL is archived.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print JSON (a list of backups; fields documented in the README).")
    var json = false

    func run() async throws {
        try await CommandRunner.run {
            let policy = try global.loadPolicy()
            let shards = global.shard.map { [$0] } ?? policy.shards.map(\.name)
            let repository = try await RepositoryOpener.open(policy)
            var summaries: [BackupSummary] = []
            for name in shards {
                _ = try policy.shard(named: name)
                let record = try? await repository.shardRecord(name)
                let verified = try await repository.verifications(shard: name).latestByBackup
                // One listing of the shard's WAL answers for every backup.
                var inventory: WALInventory?
                if let record { inventory = try await WALInventory.load(WALArchive(repository: repository, record: record)) }
                for m in try await repository.backups(shard: name) {
                    var complete = m.walComplete
                    if let inventory { complete = inventory.holdsWAL(of: m) }
                    summaries.append(BackupSummary(m, walComplete: complete, verification: verified[m.id]))
                }
            }
            if json {
                try printJSON(summaries)
                return
            }
            if summaries.isEmpty { print("no backups"); return }
            print("shard       backup               type  parent               stop (UTC)            stop LSN      tl  db size    stored new  verified              WAL")
            for s in summaries { print(Self.row(s)) }
        }
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0)
    }

    /// `ok 2026-11-26 04:31` (restored and checked), `objects ok …` (repository only), `FAILED …`, or `-`.
    private static func verification(_ v: VerificationSummary?) -> String {
        guard let v else { return "-" }
        let when = String(v.finished.prefix(16)).replacingOccurrences(of: "T", with: " ")
        if !v.passed { return "FAILED \(when)" }
        return (v.repositoryOnly ? "objects " : "ok ") + when
    }

    private static func row(_ s: BackupSummary) -> String {
        let stop = String(s.stopTime.prefix(19)) + "Z"
        var wal = s.walComplete ? "complete" : "MISSING \(s.walStart)–\(s.walStop)"
        if s.pageChecksumFailures > 0 { wal += "  \(s.pageChecksumFailures) BAD PAGES" }
        let cells: [String] = [
            pad(s.shard, 11), pad(s.id, 20), pad(s.type == "full" ? "full" : "incr", 5), pad(s.parent ?? "-", 20),
            pad(stop, 21), pad(s.stopLSN, 13), pad(String(s.timeline), 3), pad(ByteCount.text(s.databaseBytes), 10),
            pad(ByteCount.text(s.bytesStoredNew), 11), pad(verification(s.lastVerification), 21), wal,
        ]
        return cells.joined(separator: " ")
    }
}
