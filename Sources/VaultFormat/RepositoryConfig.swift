/// `vault.json` at the repository root: plain JSON so any tool can tell what the directory
/// or prefix is. It holds no secret; the key id names the wrapped key in `keys/`.
public struct RepositoryConfig: Codable, Sendable {
    public var format: Int
    public var created: String
    /// "aes-256-gcm" or "none".
    public var encryption: String
    public var keyId: String?
    public var compression: String

    public static let objectName = "vault.json"
    public static let currentFormat = 1

    public var isEncrypted: Bool { encryption != "none" }
}
