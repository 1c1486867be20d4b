import ArgumentParser
import Foundation
import VaultCore

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
                for m in try await repository.backups(shard: name) {
                    var complete = m.walComplete
                    if let record {
                        complete = try await BackupOperation.walPresent(repository: repository, record: record, from: m.walStart, to: m.walStop, timeline: m.timeline)
                    }
                    summaries.append(BackupSummary(m, walComplete: complete))
                }
            }
            if json {
                try printJSON(summaries)
                return
            }
            if summaries.isEmpty { print("no backups"); return }
            print("shard       backup               type  parent               stop (UTC)            stop LSN      tl  db size    stored new  WAL")
            for s in summaries {
                let cols = [s.shard.padding(toLength: 11, withPad: " ", startingAt: 0), s.id.padding(toLength: 20, withPad: " ", startingAt: 0),
                            (s.type == "full" ? "full" : "incr").padding(toLength: 5, withPad: " ", startingAt: 0),
                            (s.parent ?? "-").padding(toLength: 20, withPad: " ", startingAt: 0), s.stopTime.padding(toLength: 21, withPad: " ", startingAt: 0),
                            s.stopLSN.padding(toLength: 13, withPad: " ", startingAt: 0), String(s.timeline).padding(toLength: 3, withPad: " ", startingAt: 0),
                            ByteCount.text(s.databaseBytes).padding(toLength: 10, withPad: " ", startingAt: 0),
                            ByteCount.text(s.bytesStoredNew).padding(toLength: 11, withPad: " ", startingAt: 0),
                            (s.walComplete ? "complete" : "MISSING \(s.walStart)–\(s.walStop)")
                                + (s.pageChecksumFailures > 0 ? "  \(s.pageChecksumFailures) BAD PAGES" : "")]
                print(cols.joined(separator: " "))
            }
        }
    }
}
