#if canImport(Glibc)
import Glibc
#endif
import VaultSupport
import VaultSystem
import VaultPostgres
import VaultPolicy
import VaultFormat

/// `vault archive-get %f %p`: PostgreSQL's restore_command.
///
/// With `archive.get_ahead: N` (default 8), segments are fetched ahead into
/// `pg_wal/vault_prefetch` by a background worker (`PrefetchWorker`) while PostgreSQL replays,
/// and PostgreSQL's requests are answered from there by a rename, without opening the
/// repository. When the spool runs low (fewer than N/2 segments ahead) and no worker runs, a
/// new one is started for the next N. A segment not in the spool is fetched directly (after
/// waiting for a running worker that may be bringing it). Entries PostgreSQL has moved past
/// are dropped as it goes, and the whole spool is removed when it asks for something the
/// archive does not have (the end of archived WAL, or the history probe at promotion).
public struct ArchiveGetOperation {
    public let policy: Policy
    public let shard: ShardPolicy

    public init(policy: Policy, shard: ShardPolicy) {
        self.policy = policy
        self.shard = shard
    }

    /// What answered a request.
    public enum Source: Sendable, Equatable {
        case prefetched
        case archive(bytes: Int)
        /// The repository was opened, the shard's record read, and the storage answered that
        /// this file's object does not exist: the end of archived WAL. Nothing else (a missing
        /// repository, shard record or passphrase file, an unreachable store) ever answers
        /// this, so PostgreSQL cannot take a failure for the end of the archive and promote.
        case notArchived
    }

    /// Fetches `fileName` into `destination`, written to a temporary name and renamed so
    /// PostgreSQL never reads a half-written segment.
    public func run(fileName: String, destination: String) async throws -> Source {
        guard let file = WALFileName(fileName) else {
            throw OperationError(.usage, "'\(fileName)' is not a WAL segment, history or backup file name")
        }
        let spool = SpoolDirectory(FileIO.parentDirectory(of: destination) + "/vault_prefetch")
        let worker = PrefetchWorker(spool: spool)
        let ahead = file.kind == .segment ? policy.archive.getAhead : 0
        if ahead > 0 && (spool.has(file.text) || worker.waitFor(file.text)) && spool.take(file.text, to: destination) {
            spool.removeOlder(than: file.text)
            refill(after: file, ahead: ahead, spool: spool)
            return .prefetched
        }
        let repository = try await RepositoryOpener.open(policy)
        let archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name))
        guard let bytes = try await archive.fetch(file) else {
            worker.clearSpool()
            return .notArchived
        }
        let tmp = destination + ".vault-part"
        try FileIO.writeDurably(tmp, bytes, mode: 0o600)
        try FileIO.rename(tmp, to: destination)
        if ahead > 0 {
            spool.removeOlder(than: file.text)
            refill(after: file, ahead: ahead, spool: spool)
        }
        return .archive(bytes: bytes.count)
    }

    /// Starts a worker for the segments after `file` when the spool runs low and none runs.
    private func refill(after file: WALFileName, ahead: Int, spool: SpoolDirectory) {
        guard spool.count(after: file.text) < max(1, ahead / 2) else { return }
        PrefetchWorker.start(policy: policy, shard: shard.name, after: file.text, spool: spool)
    }

    /// The worker's job (`archive-get --prefetch <segment> <spool>`): fetch up to `get_ahead`
    /// segments after `fileName` into the spool, unless another worker holds the spool.
    public func prefetch(after fileName: String, spoolDirectory: String) async throws -> Int {
        guard let file = WALFileName(fileName), file.kind == .segment else {
            throw OperationError(.usage, "'\(fileName)' is not a WAL segment name")
        }
        let spool = SpoolDirectory(spoolDirectory)
        let lock = SpoolLock(spool: spool)
        guard let fd = lock.acquireAsWorker() else { return 0 }
        defer { lock.unlock(fd) }
        let repository = try await RepositoryOpener.open(policy)
        let archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name))
        return await prefetch(after: file, count: max(1, policy.archive.getAhead), from: archive, into: spool)
    }

    /// Fetches the next `count` segments of `file`'s timeline in parallel into the spool and
    /// returns how many it stored. A segment that is missing or unreadable is skipped: when
    /// PostgreSQL asks for it, the normal path reports it.
    private func prefetch(after file: WALFileName, count: Int, from archive: WALArchive, into spool: SpoolDirectory) async -> Int {
        let size = archive.record.walSegmentSize
        guard let number = file.segmentNumber(segmentSize: size) else { return 0 }
        let names = (1...count).compactMap { WALFileName(WALFileName.segment(timeline: file.timeline, number: number + UInt64($0), segmentSize: size)) }
            .filter { !spool.has($0.text) }
        let work = WorkQueue(names)
        return await withTaskGroup(of: Int.self) { group in
            for _ in 0..<min(names.count, max(2, shard.settings.parallel)) {
                group.addTask {
                    var stored = 0
                    while let next = work.next() {
                        guard let bytes = try? await archive.get(next) else { continue }
                        if (try? spool.store(next.text, bytes)) != nil { stored += 1 }
                    }
                    return stored
                }
            }
            return await group.reduce(0, +)
        }
    }
}
