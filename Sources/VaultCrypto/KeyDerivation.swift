internal import COpenSSL
import VaultSupport

/// Derives a key-encryption key from the operator's passphrase with scrypt (libcrypto's
/// `EVP_PBE_scrypt`). The parameters are stored beside the wrapped key so they can change
/// between repositories without breaking old ones.
public struct ScryptParameters: Codable, Sendable, Equatable {
    public var n: UInt64
    public var r: UInt64
    public var p: UInt64
    /// Base64 of the random salt.
    public var salt: String

    public init(n: UInt64, r: UInt64, p: UInt64, salt: String) {
        self.n = n
        self.r = r
        self.p = p
        self.salt = salt
    }

    /// Cost for passphrases a person might have chosen: about 60 ms and 16 MiB here.
    public static let humanCostN: UInt64 = 1 << 14
    /// Cost for long passphrases (32+ characters, e.g. `openssl rand -base64 32`), whose own
    /// entropy already defeats guessing; keeps `archive-push`, which derives the key once per
    /// WAL segment, fast. About 4 ms here.
    public static let randomCostN: UInt64 = 1 << 10
    /// Characters from which a passphrase is treated as machine-generated.
    public static let longPassphraseLength = 32

    /// Picks parameters for `passphrase`, with a fresh salt.
    public static func recommended(for passphrase: Passphrase) throws -> ScryptParameters {
        let n = passphrase.count >= longPassphraseLength ? randomCostN : humanCostN
        let salt = try SecureRandom.bytes(16)
        return ScryptParameters(n: n, r: 8, p: 1, salt: Base64.encode(salt))
    }
}

public enum KeyDerivation {
    /// Derives a 256-bit key from `passphrase` with scrypt.
    public static func scrypt(_ passphrase: Passphrase, _ params: ScryptParameters) throws -> SymmetricKey {
        guard let salt = Base64.decode(params.salt) else {
            throw CryptoError(.invalidParameters, "key file has an invalid scrypt salt")
        }
        guard params.n >= 2, params.n & (params.n - 1) == 0, params.n <= 1 << 22, params.r >= 1, params.r <= 64, params.p >= 1, params.p <= 16 else {
            throw CryptoError(.invalidParameters, "key file has out-of-range scrypt parameters (n=\(params.n) r=\(params.r) p=\(params.p))")
        }
        var out = [UInt8](repeating: 0, count: SymmetricKey.byteCount)
        let maxMemory: UInt64 = 128 * params.n * params.r * params.p + (64 << 20)
        let status = passphrase.withBytes { pass in
            salt.withUnsafeBufferPointer { s in
                EVP_PBE_scrypt(pass.baseAddress?.assumingMemoryBound(to: CChar.self), pass.count,
                               s.baseAddress, s.count, params.n, params.r, params.p, maxMemory, &out, out.count)
            }
        }
        try OpenSSLError.check(status, "scrypt key derivation")
        defer { out.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        return try SymmetricKey(bytes: out)
    }
}
