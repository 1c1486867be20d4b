internal import COpenSSL

/// The operator's passphrase, held only in memory and wiped when released. It has no
/// `description` that would reveal it: printing one shows `<passphrase>`.
public final class Passphrase: CustomStringConvertible, @unchecked Sendable {
    // @unchecked: `bytes` is mutated only in deinit.
    private var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    public var count: Int { bytes.count }
    public var description: String { "<passphrase>" }

    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    deinit {
        let n = bytes.count
        bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, n) }
    }
}
