import ArgumentParser
import VaultFormat
import VaultOperations

/// `vault key rotate|new|list`: the repository's key management.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Manage the repository's encryption keys.",
        subcommands: [KeyRotateCommand.self, KeyNewCommand.self, KeyListCommand.self])
}

struct KeyRotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Wrap the repository's root key under a new passphrase or key file; the old one stops working.",
        discussion: """
            Opens the repository with the secret the policy names, then rewrites only the root \
            key's file (keys/<id>.json): the data key wrapped under the passphrase in \
            --new-passphrase-file (scrypt N=2^15) or the 32 random bytes in --new-key-file \
            (HKDF-SHA256). No object is rewritten. Afterwards point the policy's encryption \
            setting at the new secret: the old one no longer opens the repository. A copy of the \
            old key file made before, together with the old secret, still opens every data key \
            (later keys are sealed by the root key): after a leak, start a new repository.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "File holding the new passphrase (mode 0600, at least 12 characters).")
    var newPassphraseFile: String?

    @Option(name: .long, help: "File holding 32 random bytes (mode 0600; raw, base64 or hex), for encryption.key_file.")
    var newKeyFile: String?

    @Flag(name: .long, help: "Print JSON (location, keyFile, kdf, scryptN).")
    var json = false

    func validate() throws {
        guard (newPassphraseFile == nil) != (newKeyFile == nil) else {
            throw ValidationError("give exactly one of --new-passphrase-file and --new-key-file")
        }
    }

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("key rotate")
            let policy = try global.loadPolicy()
            let secret: KeyRotateOperation.NewSecret = newKeyFile.map { .keyFile($0) } ?? .passphraseFile(newPassphraseFile ?? "")
            let result = try await KeyRotateOperation(policy: policy, newSecret: secret).run()
            if json {
                try printJSON(result)
                return
            }
            let wrapping = result.scryptN.map { "the passphrase in \(newPassphraseFile ?? "") (scrypt N=\($0))" } ?? "the key file \(newKeyFile ?? "") (HKDF-SHA256)"
            print("rewrote \(result.keyFile) in \(result.location): the root data key is now wrapped by \(wrapping); no object was rewritten")
            let setting = newKeyFile == nil ? "passphrase_file" : "key_file"
            print("the old secret no longer opens the repository: point the policy's encryption.\(setting) at the new one now")
        }
    }
}

struct KeyNewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Start a new data key for the objects written from now on; older objects stay readable.",
        discussion: """
            Stores a fresh random data key sealed by the root key (keys/later/<generation>.json). \
            Processes that open the repository afterwards seal new objects with it; every object \
            names the key it was sealed with, so nothing is rewritten and every backup stays \
            restorable. AES-GCM with random nonces allows at most 2^32 encryptions per key: \
            'vault status' shows each key's count and says when a new one is due.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print JSON (location, generation, keyId, record).")
    var json = false

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("key new")
            let result = try await KeyNewOperation(policy: try global.loadPolicy()).run()
            if json {
                try printJSON(result)
                return
            }
            print("started data key \(result.generation) (\(result.keyId)) in \(result.location): objects written from now on are sealed with it; older ones keep their own key")
        }
    }
}

struct KeyListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the repository's data keys with about how many encryptions each has made.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print JSON (generation, keyId, current, created, encryptions, limit per key).")
    var json = false

    func run() async throws {
        try await CommandRunner.run {
            let policy = try global.loadPolicy()
            let repository = try await RepositoryOpener.open(policy)
            let keys = try await KeyUsage.read(repository: repository, shards: policy.shards.map(\.name))
            if json {
                try printJSON(keys)
            } else if keys.isEmpty {
                print("repository \(repository.storage.location) is not encrypted")
            } else {
                for key in keys { print(key.text.dropFirst(2)) }
            }
            if let lost = keys.first(where: { $0.missing == true }) {
                throw OperationError(.corrupt, "key \(lost.keyId) sealed objects of repository \(repository.storage.location), which no longer holds it")
            }
        }
    }
}
