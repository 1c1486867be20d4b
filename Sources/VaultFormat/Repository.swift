import Foundation
import VaultSupport
import VaultCrypto
import VaultStorage

/// An opened repository: its storage, its configuration and the envelope that seals and
/// opens objects with the repository's data key.
public final class Repository: Sendable {
    public let storage: any Storage
    public let config: RepositoryConfig
    public let envelope: ObjectEnvelope

    init(storage: any Storage, config: RepositoryConfig, envelope: ObjectEnvelope) {
        self.storage = storage
        self.config = config
        self.envelope = envelope
    }

    /// Creates a new repository in empty `storage`. With a secret, a random data key is made
    /// and stored wrapped; without one, objects are only checksummed.
    public static func create(storage: any Storage, secret: KeySecret?, compressionLevel: Int32) async throws -> Repository {
        if try await storage.exists(RepositoryConfig.objectName) {
            throw FormatError(.refused, "a repository already exists at \(storage.location)")
        }
        let now = Timestamp.now()
        var key: DataKey?
        if let secret {
            try checkStrength(secret, what: "the passphrase")
            let (file, dataKey) = try KeyFile.create(secret: secret, created: now)
            guard try await storage.putIfAbsent(keyObjectName(file.keyId), try JSONCoding.encode(file)) else {
                throw FormatError(.refused, "key \(file.keyId) already exists in \(storage.location)")
            }
            key = dataKey
        }
        let config = RepositoryConfig(format: RepositoryConfig.currentFormat, created: now,
                                      encryption: key == nil ? "none" : "aes-256-gcm", keyId: key?.idHex, compression: "zstd")
        // vault.json is written last: a repository exists only once its key is durable.
        guard try await storage.putIfAbsent(RepositoryConfig.objectName, try JSONCoding.encode(config)) else {
            throw FormatError(.refused, "a repository was created at \(storage.location) at the same time by another process")
        }
        return Repository(storage: storage, config: config, envelope: ObjectEnvelope(keyring: key.map { Keyring(root: $0) }, compressionLevel: compressionLevel))
    }

    /// Opens an existing repository. `secret` is asked for only when the repository is
    /// encrypted; a wrong one fails here, before any work starts.
    public static func open(storage: any Storage, compressionLevel: Int32, secret: () throws -> KeySecret?) async throws -> Repository {
        guard let bytes = try await storage.get(RepositoryConfig.objectName) else {
            throw FormatError(.notFound, "no repository at \(storage.location) (run 'vault init' first)")
        }
        let config = try JSONCoding.decode(RepositoryConfig.self, from: bytes, what: "\(storage.location)/\(RepositoryConfig.objectName)")
        guard config.format == RepositoryConfig.currentFormat else {
            throw FormatError(.refused, "repository \(storage.location) has format \(config.format); this vault reads format \(RepositoryConfig.currentFormat)")
        }
        var keyring: Keyring?
        if config.isEncrypted {
            guard let keyId = config.keyId else { throw FormatError(.corrupt, "repository \(storage.location) is encrypted but names no key") }
            guard let secret = try secret() else {
                throw FormatError(.keyMismatch, "repository \(storage.location) is encrypted, but the policy has 'encryption: none'")
            }
            guard let keyBytes = try await storage.get(keyObjectName(keyId)) else {
                throw FormatError(.corrupt, "repository \(storage.location) is missing its key file keys/\(keyId).json")
            }
            let file = try JSONCoding.decode(KeyFile.self, from: keyBytes, what: "key file keys/\(keyId).json")
            guard file.keyId == keyId else {
                throw FormatError(.corrupt, "key file keys/\(keyId).json in \(storage.location) holds key \(file.keyId): another key file was copied over it")
            }
            let root = try file.unwrap(secret: secret, repository: storage.location)
            keyring = Keyring(root: root, later: try await laterKeys(storage: storage, root: root))
        } else if try secret() != nil {
            throw FormatError(.refused, "repository \(storage.location) is not encrypted, but the policy gives a passphrase; write 'encryption: none' to use it")
        }
        return Repository(storage: storage, config: config, envelope: ObjectEnvelope(keyring: keyring, compressionLevel: compressionLevel))
    }

