import VaultSupport

/// A failure of the cryptography layer.
///
/// `.authenticationFailed` means a GCM tag did not match: the bytes, the associated data or
/// the key are not what sealed them. The format layer above decides whether that is a damaged
/// object or a wrong passphrase; this layer cannot tell.
public typealias CryptoError = LayerError<CryptoErrorKind>

/// The kinds of `CryptoError`.
public enum CryptoErrorKind: Sendable, Equatable {
    /// A tag did not match, or the sealed bytes are too short to hold one.
    case authenticationFailed
    /// Key material of the wrong size.
    case invalidKey
    /// Stored key-derivation parameters that cannot be right (salt, cost).
    case invalidParameters
    /// libcrypto reported a failure of its own (carries OpenSSL's message).
    case library
}
