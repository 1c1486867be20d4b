#if canImport(Glibc)
import Glibc
#endif
import VaultSystem
import VaultCompression
import VaultPostgres
import VaultPolicy
import VaultFormat

/// `vault archive-push %p`: PostgreSQL's archive_command. Exits 0 only once the file is
/// durable in the repository.
///
/// With `archive.push_ahead: N`, it also pushes up to N following segments that PostgreSQL
/// has already marked `.ready`, in parallel, and leaves a marker (the segment's SHA-256) in the
/// spool for each; when PostgreSQL then asks for one of them, vault checks the file against its
/// marker and answers at once. A marker is written only after its segment is durable in the
/// repository, so a lost marker costs a second (idempotent) push and never a lost segment.
public struct ArchivePushOperation {
    public let policy: Policy
    public let shard: ShardPolicy

    public init(policy: Policy, shard: ShardPolicy) {
        self.policy = policy
        self.shard = shard
    }

    public struct Result: Sendable {
        public var file: String
        public var bytes: Int
        public var outcome: WALArchive.PushOutcome
        /// Following segments pushed ahead by this call.
        public var pushedAhead: [String]
        /// Whether this segment had been pushed ahead by an earlier call.
        public var fromSpool: Bool
    }

    /// Pushes the file at `path` (relative to the data directory, as PostgreSQL passes `%p`).
    public func run(path: String) async throws -> Result {
        let baseName = String(path.split(separator: "/").last ?? "")
        guard let file = WALFileName(baseName) else {
            throw OperationError(.usage, "'\(baseName)' is not a WAL segment, history or backup file name")
        }
        let contents = try FileIO.read(path)
        let walDir = FileIO.parentDirectory(of: path)
        let spool = SpoolMarkers(spool: SpoolDirectory(policy.archive.spool ?? walDir + "/vault_spool"),
                                 scope: "repository \(policy.repository.identity), shard \(shard.name)")
        let ahead = policy.archive.pushAhead
        if ahead > 0, try spool.matches(file.text, contents) {
            spool.spool.remove(file.text)
            return Result(file: file.text, bytes: contents.count, outcome: .alreadyArchived, pushedAhead: [], fromSpool: true)
        }
        let followers = ahead > 0 ? try Self.readySegments(after: file.text, in: walDir, limit: ahead, skipping: spool) : []
        let level = policy.walCompressionLevel
        // Compression is most of the work: start it at once, on both cores for a lone segment,
        // while the repository is opened and the key derived.
        let compressing = Task(executorPreference: BlockingExecutor.shared) { () throws -> ObjectEnvelope.PreparedBody in
            let workers: Int32 = contents.count >= 4 << 20 && followers.isEmpty ? 2 : 0
            return try ObjectEnvelope.prepare(contents, level: level, compressor: ZstdCompressor(level: level, workers: workers))
        }
        let archive: WALArchive
        do {
            let repository = try await RepositoryOpener.open(policy)
            archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name), compressionLevel: level)
        } catch {
            compressing.cancel()
            throw error
        }
        // The followers go in parallel with this segment; their failures only cost a later push.
        let pushed = await withTaskGroup(of: String?.self) { group in
            for name in followers {
                group.addTask {
                    guard let f = WALFileName(name), let bytes = try? FileIO.read(walDir + "/" + name),
                          (try? await archive.push(f, contents: bytes)) != nil else { return nil }
                    try? spool.record(name, bytes)
                    return name
                }
            }
            var done: [String] = []
            for await name in group { if let name { done.append(name) } }
            return done
        }
        let outcome = try await archive.push(file, contents: contents, prepared: try await compressing.value)
        spool.spool.removeOlder(than: file.text)
        return Result(file: file.text, bytes: contents.count, outcome: outcome, pushedAhead: pushed.sorted(), fromSpool: false)
    }

    /// Segments after `name` that PostgreSQL has marked ready, oldest first.
    static func readySegments(after name: String, in walDir: String, limit: Int, skipping spool: SpoolMarkers) throws -> [String] {
        let status = walDir + "/archive_status"
        guard FileIO.exists(status) else { return [] }
        let ready = try FileIO.list(status)
            .filter { $0.hasSuffix(".ready") }
            .map { String($0.dropLast(".ready".count)) }
            .filter { $0 > name && WALFileName($0)?.kind == .segment && !spool.spool.has($0) }
            .sorted()
        return Array(ready.prefix(limit))
    }
}
