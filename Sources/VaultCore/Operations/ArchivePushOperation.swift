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
        let repository = try await RepositoryOpener.open(policy)
        let archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name))
        // Spread one segment's compression over both cores: it is the bulk of the work.
        let compressor = try ZstdCompressor(level: policy.compression.level, workers: contents.count >= 4 << 20 ? 2 : 0)
        let outcome = try await archive.push(file, contents: contents, compressor: compressor)
        return Result(file: file.text, bytes: contents.count, outcome: outcome)
    }
}
