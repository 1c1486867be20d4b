import Foundation
import Testing
import VaultCompression
import VaultCrypto
import VaultFormat
import VaultOperations
import VaultPolicy
import VaultPostgres
import VaultStorage
import VaultSupport
import VaultSystem
@testable import vault

/// Swift Testing has an `ExitStatus` of its own.
private typealias ExitStatus = vault.ExitStatus

@Suite("exit codes: one mapping, documented in the README")
struct ExitStatusTests {
    @Test("the README's exit-code table is the one the code uses")
    func readmeTable() throws {
        let readme = try String(contentsOfFile: #filePath.replacingOccurrences(of: "/Tests/VaultCommandLineTests/ExitStatusTests.swift", with: "/README.md"), encoding: .utf8)
        #expect(readme.contains(ExitStatus.markdownTable + "\n"), "README.md's exit-code table differs from ExitStatus.markdownTable:\n\(ExitStatus.markdownTable)")
    }

    /// Exit 1 is what PostgreSQL's restore_command reads as "not archived". Only an answer that
    /// something is absent may map to it: an unreachable store, a denied read, a damaged object
    /// or a wrong key never may.
    @Test("only absence maps to 1; every layer's failures keep their own codes")
    func mapping() {
        let cases: [(any Error, ExitStatus)] = [
            (StorageError(.notFound, ""), .notFound),
            (StorageError(.unreachable, ""), .io),
            (StorageError(.denied, ""), .io),
            (StorageError(.io, ""), .io),
            (StorageError(.credentialsRefused, ""), .key),
            (StorageError(.misconfigured, ""), .usage),
            (StorageError(.lockHeld, ""), .refused),
            (StorageError(.lockLost, ""), .refused),
            (SystemError("open /x", errno: ENOENT), .notFound),
            (SystemError("open /x", errno: EACCES), .io),
            (SystemError("write /x", errno: ENOSPC), .io),
            (FormatError(.corrupt, ""), .corrupt),
            (FormatError(.wrongKey, ""), .key),
            (FormatError(.keyMismatch, ""), .key),
            (FormatError(.notFound, ""), .notFound),
            (FormatError(.refused, ""), .refused),
            (CryptoError(.authenticationFailed, ""), .corrupt),
            (CryptoError(.library, ""), .library),
            (CompressionError(.corrupt, ""), .corrupt),
            (CodingError(.malformed, ""), .corrupt),
            (PostgresError(.connection, ""), .database),
            (PostgresError(.query, ""), .database),
            (PostgresError(.damagedFile, ""), .corrupt),
            (PostgresError(.libraryMissing, ""), .library),
            (PolicyError(path: "/p", issues: []), .policy),
            (ShardLookupError(.unknownShard, ""), .usage),
            (ShardLookupError(.keyOutsideMap, ""), .notFound),
            (OperationError(.refused, ""), .refused),
            (OperationError(.checkFailed, ""), .checkFailed),
            (CancellationError(), .library),
        ]
        for (error, expected) in cases {
            #expect(ExitStatus.of(error) == expected, "\(type(of: error)) \(error)")
        }
        #expect(SystemError("open /x", errno: ENOENT).kind == .notFound)
        #expect(SystemError("open /x", errno: EROFS).kind == .denied)
    }

    @Test("the scheduler retries only what can pass later, and skips (does not fail) a job whose lock is held")
    func schedulerOutcome() {
        #expect(ExitStatus.schedulerOutcome(StorageError(.lockHeld, "main/locks/backup.lock is held by someone")) == .skipped("main/locks/backup.lock is held by someone"))
        #expect(ExitStatus.schedulerOutcome(StorageError(.unreachable, "store down")) == .failed(reason: "io", retryable: true))
        #expect(ExitStatus.schedulerOutcome(StorageError(.io, "short read")) == .failed(reason: "io", retryable: false))
        #expect(ExitStatus.schedulerOutcome(StorageError(.denied, "403 AccessDenied")) == .failed(reason: "io", retryable: false))
        #expect(ExitStatus.schedulerOutcome(SystemError(.noSpace, "write: no space left", code: ENOSPC)) == .failed(reason: "io", retryable: false))
        #expect(ExitStatus.schedulerOutcome(PostgresError(.connection, "node a: connection refused")) == .failed(reason: "database", retryable: true))
        #expect(ExitStatus.schedulerOutcome(PostgresError(.connection, "node a: FATAL: password authentication failed for user \"vault\"")) == .failed(reason: "database", retryable: false))
        #expect(ExitStatus.schedulerOutcome(OperationError(.database, "no node of shard main answered as primary")) == .failed(reason: "database", retryable: true))
        #expect(ExitStatus.schedulerOutcome(FormatError(.wrongKey, "wrong passphrase")) == .failed(reason: "key", retryable: false))
        #expect(ExitStatus.schedulerOutcome(FormatError(.corrupt, "bad tag")) == .failed(reason: "corrupt", retryable: false))
        #expect(ExitStatus.schedulerOutcome(OperationError(.checkFailed, "WAL missing")) == .failed(reason: "check_failed", retryable: false))
        #expect(ExitStatus.schedulerOutcome(CancellationError()) == .failed(reason: "cancelled", retryable: false))
    }
}
