/// The shape every layer's error shares: a kind the layer above can tell apart, and one line
/// for the operator that says what failed and where, never a secret. Each layer names its own
/// (`StorageError`, `FormatError`, `PostgresError`, ...) over its own kinds, so a kind of one
/// layer is never taken for another's, and the executable maps each one to an exit code.
public struct LayerError<Kind: Sendable & Equatable>: Error, CustomStringConvertible, Sendable, Equatable {
    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
