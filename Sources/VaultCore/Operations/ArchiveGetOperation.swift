#if canImport(Glibc)
import Glibc
#endif

/// `vault archive-get %f %p`: PostgreSQL's restore_command.
///
/// With `archive.get_ahead: N` (default 8), a segment that is not already prefetched is
/// fetched together with up to N following segments of its timeline, in parallel; the
/// followers wait in `pg_wal/vault_prefetch`, and PostgreSQL's next requests are answered
/// from there by a rename, without opening the repository. Entries PostgreSQL has moved past
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
        case archive(bytes: Int, prefetched: Int)
    }

    /// Fetches `fileName` into `destination`, written to a temporary name and renamed so
    /// PostgreSQL never reads a half-written segment.
    public func run(fileName: String, destination: String) async throws -> Source {
        guard let file = WALFileName(fileName) else {
            throw VaultError(.usage, "'\(fileName)' is not a WAL segment, history or backup file name")
        }
        let spool = SpoolDirectory(FileIO.parentDirectory(of: destination) + "/vault_prefetch")
        let ahead = file.kind == .segment ? policy.archive.getAhead : 0
        if ahead > 0 && spool.take(file.text, to: destination) {
            spool.removeOlder(than: file.text)
            return .prefetched
        }
        do {
            let repository = try await RepositoryOpener.open(policy)
            let archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name))
            let bytes = try await archive.get(file)
            let tmp = destination + ".vault-part"
            try FileIO.writeDurably(tmp, bytes, mode: 0o600)
            try FileIO.rename(tmp, to: destination)
            var prefetched = 0
            if ahead > 0 {
                spool.removeOlder(than: file.text)
                prefetched = await prefetch(after: file, count: ahead, from: archive, into: spool)
            }
            return .archive(bytes: bytes.count, prefetched: prefetched)
        } catch let e as VaultError where e.kind == .notFound {
            spool.clear()
            throw e
        }
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
                    while let next = await work.next() {
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
