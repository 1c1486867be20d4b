internal import COpenSSL

/// SHA-256 through EVP (uses SHA-NI where the CPU has it: several times faster than a
/// portable implementation). Incremental, for streams; `hash` for one buffer.
public final class SHA256 {
    public static let byteCount = 32
    private let ctx: OpaquePointer

    public init() throws {
        guard let c = EVP_MD_CTX_new() else { throw OpenSSLError.make("EVP_MD_CTX_new") }
        ctx = c
        try OpenSSLError.check(EVP_DigestInit_ex(ctx, EVP_sha256(), nil), "EVP_DigestInit_ex(sha256)")
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public func update<C: Collection>(_ data: C) throws where C.Element == UInt8 {
        let status: Int32? = data.withContiguousStorageIfAvailable { buf in
            EVP_DigestUpdate(ctx, buf.baseAddress, buf.count)
        }
        if let status {
            try OpenSSLError.check(status, "EVP_DigestUpdate")
        } else {
            try update(Array(data))
        }
    }

    public func finalize() throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Self.byteCount)
        var len: UInt32 = 0
        try OpenSSLError.check(EVP_DigestFinal_ex(ctx, &out, &len), "EVP_DigestFinal_ex")
        return out
    }

    public static func hash<C: Collection>(_ data: C) throws -> [UInt8] where C.Element == UInt8 {
        let h = try SHA256()
        try h.update(data)
        return try h.finalize()
    }
}
