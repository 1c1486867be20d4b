import ArgumentParser
import VaultCore

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup into an empty directory and prepare recovery through vault archive-get.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Directory to restore into (must be empty or missing).")
    var targetDir: String

    @Option(name: .long, help: "Backup id (default: the newest).")
    var backup: String?

    @Flag(name: .long, help: "Recover only to the backup's consistent end point, then promote.")
    var immediate = false

    func run() async throws {
        try await CommandRunner.run {
            _ = global.logger("restore")
            let policy = try global.loadPolicy()
            let shard = try policy.resolveShard(global.shard)
            let r = try await RestoreOperation(policy: policy, shard: shard)
                .run(.init(targetDir: targetDir, backupID: backup, immediate: immediate))
            print("restored backup \(r.backup) of shard \(shard.name) into \(targetDir): \(r.files) files, \(ByteCount.text(r.bytesWritten)) written from \(r.extentsRead) extents; recovery.signal and restore_command are set, start PostgreSQL to recover")
        }
    }
}
