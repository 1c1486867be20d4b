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

    /// The cost of every new key file: N = 2^15 (r = 8, p = 1), 32 MiB and about 0.1 s here,
    /// whatever the passphrase's length, so a guessed passphrase costs an attacker as much as
    /// a chosen one. Key files written with a lower N (by earlier versions) are still read;
    /// `vault key rotate` rewrites one at this cost.
    public static let costN: UInt64 = 1 << 15

    /// Parameters for a new key file, with a fresh salt.
    public static func recommended() throws -> ScryptParameters {
        ScryptParameters(n: costN, r: 8, p: 1, salt: Base64.encode(try SecureRandom.bytes(16)))
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

extension KeyDerivation {
    /// HKDF-SHA256 (RFC 5869): extract with `salt`, expand with `info` to `length` bytes. Used
    /// for key files of 32 random bytes, which need no stretching, only a key per purpose.
    public static func hkdfSHA256(_ material: Passphrase, salt: [UInt8], info: [UInt8], length: Int = SymmetricKey.byteCount) throws -> SymmetricKey {
        guard length == SymmetricKey.byteCount else {
            throw CryptoError(.invalidParameters, "HKDF output must be \(SymmetricKey.byteCount) bytes")
        }
        var prk = [UInt8](repeating: 0, count: 32)
        var prkLength: UInt32 = 0
        let extracted = material.withBytes { ikm in
            salt.withUnsafeBufferPointer { s in
                HMAC(EVP_sha256(), s.baseAddress, Int32(s.count), ikm.baseAddress?.assumingMemoryBound(to: UInt8.self), ikm.count, &prk, &prkLength)
            }
        }
        defer { prk.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        guard extracted != nil, prkLength == 32 else { throw OpenSSLError.make("HKDF extract") }
        // One block of expand is enough: T(1) = HMAC(PRK, info || 0x01), 32 bytes.
        var okm = try MessageAuthentication.hmacSHA256(key: prk, info + [0x01])
        defer { okm.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        return try SymmetricKey(bytes: okm)
    }
}
