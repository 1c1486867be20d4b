internal import COpenSSL

/// AES-256-GCM through OpenSSL's EVP interface. One context per call; the key never leaves
/// `SymmetricKey`. Authentication failure is reported as `.corrupt`, never as a library error,
/// because to an operator a failed tag means "this object is not what was written".
public enum AESGCM {
    public static let nonceSize = 12
    public static let tagSize = 16

    /// Encrypts `plaintext`, binding `aad`, and returns ciphertext followed by the 16-byte tag.
    public static func seal(_ plaintext: [UInt8], key: SymmetricKey, nonce: [UInt8], aad: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        try seal(plaintext, key: key, nonce: nonce, aad: aad, appendingTo: &out)
        return out
    }

    /// Encrypts `plaintext` and appends ciphertext and tag to `out`, so a caller building a
    /// header-plus-payload object makes one buffer instead of copying a second.
    public static func seal(_ plaintext: [UInt8], key: SymmetricKey, nonce: [UInt8], aad: [UInt8], appendingTo out: inout [UInt8]) throws {
        let ctx = try CipherContext()
        try key.withBytes { k in
            try nonce.withUnsafeBytes { n in
                try OpenSSLError.check(
                    EVP_EncryptInit_ex(ctx.pointer, EVP_aes_256_gcm(), nil,
                                       k.bindMemory(to: UInt8.self).baseAddress, n.bindMemory(to: UInt8.self).baseAddress),
                    "EVP_EncryptInit_ex(aes-256-gcm)")
            }
        }
        try ctx.update(aad: aad, encrypt: true)
        let start = out.count
        out.reserveCapacity(start + plaintext.count + tagSize)
        out.append(contentsOf: repeatElement(0, count: plaintext.count + tagSize))
        let written = try ctx.update(plaintext, into: &out, at: start, encrypt: true)
        var finalLen: Int32 = 0
        try out.withUnsafeMutableBufferPointer { buf in
            try OpenSSLError.check(EVP_EncryptFinal_ex(ctx.pointer, buf.baseAddress.map { $0 + start + written }, &finalLen), "EVP_EncryptFinal_ex")
            let tagStart = buf.baseAddress.map { $0 + start + plaintext.count }
            try OpenSSLError.check(EVP_CIPHER_CTX_ctrl(ctx.pointer, EVP_CTRL_GCM_GET_TAG, Int32(tagSize), tagStart), "get GCM tag")
        }
    }

    /// Decrypts ciphertext-plus-tag produced by `seal`; throws `.corrupt` naming `what` when
    /// the tag does not match (wrong key, flipped byte, truncated, or a different `aad`).
    public static func open(_ sealed: ArraySlice<UInt8>, key: SymmetricKey, nonce: [UInt8], aad: [UInt8], what: String) throws -> [UInt8] {
        guard sealed.count >= tagSize else {
            throw CryptoError(.authenticationFailed, "\(what) is truncated: \(sealed.count) bytes cannot hold an authentication tag")
        }
        let ctx = try CipherContext()
        try key.withBytes { k in
            try nonce.withUnsafeBytes { n in
                try OpenSSLError.check(
                    EVP_DecryptInit_ex(ctx.pointer, EVP_aes_256_gcm(), nil,
                                       k.bindMemory(to: UInt8.self).baseAddress, n.bindMemory(to: UInt8.self).baseAddress),
                    "EVP_DecryptInit_ex(aes-256-gcm)")
            }
        }
        try ctx.update(aad: aad, encrypt: false)
        let bodyCount = sealed.count - tagSize
        let body = sealed.prefix(bodyCount)
        var tag = [UInt8](sealed.suffix(tagSize))
        var out = [UInt8](repeating: 0, count: bodyCount)
        let written = try ctx.update(body, into: &out, at: 0, encrypt: false)
        try tag.withUnsafeMutableBytes { t in
            try OpenSSLError.check(EVP_CIPHER_CTX_ctrl(ctx.pointer, EVP_CTRL_GCM_SET_TAG, Int32(tagSize), t.baseAddress), "set GCM tag")
        }
        var finalLen: Int32 = 0
        let status = out.withUnsafeMutableBufferPointer { buf in
            EVP_DecryptFinal_ex(ctx.pointer, buf.baseAddress.map { $0 + written }, &finalLen)
        }
        guard status == 1 else {
            ERR_clear_error()
            throw CryptoError(.authenticationFailed, "\(what) failed authentication (corrupt, truncated, swapped, or encrypted with another key)")
        }
        return out
    }
}

/// Owns one `EVP_CIPHER_CTX`; freed in exactly one place.
private final class CipherContext {
    let pointer: OpaquePointer

    init() throws {
        guard let p = EVP_CIPHER_CTX_new() else { throw OpenSSLError.make("EVP_CIPHER_CTX_new") }
        pointer = p
    }

    deinit { EVP_CIPHER_CTX_free(pointer) }

    /// Feeds additional authenticated data.
    func update(aad: [UInt8], encrypt: Bool) throws {
        guard !aad.isEmpty else { return }
        var outLen: Int32 = 0
        try aad.withUnsafeBufferPointer { a in
            let status = encrypt
                ? EVP_EncryptUpdate(pointer, nil, &outLen, a.baseAddress, Int32(a.count))
                : EVP_DecryptUpdate(pointer, nil, &outLen, a.baseAddress, Int32(a.count))
            try OpenSSLError.check(status, "GCM additional data")
        }
    }

    /// Processes `input` in chunks below Int32.max, writing into `out` from `start`; returns bytes written.
    func update<C: Collection>(_ input: C, into out: inout [UInt8], at start: Int, encrypt: Bool) throws -> Int where C.Element == UInt8 {
        let chunk = 1 << 30
        var written = 0
        try input.withContiguousStorageIfAvailable { src in
            try out.withUnsafeMutableBufferPointer { dst in
                var offset = 0
                while offset < src.count {
                    let n = min(chunk, src.count - offset)
                    var outLen: Int32 = 0
                    let status = encrypt
                        ? EVP_EncryptUpdate(pointer, dst.baseAddress.map { $0 + start + written }, &outLen, src.baseAddress.map { $0 + offset }, Int32(n))
                        : EVP_DecryptUpdate(pointer, dst.baseAddress.map { $0 + start + written }, &outLen, src.baseAddress.map { $0 + offset }, Int32(n))
                    try OpenSSLError.check(status, encrypt ? "EVP_EncryptUpdate" : "EVP_DecryptUpdate")
                    written += Int(outLen)
                    offset += n
                }
            }
        } ?? { throw CryptoError(.library, "cipher input is not contiguous") }()
        return written
    }
}
