import VaultCompression
import VaultCrypto
import VaultFormat
import VaultOperations
import VaultPolicy
import VaultPostgres
import VaultStorage
import VaultSupport
import VaultSystem

/// vault's exit codes, and the one place every layer's error becomes one.
///
/// Scripts and PostgreSQL read these: 1 is what `restore_command` answers for "not archived",
/// so only a lookup that truly found nothing may map to it; archive-get itself never relies on
/// this mapping for that answer (it exits 1 only for the operation's explicit "not archived"
/// value, and 128 for every error). The README's table is tested against `allCases`.
enum ExitStatus: Int32, CaseIterable {
    case notFound = 1
    case usage = 2
    case policy = 3
    case key = 4
    case corrupt = 5
    case refused = 6
    case database = 7
    case io = 8
    case library = 9
    case checkFailed = 10
    case stopRecovery = 128

    /// What the code means, as the README's exit-code table says it.
    var meaning: String {
        switch self {
        case .notFound: return "not found (archive-get: only when the repository answered that the file is absent)"
        case .usage: return "usage: a bad option or a command line that does not parse"
        case .policy: return "the policy file is invalid or unreadable"
        case .key: return "key, passphrase or credentials"
        case .corrupt: return "a stored object or file is damaged"
        case .refused: return "refused for safety (another cluster, a lock held, different content)"
        case .database: return "PostgreSQL unreachable or failing"
        case .io: return "I/O: full disk, permissions, an unreachable store"
        case .library: return "a C library failed, or an unexpected error"
        case .checkFailed: return "a check failed (bad pages, WAL that did not arrive, a failed verify)"
        case .stopRecovery: return "archive-get asking PostgreSQL to stop recovery (also for bad restore_command arguments)"
        }
    }

    /// The exit status for an error from any layer.
    static func of(_ error: any Error) -> ExitStatus {
        switch error {
        case let e as OperationError:
            switch e.kind {
            case .usage: return .usage
            case .key: return .key
            case .corrupt: return .corrupt
            case .notFound: return .notFound
            case .refused: return .refused
            case .database: return .database
            case .io: return .io
            case .checkFailed: return .checkFailed
            }
        case let e as FormatError:
            switch e.kind {
            case .corrupt: return .corrupt
            case .wrongKey, .keyMismatch: return .key
            case .notFound: return .notFound
            case .refused: return .refused
            case .invalidArgument: return .usage
            }
        case let e as StorageError:
            switch e.kind {
            case .notFound: return .notFound
            case .unreachable, .denied, .io: return .io
            case .credentialsRefused: return .key
            case .misconfigured, .invalidName: return .usage
            case .lockHeld, .lockLost: return .refused
            }
        case let e as PostgresError:
            switch e.kind {
            case .connection, .query, .unexpectedAnswer: return .database
            case .damagedFile: return .corrupt
            case .libraryMissing: return .library
            }
        case is PolicyError:
            return .policy
        case let e as ShardLookupError:
            switch e.kind {
            case .unknownShard, .shardRequired, .noShardMap: return .usage
            case .keyOutsideMap: return .notFound
            }
        case let e as SystemError:
            switch e.kind {
            case .notFound: return .notFound
            case .denied, .noSpace, .io: return .io
            case .invalidArgument: return .usage
            }
        case let e as CryptoError:
            switch e.kind {
            case .authenticationFailed, .invalidParameters: return .corrupt
            case .invalidKey: return .key
            case .library: return .library
            }
        case let e as CompressionError:
            switch e.kind {
            case .corrupt: return .corrupt
            case .library: return .library
            }
        case let e as CodingError:
            switch e.kind {
            case .malformed: return .corrupt
            case .unencodable: return .library
            }
        default:
            return .library
        }
    }

    /// The failure's reason as the scheduler logs and counts it (`reason` label of
    /// `vault_scheduler_job_failures_total`).
    var label: String {
        switch self {
        case .notFound: return "not_found"
        case .checkFailed: return "check_failed"
        case .stopRecovery: return "stop_recovery"
        default: return "\(self)"
        }
    }

    /// How the scheduler treats a job's error: a held lock is a skip (someone else is working
    /// on the shard); what can pass by itself is retried: a store that did not answer, a
    /// server that did not accept the connection, no primary found. The rest would fail the
    /// same way again: a wrong key or password, a refusal, damage, a full disk, a failed check.
    /// The reason is the exit code's name.
    static func schedulerOutcome(_ error: any Error) -> SchedulerCore.Outcome {
        if let e = error as? StorageError, e.kind == .lockHeld { return .skipped("\(e)") }
        if error is CancellationError { return .failed(reason: "cancelled", retryable: false) }
        let retryable: Bool
        switch error {
        case let e as StorageError: retryable = e.kind == .unreachable
        case let e as PostgresError:
            retryable = e.kind == .connection && !["authentication failed", "password", "permission denied", "does not exist"].contains { "\(e)".contains($0) }
        case let e as OperationError: retryable = e.kind == .database
        default: retryable = false
        }
        return .failed(reason: of(error).label, retryable: retryable)
    }

    /// The README's exit-code table, generated from `allCases`.
    static var markdownTable: String {
        (["| exit | meaning |", "|---|---|"] + allCases.map { "| \($0.rawValue) | \($0.meaning) |" }).joined(separator: "\n")
    }
}
