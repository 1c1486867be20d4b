import ArgumentParser
import Foundation
import VaultOperations
import VaultSystem

/// The `vault` command: parses arguments and hands each command to one operation in VaultCore.
@main
struct Vault: AsyncParsableCommand {
    /// Global options may come before the command (`vault --policy P archive-push %p`), as
    /// operators write them; the parser wants them after it, so they are moved there.
    ///
    /// A command line that does not parse gets one `error:` line and exit 2 (usage), like every
    /// other bad input; restore_command's (`archive-get`) must stop recovery instead, since
    /// PostgreSQL reads a low exit code as "no such file" and would end recovery early.
    static func main() async {
        ProcessHardening.apply()
        let arguments = GlobalOptions.hoisted(Array(CommandLine.arguments.dropFirst()))
        let command: ParsableCommand
        do {
            command = try parseAsRoot(arguments)
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let names = configuration.subcommands.compactMap { $0.configuration.commandName }
            let subcommand = arguments.first.flatMap { names.contains($0) ? $0 : nil }
            let firstLine = message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            // Anywhere on the line, not only first: `vault -x archive-get %f %p` is still
            // PostgreSQL's restore_command, and exit 2 would read as "not archived".
            if subcommand == ArchiveGetCommand.configuration.commandName || arguments.contains(ArchiveGetCommand.configuration.commandName ?? "archive-get") {
                ArchiveGetCommand.failRecovery("restore_command arguments: \(firstLine)")
            }
            let help = "vault " + (subcommand.map { helpPath($0, arguments) } ?? "") + "--help"
            CommandRunner.fail("\(firstLine) (\(help) lists the options)", code: ExitStatus.usage.rawValue)
        }
        do {
            if let asyncCommand = command as? AsyncParsableCommand {
                try await runOnBlockingExecutor(asyncCommand)
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// `schedule run ` for `vault schedule run …`: the command and, when the next argument
    /// names one of its subcommands, that too, so the hint names the help that lists the options.
    static func helpPath(_ command: String, _ arguments: [String]) -> String {
        var path = command + " "
        guard let type = configuration.subcommands.first(where: { $0.configuration.commandName == command }) else { return path }
        let names = type.configuration.subcommands.compactMap { $0.configuration.commandName }
        if arguments.count > 1, names.contains(arguments[1]) { path += arguments[1] + " " }
        return path
    }

    /// Every command's work (libpq, file I/O, child processes) runs on threads made for
    /// blocking, never on Swift's cooperative pool.
    nonisolated static func runOnBlockingExecutor(_ command: sending any AsyncParsableCommand) async throws {
        var command = command
        try await BlockingExecutor.run { try await command.run() }
    }

    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "PostgreSQL backup, WAL archiving, recovery and failover from one policy file.",
        version: "0.1.0",
        subcommands: [
            InitCommand.self, CheckCommand.self, ArchivePushCommand.self, ArchiveGetCommand.self,
            BackupCommand.self, ListCommand.self, RestoreCommand.self, RestorePointCommand.self, VerifyCommand.self, StatusCommand.self, ExpireCommand.self,
            SwitchoverCommand.self, FailoverCommand.self, RejoinCommand.self, ScheduleCommand.self, MetricsCommand.self, PolicyCommand.self, LocateCommand.self, KeyCommand.self, AuditCommand.self,
        ]
    )
}
