import VaultSupport

/// A failure of zstd: input that does not decompress to what the envelope promised
/// (`.corrupt`), or libzstd failing on its own (`.library`, with libzstd's message).
public typealias CompressionError = LayerError<CompressionErrorKind>

/// The kinds of `CompressionError`.
public enum CompressionErrorKind: Sendable, Equatable {
    case corrupt
    case library
}