    /// The keys `vault key new` started, oldest first, each opened with the root key. A record
    /// that fails to open is damage, named; a gap in the generations is too (a deleted key
    /// would leave its objects unreadable without a word until a restore needs them).
    private static func laterKeys(storage: any Storage, root: DataKey) async throws -> [DataKey] {
        let opener = ObjectEnvelope(keyring: Keyring(root: root), compressionLevel: 0)
        var keys: [DataKey] = []
        for name in try await storage.list(prefix: LaterKeyRecord.prefix).sorted() where name.hasSuffix(".json") {
            let expected = LaterKeyRecord.objectName(generation: keys.count + 2)
            guard name == expected else {
                throw FormatError(.corrupt, "\(expected) is missing from \(storage.location) (\(name) follows it): objects sealed with that key cannot be opened; put it back from a copy")
            }
            guard let sealed = try await storage.get(name) else { continue }
            let record = try JSONCoding.decode(LaterKeyRecord.self, from: try opener.open(sealed, name: name), what: name)
            guard record.generation == keys.count + 2, let id = Hex.decode(record.keyId), id.count == DataKey.idSize, let bytes = Base64.decode(record.key) else {
                throw FormatError(.corrupt, "\(name) in \(storage.location) is damaged")
            }
            keys.append(DataKey(id: id, key: try SymmetricKey(bytes: bytes), created: record.created))
        }
        return keys
    }

    static func keyObjectName(_ keyId: String) -> String { "keys/\(keyId).json" }

    private static func checkStrength(_ secret: KeySecret, what: String) throws {
        guard case .passphrase(let passphrase) = secret, passphrase.count < 12 else { return }
        throw FormatError(.wrongKey, "\(what) is too short (\(passphrase.count) characters); use at least 12, ideally a random one such as `openssl rand -base64 32`")
    }

    /// Wraps the root data key under `secret` at today's cost and replaces its key file, the
    /// only object that changes (every other object, later keys included, is sealed by a data
    /// key). The file is read back and unwrapped before this returns. Afterwards only the new
    /// secret opens the repository. Returns the key file's name.
    public func rewrapKey(under secret: KeySecret) async throws -> String {
        guard let root = envelope.keyring?.root, let keyId = config.keyId else {
            throw FormatError(.refused, "repository \(storage.location) is not encrypted: it has no key to wrap")
        }
        try Self.checkStrength(secret, what: "the new passphrase")
        let name = Self.keyObjectName(keyId)
        let file = try KeyFile.wrap(root, secret: secret, created: Timestamp.now())
        try await storage.put(name, try JSONCoding.encode(file))
        guard let written = try await storage.get(name) else { throw FormatError(.corrupt, "\(name) vanished as it was written") }
        let back = try JSONCoding.decode(KeyFile.self, from: written, what: "key file \(name)")
        guard try back.unwrap(secret: secret, repository: storage.location).id == root.id else {
            throw FormatError(.corrupt, "\(name) does not hold the data key it was written with")
        }
        return name
    }

    /// Starts a new data key for the objects written from now on (by processes that open the
    /// repository after this returns); objects sealed before keep naming their own key. The
    /// generation number is taken with a conditional write, so two at once cannot both win.
    public func startNewKey() async throws -> (generation: Int, key: DataKey, name: String) {
        guard let keyring = envelope.keyring else {
            throw FormatError(.refused, "repository \(storage.location) is not encrypted: it has no key to add to")
        }
        let generation = keyring.keys.count + 1
        let fresh = try DataKey.random()
        let key = DataKey(id: fresh.id, key: fresh.key, created: Timestamp.now())
        let record = LaterKeyRecord(generation: generation, keyId: key.idHex, key: Base64.encode(key.key.copyBytes()), created: key.created ?? "")
        let name = LaterKeyRecord.objectName(generation: generation)
        // Sealed by the root key, whatever the current one is: the root key opens every record.
        let sealer = ObjectEnvelope(keyring: Keyring(root: keyring.root), compressionLevel: 0)
        guard try await storage.putIfAbsent(name, try sealer.seal(try JSONCoding.encode(record), name: name)) else {
            throw FormatError(.refused, "another process started key generation \(generation) at the same time; run the command again")
        }
        return (generation, key, name)
    }

    /// Reads and authenticates an object; nil when it does not exist.
    public func read(_ name: String) async throws -> [UInt8]? {
        guard let sealed = try await storage.get(name) else { return nil }
        return try envelope.open(sealed, name: name)
    }

    /// Seals and stores an object, replacing any previous version.
    public func write(_ name: String, _ plaintext: [UInt8]) async throws {
        try await storage.put(name, try envelope.seal(plaintext, name: name))
    }

    /// Seals and stores an object unless one exists; returns false when one does.
    public func writeIfAbsent(_ name: String, _ plaintext: [UInt8]) async throws -> Bool {
        try await storage.putIfAbsent(name, try envelope.seal(plaintext, name: name))
    }
}
