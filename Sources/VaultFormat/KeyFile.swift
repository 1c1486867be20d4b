import VaultSupport
import VaultCrypto

/// `keys/<key-id>.json`: the data key wrapped (AES-256-GCM) by a key derived from the
/// passphrase. Neither the passphrase nor the data key is ever stored in the clear.
public struct KeyFile: Codable, Sendable {
    public var format: Int
    public var keyId: String
    public var kdf: String
    public var scrypt: ScryptParameters
    /// Base64 of nonce ‖ wrapped key ‖ tag.
    public var wrappedKey: String
    public var created: String

    static func aad(keyId: String) -> [UInt8] { Array("vault data key \(keyId)".utf8) }

    /// Creates a new random data key and wraps it with `passphrase`.
    public static func create(passphrase: Passphrase, created: String) throws -> (KeyFile, DataKey) {
        let dataKey = DataKey(id: try SecureRandom.bytes(DataKey.idSize), key: try SymmetricKey.random())
        let params = try ScryptParameters.recommended()
        let file = try wrap(dataKey, passphrase: passphrase, params: params, created: created)
        return (file, dataKey)
    }

    /// Wraps `dataKey` under `passphrase` (used by init and by passphrase rotation).
    public static func wrap(_ dataKey: DataKey, passphrase: Passphrase, params: ScryptParameters, created: String) throws -> KeyFile {
        let kek = try KeyDerivation.scrypt(passphrase, params)
        let nonce = try SecureRandom.bytes(AESGCM.nonceSize)
        let sealed = try AESGCM.seal(dataKey.key.copyBytes(), key: kek, nonce: nonce, aad: aad(keyId: dataKey.idHex))
        return KeyFile(format: 1, keyId: dataKey.idHex, kdf: "scrypt", scrypt: params,
                       wrappedKey: Base64.encode(nonce + sealed), created: created)
    }

    /// Unwraps the data key; a wrong passphrase is one clear `.wrongKey` error.
    public func unwrap(passphrase: Passphrase, repository: String) throws -> DataKey {
        guard kdf == "scrypt" else { throw FormatError(.corrupt, "key file \(keyId) uses unknown KDF '\(kdf)'") }
        guard let id = Hex.decode(keyId), id.count == DataKey.idSize,
              let blob = Base64.decode(wrappedKey), blob.count == AESGCM.nonceSize + SymmetricKey.byteCount + AESGCM.tagSize else {
            throw FormatError(.corrupt, "key file \(keyId) in \(repository) is damaged")
        }
        let kek = try KeyDerivation.scrypt(passphrase, scrypt)
        let nonce = Array(blob.prefix(AESGCM.nonceSize))
        let keyBytes: [UInt8]
        do {
            keyBytes = try AESGCM.open(blob.dropFirst(AESGCM.nonceSize), key: kek, nonce: nonce, aad: Self.aad(keyId: keyId), what: "key \(keyId)")
        } catch let e as CryptoError where e.kind == .authenticationFailed {
            throw FormatError(.wrongKey, "wrong passphrase for repository \(repository) (key \(keyId) does not unwrap)")
        }
        return DataKey(id: id, key: try SymmetricKey(bytes: keyBytes))
    }
}
