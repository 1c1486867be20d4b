internal import COpenSSL

/// HMAC-SHA256 and MD5 through libcrypto, for S3 request signing (SigV4) and the
/// `Content-MD5` header that S3 requires on batch deletes.
public enum MessageAuthentication {
    public static func hmacSHA256(key: [UInt8], _ data: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let result = key.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), d.baseAddress, d.count, &out, &length)
            }
        }
        guard result != nil, length == 32 else { throw OpenSSLError.make("HMAC(sha256)") }
        return out
    }

    public static func md5(_ data: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        var length: UInt32 = 0
        let status = data.withUnsafeBufferPointer { d in
            EVP_Digest(d.baseAddress, d.count, &out, &length, EVP_md5(), nil)
        }
        try OpenSSLError.check(status, "EVP_Digest(md5)")
        return out
    }
}
