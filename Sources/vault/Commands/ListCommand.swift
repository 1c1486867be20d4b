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

    @Flag(name: .long, help: "List every shard, fleet.parallel at once; a shard that cannot be read does not stop the others.")
    var allShards = false

    func validate() throws {
        try GlobalOptions.checkAllShards(allShards, shard: global.shard)
    }

    /// One shard's backups, with whether the archive holds each one's WAL now.
    static func summaries(_ name: String, repository: Repository) async throws -> [BackupSummary] {
        let record = try? await repository.shardRecord(name)
        let verified = try await repository.verifications(shard: name).latestByBackup
        // One listing of the shard's WAL answers for every backup.
        var inventory: WALInventory?
        if let record { inventory = try await WALInventory.load(WALArchive(repository: repository, record: record)) }
        return try await repository.heads(shard: name).map { m in
            BackupSummary(m, walComplete: inventory.map { $0.holdsWAL(of: m) } ?? m.walComplete, verification: verified[m.id])
        }
    }

    func run() async throws {
        try await CommandRunner.run {
            let policy = try global.loadPolicy()
            let repository = try await RepositoryOpener.open(policy)
            if allShards {
                try await FleetOutput.run("list", policy: policy, json: json, header: Self.header, text: { $0.map(Self.row) }) { shard, _ in
                    try await Self.summaries(shard.name, repository: repository)
                }
                return
            }
            let shards = global.shard.map { [$0] } ?? policy.shards.map(\.name)
            var summaries: [BackupSummary] = []
            for name in shards {
                _ = try policy.shard(named: name)
                summaries += try await Self.summaries(name, repository: repository)
            }
            if json {
                try printJSON(summaries)
                return
            }
            if summaries.isEmpty { print("no backups"); return }
            print(Self.header)
            for s in summaries { print(Self.row(s)) }
        }
    }

    static let header = "shard       backup               type  parent               stop (UTC)            stop LSN      tl  db size    stored new  verified              WAL"

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

    static func row(_ s: BackupSummary) -> String {
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
