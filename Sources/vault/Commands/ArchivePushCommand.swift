import ArgumentParser
import Foundation
import VaultOperations

struct ArchivePushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive-push",
        abstract: "Archive one WAL file (PostgreSQL's archive_command: 'vault archive-push %p').",
        discussion: "Exits 0 only once the file is durable in the repository. Re-pushing identical content succeeds; different content is refused.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Path of the WAL file (%p).")
    var path: String

    /// Internal: run as the background push-ahead worker (PATH is pg_wal).
    @Flag(help: .hidden)
    var worker = false

    func run() async throws {
        try await CommandRunner.run {
            let log = global.logger("archive-push")
            let started = Date()
            let policy = try global.loadPolicy()
            let shard = try policy.resolveShard(global.shard)
            let operation = ArchivePushOperation(policy: policy, shard: shard)
            if worker {
                let n = try await operation.runWorker(walDirectory: path)
                log.debug("pushed \(n) segments ahead")
                return
            }
            let r = try await operation.run(path: path)
            let ms = Int(Date().timeIntervalSince(started) * 1000)
            switch r.outcome {
            case .stored(let stored):
                log.info("archived \(r.file) to shard \(shard.name): \(r.bytes) bytes stored as \(stored) in \(ms) ms")
            case .alreadyArchived where r.fromSpool:
                log.info("\(r.file) was pushed ahead by the background worker (\(ms) ms)")
            case .alreadyArchived:
                log.info("\(r.file) was already archived in shard \(shard.name) with identical content")
            }
        }
    }
}
