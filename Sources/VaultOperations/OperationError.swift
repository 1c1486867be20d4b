import VaultFormat
import VaultSupport

/// A failure decided by an operation: a refusal for safety, a check that found a problem, a
/// request that names nothing. Failures of the layers below reach the caller as their own
/// types (`StorageError`, `FormatError`, `PostgresError`, ...); the executable maps every one of
/// them to an exit code in one place.
///
/// `description` is one line that says what failed and where, never a secret.
public typealias OperationError = LayerError<OperationErrorKind>

/// The kinds of `OperationError`.
public enum OperationErrorKind: String, Sendable, Equatable, Codable {
    /// The request does not make sense: bad option values, a backup id that is not one.
    case usage
    /// The passphrase or key could not be had.
    case key
    /// Stored data is damaged.
    case corrupt
    /// Something asked for does not exist (a backup, a target in the archive).
    case notFound
    /// Refused for safety: another cluster, a lock held, a target that cannot be reached.
    case refused
    /// PostgreSQL did not do what the operation needs (not archiving, not started).
    case database
    /// A local file or process could not be used.
    case io
    /// A check or verification found a problem.
    case checkFailed
}

extension LayerError where Kind == OperationErrorKind {
    /// The error for a command that stops at a problem found in the repository.
    public init(_ problem: RepositoryProblem) {
        let kind: Kind
        switch problem.kind {
        case .corrupt: kind = .corrupt
        case .missing: kind = .notFound
        case .unreachable: kind = .refused
        case .checkFailed: kind = .checkFailed
        }
        self.init(kind, problem.description)
    }
}
