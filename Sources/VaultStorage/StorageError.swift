import VaultSystem
import VaultSupport

/// A failure of a repository's storage, on a directory or an object store alike.
///
/// The kinds are what the layers above must tell apart. An object that does not exist is not
/// an error of `get` (it returns nil, and only when the store answered so); `.notFound` is
/// for reads that require the object (a pack restore needs). A store that cannot be reached,
/// or refuses, is never confused with a missing object.
public typealias StorageError = LayerError<StorageErrorKind>

/// The kinds of `StorageError`.
public enum StorageErrorKind: Sendable, Equatable {
    /// The store answered that a required object does not exist.
    case notFound
    /// The store could not be reached, or kept failing after retries.
    case unreachable
    /// The operating system or the store refused access (permissions, a read-only mount).
    case denied
    /// The object store refused the credentials.
    case credentialsRefused
    /// The store's configuration is wrong: an endpoint that is not a URL, a missing bucket.
    case misconfigured
    /// An object name that could escape the repository.
    case invalidName
    /// Another process holds the lock.
    case lockHeld
    /// The lock was lost before the work that needed it finished.
    case lockLost
    /// Any other failure: a full disk, an answer the store should not give.
    case io
}

extension LayerError where Kind == StorageErrorKind {
    /// The storage error for a failed system call on a repository directory.
    public init(_ error: SystemError) {
        switch error.kind {
        case .notFound: self.init(.notFound, error.message)
        case .denied: self.init(.denied, error.message)
        case .noSpace, .io, .invalidArgument: self.init(.io, error.message)
        }
    }
}
