import ArgumentParser
import Foundation
import VaultSystem
import VaultPolicy
import VaultOperations

struct ArchiveGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive-get",
        abstract: "Fetch one WAL file (PostgreSQL's restore_command: 'vault archive-get %f %p').",
        discussion: """
            Exit 1: the repository answered that the file is not archived (PostgreSQL reads this as \
            the end of archived WAL). Exit \(ArchiveGetCommand.abortRecoveryExitCode): anything else went wrong (the policy, \
            passphrase, repository or shard record is missing or unreadable, the store is down, \
            the file fails authentication); \
            PostgreSQL stops recovery instead of ending it early at the wrong point. On a standby \
            (standby.signal in the working directory) that case exits 1 instead, with an error line, \
            so the standby can go on streaming.
            """)

    /// PostgreSQL aborts recovery when restore_command exits above 125.
    static let abortRecoveryExitCode = ExitStatus.stopRecovery.rawValue

    @OptionGroup var global: GlobalOptions

    @Argument(help: "WAL file name (%f).")
    var fileName: String

    /// Internal: run as the background prefetch worker (FILE is the segment to fetch after,
    /// DEST the spool directory).
    @Flag(help: .hidden)
    var prefetch = false

    @Argument(help: "Destination path (%p).")
    var destination: String

    func run() async throws {
        let log = global.logger("archive-get")
        do {
            let policy = try global.loadPolicy()
            let shard = try policy.resolveShard(global.shard)
            let operation = ArchiveGetOperation(policy: policy, shard: shard)
            if prefetch {
                let n = try await operation.prefetch(after: fileName, spoolDirectory: destination)
                log.debug("prefetched \(n) segments after \(fileName)")
                return
            }
            switch try await operation.run(fileName: fileName, destination: destination) {
            case .prefetched:
                log.debug("restored \(fileName) from the prefetch spool")
            case .archive(let bytes):
                log.debug("restored \(fileName) (\(bytes) bytes)")
            case .notArchived:
                log.debug("\(fileName) is not archived")
                throw ExitCode(1)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Self.failRecovery("\(error)")
        }
    }

    /// Ends an archive-get that could not answer: on a standby (standby.signal in the working
    /// directory) with exit 1, so it goes on streaming; otherwise with an exit code that makes
    /// PostgreSQL stop recovery rather than take the failure for the end of the archive and
    /// promote at the wrong point. Also used when restore_command's own arguments are wrong.
    static func failRecovery(_ message: String) -> Never {
        if FileIO.exists("standby.signal") {
            CommandRunner.fail("\(message) (standby: falling back to streaming replication)", code: ExitStatus.notFound.rawValue)
        }
        CommandRunner.fail("\(message); stopping recovery so it cannot end early at the wrong point", code: abortRecoveryExitCode)
    }
}
