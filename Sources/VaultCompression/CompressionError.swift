/// A failure of zstd: input that does not decompress to what the envelope promised
/// (`.corrupt`), or libzstd failing on its own (`.library`, with libzstd's message).
public struct CompressionError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case corrupt
        case library
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
