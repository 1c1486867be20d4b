internal import COpenSSL

/// Cryptographically secure random bytes from libcrypto (`RAND_bytes`).
public enum SecureRandom {
    public static func bytes(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let status = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        try OpenSSLError.check(status, "RAND_bytes")
        return out
    }
}
