import ArgumentParser

/// The `vault` command: parses arguments and hands each command to one operation in VaultCore.
@main
struct Vault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "PostgreSQL backup, WAL archiving, recovery and failover from one policy file.",
        version: "0.1.0",
        subcommands: [
            InitCommand.self, CheckCommand.self, ArchivePushCommand.self, ArchiveGetCommand.self,
            PolicyCommand.self, LocateCommand.self,
        ]
    )
}
