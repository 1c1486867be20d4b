/// `vault archive-push %p`: PostgreSQL's archive_command. Exits 0 only once the file is
/// durable in the repository.
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
    }

    /// Pushes the file at `path` (relative to the data directory, as PostgreSQL passes `%p`).
    public func run(path: String) async throws -> Result {
        let baseName = String(path.split(separator: "/").last ?? "")
        guard let file = WALFileName(baseName) else {
            throw VaultError(.usage, "'\(baseName)' is not a WAL segment, history or backup file name")
        }
        let contents = try FileIO.read(path)
        // Compression is most of the work: start it at once, on both cores for a full
        // segment, while the repository is opened and the key derived.
        let level = policy.compression.level
        let compressing = Task.detached { () throws -> ObjectEnvelope.PreparedBody in
            let workers: Int32 = contents.count >= 4 << 20 ? 2 : 0
            return try ObjectEnvelope.prepare(contents, level: level, compressor: ZstdCompressor(level: level, workers: workers))
        }
        let repository: Repository
        let record: ShardRecord
        do {
            repository = try await RepositoryOpener.open(policy)
            record = try await repository.shardRecord(shard.name)
        } catch {
            compressing.cancel()
            throw error
        }
        let archive = WALArchive(repository: repository, record: record)
        let outcome = try await archive.push(file, contents: contents, prepared: try await compressing.value)
        return Result(file: file.text, bytes: contents.count, outcome: outcome)
    }
}
