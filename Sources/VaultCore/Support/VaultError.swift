/// The one error type vault's library throws.
///
/// Operators see `description`: one line that says what failed and where, never a secret.
/// The `kind` decides the process exit code, so scripts can tell "missing" from "corrupt".
public struct VaultError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Broad classes of failure; each maps to an exit code in `exitCode`.
    public enum Kind: String, Sendable, Equatable {
        /// Bad command-line input or policy file.
        case usage
        /// The policy file is invalid.
        case policy
        /// Wrong passphrase, unreadable key.
        case key
        /// An object failed authentication or its checksum: corrupt, truncated, swapped.
        case corrupt
        /// Something asked for does not exist (segment, backup, shard).
        case notFound
        /// Refused for safety: different content, another cluster, lock held.
        case refused
        /// PostgreSQL could not be reached or answered with an error.
        case database
        /// Operating system or storage I/O failure (full disk, permissions).
        case io
        /// A C library reported an internal failure.
        case library
        /// A check or verification found a problem.
        case checkFailed
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// Process exit code for this failure. `notFound` is 1 because PostgreSQL reads exit 1 from
    /// `restore_command` as "no such file"; every other failure uses a distinct code above 1.
    public var exitCode: Int32 {
        switch kind {
        case .notFound: return 1
        case .usage: return 2
        case .policy: return 3
        case .key: return 4
        case .corrupt: return 5
        case .refused: return 6
        case .database: return 7
        case .io: return 8
        case .library: return 9
        case .checkFailed: return 10
        }
    }
}
