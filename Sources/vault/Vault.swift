import ArgumentParser

/// The `vault` command: parses arguments and hands each command to one operation in VaultCore.
@main
struct Vault: AsyncParsableCommand {
    /// Global options may come before the command (`vault --policy P archive-push %p`), as
    /// operators write them; the parser wants them after it, so they are moved there.
    static func main() async {
        await main(GlobalOptions.hoisted(Array(CommandLine.arguments.dropFirst())))
    }

    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "PostgreSQL backup, WAL archiving, recovery and failover from one policy file.",
        version: "0.1.0",
        subcommands: [
            InitCommand.self, CheckCommand.self, ArchivePushCommand.self, ArchiveGetCommand.self,
            BackupCommand.self, ListCommand.self, RestoreCommand.self, VerifyCommand.self, StatusCommand.self, ExpireCommand.self, PolicyCommand.self, LocateCommand.self,
        ]
    )
}
