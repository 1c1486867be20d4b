/// A JSON document that could not be read or written.
///
/// `description` is one line naming the document, never its contents (which may hold a lease
/// token or key material).
public typealias CodingError = LayerError<CodingErrorKind>

/// The kinds of `CodingError`.
public enum CodingErrorKind: Sendable, Equatable {
    /// The bytes are not the document they claim to be: damaged, or written by something else.
    case malformed
    /// A value could not be encoded (a program error, not an operator's).
    case unencodable
}
