internal import COpenSSL

/// A 256-bit secret key whose bytes are wiped when the last reference goes away, so key
/// material does not linger in freed memory.
public final class SymmetricKey: @unchecked Sendable {
    // @unchecked: `bytes` is written only in init and deinit; every other access is a read.
    private var bytes: [UInt8]

    public static let byteCount = 32

    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError(.invalidKey, "a key must be \(Self.byteCount) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    public static func random() throws -> SymmetricKey {
        try SymmetricKey(bytes: SecureRandom.bytes(byteCount))
    }

    /// Gives the key bytes to `body`; they must not escape it.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    /// A copy of the key bytes, for wrapping; the caller wipes or discards them promptly.
    public func copyBytes() -> [UInt8] { bytes }

    deinit {
        let count = bytes.count
        bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, count) }
    }
}
