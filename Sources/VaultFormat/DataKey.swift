import Synchronization
import VaultSupport
import VaultCrypto

/// A data key with the short id stored in every object header, so an object encrypted under
/// another key is named as such instead of failing as "corrupt".
public struct DataKey: Sendable {
    public static let idSize = 8
    public let id: [UInt8]
    public let key: SymmetricKey
    public let idHex: String
    /// When a key started by `vault key new` was made; nil for the root key (the repository's
    /// creation time is its start).
    public let created: String?

    public init(id: [UInt8], key: SymmetricKey, created: String? = nil) {
        self.id = id
        self.key = key
        self.idHex = Hex.encode(id)
        self.created = created
    }

    /// A fresh random key.
    public static func random() throws -> DataKey {
        DataKey(id: try SecureRandom.bytes(idSize), key: try SymmetricKey.random())
    }

    /// AES-GCM with random 96-bit nonces stays within its security bound for at most 2^32
    /// encryptions under one key (NIST SP 800-38D, 8.3). `status` reports each key's count
    /// against it and `vault key new` starts a fresh key long before it.
    public static let encryptionLimit: Int64 = 1 << 32
}

/// The repository's data keys: the root key (wrapped in `keys/<id>.json` by the passphrase or
/// key file) and the keys started since by `vault key new` (sealed by the root key). New
/// objects are sealed with the newest; every object names its key, so old ones stay readable.
public struct Keyring: Sendable {
    public let root: DataKey
    /// Root first, then each key started later, oldest first.
    public let keys: [DataKey]

    public init(root: DataKey, later: [DataKey] = []) {
        self.root = root
        self.keys = [root] + later
    }

    /// The key new objects are sealed with.
    public var current: DataKey { keys.last ?? root }

    public func key(id: ArraySlice<UInt8>) -> DataKey? {
        keys.first { $0.id.elementsEqual(id) }
    }
}

/// How many objects this process has sealed under each key (by key id), for the audit
/// record that carries them into `status`'s per-key count. Taken out by `drain`, so records
/// written one after another (the scheduler's jobs) never count an encryption twice.
public enum EncryptionTally {
    private static let counts = Mutex<[String: Int64]>([:])

    static func add(_ keyId: String, _ count: Int64 = 1) {
        counts.withLock { $0[keyId, default: 0] += count }
    }

    /// Takes out the counts of `keys` (those of one repository; another repository opened by
    /// the same process keeps its own).
    public static func drain(keys: Set<String>) -> [String: Int64] {
        counts.withLock { c in
            let taken = c.filter { keys.contains($0.key) }
            for key in taken.keys { c[key] = nil }
            return taken
        }
    }

    /// Puts counts back, for a record that could not be written.
    static func restore(_ taken: [String: Int64]) {
        counts.withLock { c in for (key, n) in taken { c[key, default: 0] += n } }
    }
}
