/// `vault archive-get %f %p`: PostgreSQL's restore_command.
public struct ArchiveGetOperation {
    public let policy: Policy
    public let shard: ShardPolicy

    public init(policy: Policy, shard: ShardPolicy) {
        self.policy = policy
        self.shard = shard
    }

    /// Fetches `fileName` into `destination`, written to a temporary name and renamed so
    /// PostgreSQL never reads a half-written segment.
    public func run(fileName: String, destination: String) async throws -> Int {
        guard let file = WALFileName(fileName) else {
            throw VaultError(.usage, "'\(fileName)' is not a WAL segment, history or backup file name")
        }
        let repository = try await RepositoryOpener.open(policy)
        let archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name))
        let bytes = try await archive.get(file)
        let tmp = destination + ".vault-part"
        try FileIO.writeDurably(tmp, bytes, mode: 0o600)
        try FileIO.rename(tmp, to: destination)
        return bytes.count
    }
}
