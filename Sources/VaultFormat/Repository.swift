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

    /// Creates a new repository in empty `storage`. With a passphrase, a random data key is
    /// made and stored wrapped; without one, objects are only checksummed.
    public static func create(storage: any Storage, passphrase: Passphrase?, compressionLevel: Int32) async throws -> Repository {
        if try await storage.exists(RepositoryConfig.objectName) {
            throw FormatError(.refused, "a repository already exists at \(storage.location)")
        }
        let now = Timestamp.now()
        var key: DataKey?
        if let passphrase {
            guard passphrase.count >= 12 else {
                throw FormatError(.wrongKey, "the passphrase is too short (\(passphrase.count) characters); use at least 12, ideally a random one such as `openssl rand -base64 32`")
            }
            let (file, dataKey) = try KeyFile.create(passphrase: passphrase, created: now)
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
        return Repository(storage: storage, config: config, envelope: ObjectEnvelope(key: key, compressionLevel: compressionLevel))
    }

    /// Opens an existing repository. `passphrase` is asked for only when the repository is
    /// encrypted; a wrong one fails here, before any work starts.
    public static func open(storage: any Storage, compressionLevel: Int32, passphrase: () throws -> Passphrase?) async throws -> Repository {
        guard let bytes = try await storage.get(RepositoryConfig.objectName) else {
            throw FormatError(.notFound, "no repository at \(storage.location) (run 'vault init' first)")
        }
        let config = try JSONCoding.decode(RepositoryConfig.self, from: bytes, what: "\(storage.location)/\(RepositoryConfig.objectName)")
        guard config.format == RepositoryConfig.currentFormat else {
            throw FormatError(.refused, "repository \(storage.location) has format \(config.format); this vault reads format \(RepositoryConfig.currentFormat)")
        }
        var key: DataKey?
        if config.isEncrypted {
            guard let keyId = config.keyId else { throw FormatError(.corrupt, "repository \(storage.location) is encrypted but names no key") }
            guard let passphrase = try passphrase() else {
                throw FormatError(.keyMismatch, "repository \(storage.location) is encrypted, but the policy has 'encryption: none'")
            }
            guard let keyBytes = try await storage.get(keyObjectName(keyId)) else {
                throw FormatError(.corrupt, "repository \(storage.location) is missing its key file keys/\(keyId).json")
            }
            let file = try JSONCoding.decode(KeyFile.self, from: keyBytes, what: "key file keys/\(keyId).json")
            key = try file.unwrap(passphrase: passphrase, repository: storage.location)
        } else if try passphrase() != nil {
            throw FormatError(.refused, "repository \(storage.location) is not encrypted, but the policy gives a passphrase; write 'encryption: none' to use it")
        }
        return Repository(storage: storage, config: config, envelope: ObjectEnvelope(key: key, compressionLevel: compressionLevel))
    }

    static func keyObjectName(_ keyId: String) -> String { "keys/\(keyId).json" }

    /// Wraps the data key under `passphrase` at today's scrypt cost and replaces the key file,
    /// the only object that changes (every other object is sealed by the data key itself).
    /// The file is read back and unwrapped before this returns. Afterwards only the new
    /// passphrase opens the repository. Returns the key file's name.
    public func rewrapKey(under passphrase: Passphrase) async throws -> String {
        guard let key = envelope.key, let keyId = config.keyId else {
            throw FormatError(.refused, "repository \(storage.location) is not encrypted: it has no key to wrap")
        }
        guard passphrase.count >= 12 else {
            throw FormatError(.wrongKey, "the new passphrase is too short (\(passphrase.count) characters); use at least 12, ideally a random one such as `openssl rand -base64 32`")
        }
        let name = Self.keyObjectName(keyId)
        let file = try KeyFile.wrap(key, passphrase: passphrase, params: try ScryptParameters.recommended(), created: Timestamp.now())
        try await storage.put(name, try JSONCoding.encode(file))
        guard let written = try await storage.get(name) else { throw FormatError(.corrupt, "\(name) vanished as it was written") }
        let back = try JSONCoding.decode(KeyFile.self, from: written, what: "key file \(name)")
        guard try back.unwrap(passphrase: passphrase, repository: storage.location).id == key.id else {
            throw FormatError(.corrupt, "\(name) does not hold the data key it was written with")
        }
        return name
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
