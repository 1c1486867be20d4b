import VaultSupport
import VaultCrypto

/// The repository's data key with the short id stored in every object header, so an object
/// encrypted under another key is named as such instead of failing as "corrupt".
public struct DataKey: Sendable {
    public static let idSize = 8
    public let id: [UInt8]
    public let key: SymmetricKey

    public init(id: [UInt8], key: SymmetricKey) {
        self.id = id
        self.key = key
    }

    public var idHex: String { Hex.encode(id) }
}
