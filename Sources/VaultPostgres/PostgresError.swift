import VaultSupport

/// A failure talking to PostgreSQL or reading its files. Messages name the node, its host and
/// port, never the conninfo (which may carry a password).
public typealias PostgresError = LayerError<PostgresErrorKind>

/// The kinds of `PostgresError`.
public enum PostgresErrorKind: Sendable, Equatable {
    /// The server could not be reached, or refused the connection.
    case connection
    /// A statement failed on the server.
    case query
    /// The server answered, but not with what the statement should return.
    case unexpectedAnswer
    /// A file of the data directory (pg_control) fails its checksum.
    case damagedFile
    /// libpq itself cannot be loaded: no server is involved, and retrying cannot help.
    case libraryMissing
}
