import ArgumentParser
import VaultOperations

/// `vault key rotate`: the repository's key management.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Manage the repository's encryption key.",
        subcommands: [KeyRotateCommand.self])
}

struct KeyRotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Wrap the repository's data key under a new passphrase; the old one stops working.",
        discussion: """
            Opens the repository with the passphrase the policy names, then rewrites only the key \
            file (keys/<id>.json) with the data key wrapped under the passphrase in \
            --new-passphrase-file (scrypt N=2^15). Nothing else is rewritten. Afterwards point \
            the policy's encryption setting at the new passphrase: the old one no longer opens \
            the repository.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "File holding the new passphrase (mode 0600, at least 12 characters).")
    var newPassphraseFile: String

    @Flag(name: .long, help: "Print JSON (location, keyFile, scryptN).")
    var json = false

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("key rotate")
            let policy = try global.loadPolicy()
            let result = try await KeyRotateOperation(policy: policy, newPassphraseFile: newPassphraseFile).run()
            if json {
                try printJSON(result)
                return
            }
            print("rewrote \(result.keyFile) in \(result.location): the data key is now wrapped by the passphrase in \(newPassphraseFile) (scrypt N=\(result.scryptN)); nothing else changed")
            print("the old passphrase no longer opens the repository: point the policy's encryption setting at the new one now")
        }
    }
}
