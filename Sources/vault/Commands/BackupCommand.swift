import ArgumentParser
import Foundation
import VaultSupport
import VaultFormat
import VaultOperations

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a base backup of a shard's primary (full or incremental).",
        discussion: "auto (the default): full when the shard has no full backup or the policy's schedule.full has fired since the newest one started, else incremental on the newest backup. The backup is visible only once complete.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "full, incremental or auto.")
    var type: String = "auto"

    @Flag(name: .long, help: "Print the finished backup's summary as JSON.")
    var json = false

    @Flag(name: .long, help: "Back up every shard, fleet.parallel at once; one shard's failure does not stop the others.")
    var allShards = false

    func validate() throws {
        guard BackupOperation.Requested(rawValue: type) != nil else { throw ValidationError("--type must be full, incremental or auto") }
        try GlobalOptions.checkAllShards(allShards, shard: global.shard)
    }

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            let log = global.logger("backup")
            let policy = try global.loadPolicy()
            let requested = BackupOperation.Requested(rawValue: type) ?? .auto
            if allShards {
                try await FleetOutput.run("backup", policy: policy, json: json, text: { [Self.line($0)] }, check: Self.problem) { shard, progress in
                    let operation = BackupOperation(policy: policy, shard: shard, counter: progress.counter()) { log.info("shard \(shard.name): \($0)") }
                    return BackupSummary(try await operation.run(requested))
                }
                return
            }
            let shard = try policy.resolveShard(global.shard)
            let counter = ProgressCounter()
            let operation = BackupOperation(policy: policy, shard: shard, counter: counter) { log.info("\($0)") }
            let m = try await ProgressDisplay(counter: counter, label: "backup", log: log).run {
                try await operation.run(requested)
            }
            defer {
                if !m.walComplete {
                    CommandRunner.fail("backup \(m.id) is stored but its WAL \(m.walStart)–\(m.walStop) did not reach the repository within backup.archive_timeout (\(shard.settings.archiveTimeout) s); check archive_command; the backup becomes restorable once that WAL is archived (vault list shows it)", code: ExitStatus.checkFailed.rawValue)
                } else if let bad = m.checksumFailures, let first = bad.first {
                    let pages = bad.reduce(0) { $0 + $1.blocks.count }
                    CommandRunner.fail("backup \(m.id) is complete but \(pages) page\(pages == 1 ? "" : "s") failed the data checksum (first: \(first.path) block \(first.blocks.first ?? 0)); the backup is kept and marked", code: ExitStatus.checkFailed.rawValue)
                }
            }
            if json {
                try printJSON(BackupSummary(m))
            } else {
                print(Self.line(BackupSummary(m)))
            }
        }
    }

    static func line(_ s: BackupSummary) -> String {
        "backup \(s.id) (\(s.type)) of shard \(s.shard): \(s.files) files, \(ByteCount.text(s.databaseBytes)); read \(ByteCount.text(s.bytesRead)), stored \(ByteCount.text(s.bytesStoredNew)) new, \(ByteCount.text(s.bytesReferenced)) referenced; \(s.startLSN)–\(s.stopLSN) on timeline \(s.timeline); \(String(format: "%.1f", s.seconds)) s"
    }

    /// What makes a stored backup a failure of the command (exit 10), as for one shard.
    static func problem(_ s: BackupSummary) -> (any Error)? {
        if !s.walComplete {
            return OperationError(.checkFailed, "backup \(s.id) is stored but its WAL \(s.walStart)–\(s.walStop) did not reach the repository within backup.archive_timeout")
        }
        if s.pageChecksumFailures > 0 {
            return OperationError(.checkFailed, "backup \(s.id) is complete but \(s.pageChecksumFailures) pages failed the data checksum")
        }
        return nil
    }
}
