import VaultSupport
import VaultCrypto
import VaultPolicy
import VaultFormat

/// `vault key rotate`: the repository's root data key, unwrapped with the secret the policy
/// names, is wrapped again under a new passphrase or key file. Only the root key's file is
/// rewritten; backups, WAL, manifests and later data keys stay sealed by data keys, so
/// rotation is one small write however large the repository.
public struct KeyRotateOperation {
    public enum NewSecret: Sendable {
        case passphraseFile(String)
        case keyFile(String)
    }

    public let policy: Policy
    public let newSecret: NewSecret

    public init(policy: Policy, newSecret: NewSecret) {
        self.policy = policy
        self.newSecret = newSecret
    }

    public struct Result: Sendable, Encodable {
        public var location: String
        public var keyFile: String
        /// "scrypt" or "hkdf-sha256".
        public var kdf: String
        public var scryptN: UInt64?
    }

    public func run() async throws -> Result {
        let secret: KeySecret
        let source: String
        switch newSecret {
        case .passphraseFile(let path):
            guard let loaded = try KeySecretLoader.load(.passphraseFile(path)) else { throw OperationError(.usage, "no new passphrase in \(path)") }
            (secret, source) = (loaded, path)
        case .keyFile(let path):
            (secret, source) = (.keyMaterial(try KeySecretLoader.keyMaterial(path, setting: "--new-key-file")), path)
        }
        let repository = try await RepositoryOpener.open(policy)
        if let current = try KeySecretLoader.load(policy.encryption), Self.same(current, secret) {
            throw OperationError(.usage, "the secret in \(source) is the one the repository already has")
        }
        let name = try await repository.rewrapKey(under: secret)
        if case .passphrase = secret {
            return Result(location: repository.storage.location, keyFile: name, kdf: "scrypt", scryptN: ScryptParameters.costN)
        }
        return Result(location: repository.storage.location, keyFile: name, kdf: "hkdf-sha256", scryptN: nil)
    }

    private static func same(_ a: KeySecret, _ b: KeySecret) -> Bool {
        switch (a, b) {
        case (.passphrase(let x), .passphrase(let y)), (.keyMaterial(let x), .keyMaterial(let y)):
            x.withBytes { p in y.withBytes { q in p.elementsEqual(q) } }
        default:
            false
        }
    }
}

/// `vault key new`: starts a data key for the objects written from now on. Nothing already
/// stored is rewritten; every object names the key that sealed it.
public struct KeyNewOperation {
    public let policy: Policy

    public init(policy: Policy) { self.policy = policy }

    public struct Result: Sendable, Encodable {
        public var location: String
        public var generation: Int
        public var keyId: String
        public var record: String
    }

    public func run() async throws -> Result {
        let repository = try await RepositoryOpener.open(policy)
        let (generation, key, name) = try await repository.startNewKey()
        return Result(location: repository.storage.location, generation: generation, keyId: key.idHex, record: name)
    }
}
