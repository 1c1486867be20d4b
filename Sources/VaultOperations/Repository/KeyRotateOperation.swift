import VaultSupport
import VaultCrypto
import VaultPolicy
import VaultFormat

/// `vault key rotate`: the repository's data key, unwrapped with the passphrase the policy
/// names, is wrapped again under a new passphrase read from a file. Only the key file is
/// rewritten; backups, WAL and manifests stay sealed by the same data key, so rotation is
/// one small write however large the repository.
public struct KeyRotateOperation {
    public let policy: Policy
    public let newPassphraseFile: String

    public init(policy: Policy, newPassphraseFile: String) {
        self.policy = policy
        self.newPassphraseFile = newPassphraseFile
    }

    public struct Result: Sendable, Encodable {
        public var location: String
        public var keyFile: String
        public var scryptN: UInt64
    }

    public func run() async throws -> Result {
        let newPassphrase = try PassphraseLoader.load(.passphraseFile(newPassphraseFile))
        guard let newPassphrase else { throw OperationError(.usage, "no new passphrase in \(newPassphraseFile)") }
        let repository = try await RepositoryOpener.open(policy)
        if let current = try PassphraseLoader.load(policy.encryption), Self.same(current, newPassphrase) {
            throw OperationError(.usage, "the passphrase in \(newPassphraseFile) is the one the repository already has")
        }
        let name = try await repository.rewrapKey(under: newPassphrase)
        return Result(location: repository.storage.location, keyFile: name, scryptN: ScryptParameters.costN)
    }

    private static func same(_ a: Passphrase, _ b: Passphrase) -> Bool {
        a.withBytes { x in b.withBytes { y in x.elementsEqual(y) } }
    }
}
