import Foundation
import VaultSystem

/// Where a repository's objects live: a directory (`PosixStorage`) or an object store.
///
/// Names are relative, `/`-separated paths such as `main/wal/00000001/000000010000000000000003`.
/// Every write is durable when the call returns, and a reader never sees a partial object.
public protocol Storage: Sendable {
    /// Where this storage is, for messages (a directory or `s3://bucket/prefix`).
    var location: String { get }

    /// The object's bytes, or nil when it does not exist.
    func get(_ name: String) async throws -> [UInt8]?

    /// `length` bytes of the object from `offset` (restore reads single extents of packs).
    func getRange(_ name: String, offset: Int, length: Int) async throws -> [UInt8]

    /// Stores `bytes` under `name`, replacing what was there, atomically.
    func put(_ name: String, _ bytes: [UInt8]) async throws

    /// Stores `bytes` under `name` only if nothing is there yet; returns false (and changes
    /// nothing) when an object already exists. Never overwrites, even under a race.
    func putIfAbsent(_ name: String, _ bytes: [UInt8]) async throws -> Bool

    /// Whether an object exists.
    func exists(_ name: String) async throws -> Bool

    /// The object's size in bytes, or nil when it does not exist.
    func size(_ name: String) async throws -> Int64?

    /// When the object was last written, or nil when it does not exist. Restore uses it to
    /// tell whether archived WAL can reach a time target.
    func modified(_ name: String) async throws -> Date?

    /// All object names under `prefix` (recursively), sorted.
    func list(prefix: String) async throws -> [String]

    /// All objects under `prefix` with their sizes and modification times, sorted by name: one
    /// listing, where asking `size` of each would cost a request per object on S3.
    func listSizes(prefix: String) async throws -> [ListedObject]

    /// Removes an object; removing a missing one is not an error.
    func delete(_ name: String) async throws

    /// Removes many objects (one request per thousand on S3).
    func delete(_ names: [String]) async throws

    /// Takes the exclusive lock `name` (one writer per shard), or refuses at once with the
    /// holder's description when someone else has it. Held until `release` or process exit.
    func lock(_ name: String, owner: String) async throws -> any StorageLock

    /// Proves the store refuses a write whose condition fails, which locks and write-once
    /// objects rely on; throws `.misconfigured` for a store that ignores the conditions.
    func probeConditionalWrites() async throws

    /// What writers killed mid-write left under `prefix` and that is older than `age` by the
    /// store's clock: a directory repository's temporary files, an object store's unfinished
    /// multipart uploads (billed until aborted). Neither is ever listed as an object. Removes
    /// them unless `dryRun`; returns how many there were.
    func collectAbandonedWrites(under prefix: String, olderThan age: TimeInterval, dryRun: Bool) async throws -> Int
}

/// A held lock; releasing twice is harmless.
public protocol StorageLock: Sendable {
    func release() async

    /// Proves the lock is still held, right before a step that must never run without it:
    /// a backup's manifest (an expire running meanwhile could have removed its packs) and
    /// expire's deletions. Throws when the lock was lost; an S3 lease whose renewal was merely
    /// late is renewed here.
    func confirm() async throws
}

extension Storage {
    public func delete(_ names: [String]) async throws {
        for name in names { try await delete(name) }
    }

    /// Runs `body` holding the lock `name`, and releases it however `body` ends, also when
    /// the task was cancelled: the release runs in a task of its own, since in a cancelled
    /// one the HTTP client would refuse the DELETE of an S3 lease and leave it to expire.
    public func withLock<T: Sendable>(_ name: String, owner: String, _ body: (any StorageLock) async throws -> T) async throws -> T {
        let held = try await lock(name, owner: owner)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(held))
        } catch {
            result = .failure(error)
        }
        await Task(executorPreference: BlockingExecutor.shared) { await held.release() }.value
        return try result.get()
    }

    /// Validates a relative object name so it can never escape the repository.
    static func checkName(_ name: String) throws {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !name.hasPrefix("/"),
              parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.hasPrefix(".") }) else {
            throw StorageError(.invalidName, "invalid object name '\(name)'")
        }
    }
}

/// An object name, its size in bytes and when it was last written, as a listing reports them.
public struct ListedObject: Sendable, Equatable {
    public var name: String
    public var size: Int64
    /// By the store's clock (S3's LastModified, the file's mtime); nil when not reported.
    public var modified: Date?

    public init(name: String, size: Int64, modified: Date? = nil) {
        self.name = name
        self.size = size
        self.modified = modified
    }
}
