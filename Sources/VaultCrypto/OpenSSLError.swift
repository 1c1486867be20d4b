internal import COpenSSL

/// Turns libcrypto's error queue into a `CryptoError` carrying OpenSSL's own message.
/// Every libcrypto call in vault goes through `check` so no return code is ignored.
enum OpenSSLError {
    /// Throws when `status` is not 1 (libcrypto's success value for most EVP calls).
    static func check(_ status: Int32, _ operation: @autoclosure () -> String) throws {
        guard status == 1 else { throw make(operation()) }
    }

    static func make(_ operation: String) -> CryptoError {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0 else { return CryptoError(.library, "libcrypto: \(operation) failed") }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return CryptoError(.library, "libcrypto: \(operation) failed: \(text)")
    }
}
