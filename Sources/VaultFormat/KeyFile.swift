import VaultSupport
import VaultCrypto

/// What unwraps the root data key: an operator's passphrase, stretched with scrypt, or the 32
/// random bytes of a key file managed elsewhere, which need no stretching (HKDF-SHA256).
public enum KeySecret: Sendable {
    case passphrase(Passphrase)
    case keyMaterial(Passphrase)

    var kdf: String {
        switch self {
        case .passphrase: "scrypt"
        case .keyMaterial: "hkdf-sha256"
        }
    }

    /// The policy setting that names this kind of secret, for messages.
    var setting: String {
        switch self {
        case .passphrase: "a passphrase"
        case .keyMaterial: "encryption.key_file"
        }
    }
}

/// `keys/<key-id>.json`: the root data key wrapped (AES-256-GCM) by a key derived from the
/// passphrase or key file. Neither the secret nor the data key is ever stored in the clear.
public struct KeyFile: Codable, Sendable {
    public var format: Int
    public var keyId: String
    /// "scrypt" (a passphrase) or "hkdf-sha256" (a key file).
    public var kdf: String
    public var scrypt: ScryptParameters?
    /// Base64 of HKDF's random salt.
    public var hkdfSalt: String?
    /// Base64 of nonce ‖ wrapped key ‖ tag.
    public var wrappedKey: String
    public var created: String
    /// SHA-256 (hex) of the fields above: damage to the file is named as damage, not taken
    /// for a wrong passphrase (which GCM alone cannot tell apart). Absent in older files.
    public var checksum: String?

    func computedChecksum() throws -> String {
        let params = scrypt.map { "\($0.n),\($0.r),\($0.p),\($0.salt)" } ?? ""
        let text = [String(format), keyId, kdf, params, hkdfSalt ?? "", wrappedKey, created].joined(separator: "|")
        return Hex.encode(try SHA256.hash(Array(text.utf8)))
    }

    static func aad(keyId: String) -> [UInt8] { Array("vault data key \(keyId)".utf8) }
    static let hkdfInfo = Array("vault key-encryption key".utf8)

    /// Creates a new random data key and wraps it with `secret`.
    public static func create(secret: KeySecret, created: String) throws -> (KeyFile, DataKey) {
        let dataKey = try DataKey.random()
        return (try wrap(dataKey, secret: secret, created: created), dataKey)
    }

    /// Wraps `dataKey` under `secret` at today's cost (used by init and by `vault key rotate`);
    /// `scrypt` overrides the cost only to make key files as older versions wrote them.
    public static func wrap(_ dataKey: DataKey, secret: KeySecret, created: String, scrypt: ScryptParameters? = nil) throws -> KeyFile {
        var file = KeyFile(format: 1, keyId: dataKey.idHex, kdf: secret.kdf, scrypt: nil, hkdfSalt: nil, wrappedKey: "", created: created, checksum: nil)
        switch secret {
        case .passphrase: file.scrypt = try scrypt ?? ScryptParameters.recommended()
        case .keyMaterial: file.hkdfSalt = Base64.encode(try SecureRandom.bytes(32))
        }
        let kek = try file.keyEncryptionKey(secret)
        let nonce = try SecureRandom.bytes(AESGCM.nonceSize)
        let sealed = try AESGCM.seal(dataKey.key.copyBytes(), key: kek, nonce: nonce, aad: aad(keyId: dataKey.idHex))
        file.wrappedKey = Base64.encode(nonce + sealed)
        file.checksum = try file.computedChecksum()
        return file
    }

    private func keyEncryptionKey(_ secret: KeySecret) throws -> SymmetricKey {
        switch secret {
        case .passphrase(let passphrase):
            guard let scrypt else { throw FormatError(.corrupt, "key file \(keyId) names scrypt but has no parameters") }
            return try KeyDerivation.scrypt(passphrase, scrypt)
        case .keyMaterial(let material):
            guard let salt = hkdfSalt.flatMap(Base64.decode), salt.count >= 16 else {
                throw FormatError(.corrupt, "key file \(keyId) names HKDF but has no valid salt")
            }
            return try KeyDerivation.hkdfSHA256(material, salt: salt, info: Self.hkdfInfo)
        }
    }

    /// Unwraps the data key; a wrong secret, or one of the other kind, is one clear `.wrongKey` error.
    public func unwrap(secret: KeySecret, repository: String) throws -> DataKey {
        if let checksum, try checksum != computedChecksum() {
            throw FormatError(.corrupt, "key file keys/\(keyId).json in \(repository) is damaged (its checksum does not match); put back a copy of it: without it no object can be opened")
        }
        guard kdf == "scrypt" || kdf == "hkdf-sha256" else { throw FormatError(.corrupt, "key file \(keyId) uses unknown KDF '\(kdf)'") }
        guard kdf == secret.kdf else {
            let wrappedBy = kdf == "scrypt" ? "a passphrase" : "a key file (encryption.key_file)"
            throw FormatError(.wrongKey, "the key of repository \(repository) is wrapped by \(wrappedBy), but the policy gives \(secret.setting)")
        }
        guard let id = Hex.decode(keyId), id.count == DataKey.idSize,
              let blob = Base64.decode(wrappedKey), blob.count == AESGCM.nonceSize + SymmetricKey.byteCount + AESGCM.tagSize else {
            throw FormatError(.corrupt, "key file \(keyId) in \(repository) is damaged")
        }
        let kek = try keyEncryptionKey(secret)
        let nonce = Array(blob.prefix(AESGCM.nonceSize))
        let keyBytes: [UInt8]
        do {
            keyBytes = try AESGCM.open(blob.dropFirst(AESGCM.nonceSize), key: kek, nonce: nonce, aad: Self.aad(keyId: keyId), what: "key \(keyId)")
        } catch let e as CryptoError where e.kind == .authenticationFailed {
            let what = kdf == "scrypt" ? "wrong passphrase" : "wrong key file"
            throw FormatError(.wrongKey, "\(what) for repository \(repository) (key \(keyId) does not unwrap)")
        }
        return DataKey(id: id, key: try SymmetricKey(bytes: keyBytes))
    }
}

/// `keys/later/<generation>.json`: a data key started by `vault key new`, sealed by the root
/// key like any object (its name authenticated), so rewrapping the root key under a new
/// passphrase covers every key at once.
public struct LaterKeyRecord: Codable, Sendable {
    /// 2, 3, …: the root key is generation 1.
    public var generation: Int
    public var keyId: String
    /// Base64 of the 32 key bytes; the record is only ever stored sealed.
    public var key: String
    public var created: String

    public static let prefix = "keys/later/"

    public static func objectName(generation: Int) -> String {
        let digits = String(generation)
        return prefix + String(repeating: "0", count: max(0, 6 - digits.count)) + digits + ".json"
    }
}
