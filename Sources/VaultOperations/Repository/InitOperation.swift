import VaultSupport
import VaultPostgres
import VaultPolicy
import VaultFormat

/// `vault init`: creates the repository if it does not exist, then records each shard's
/// cluster identity (read from its primary) so later WAL and backups can be checked.
public struct InitOperation {
    public let policy: Policy

    public init(policy: Policy) { self.policy = policy }

    public struct ShardResult: Sendable, Encodable {
        public var shard: String
        public var systemIdentifier: String
        public var majorVersion: Int
        public var created: Bool
    }

    public struct Result: Sendable, Encodable {
        public var repositoryCreated: Bool
        public var location: String
        public var encrypted: Bool
        public var shards: [ShardResult]
    }

    public func run(shards: [ShardPolicy]) async throws -> Result {
        let storage = try RepositoryOpener.storage(for: policy)
        let repository: Repository
        var created = false
        if try await storage.exists(RepositoryConfig.objectName) {
            repository = try await RepositoryOpener.open(policy)
            try await storage.probeConditionalWrites()
        } else {
            let secret = try KeySecretLoader.load(policy.encryption)
            // Before the repository is written: a store that ignores conditional writes
            // cannot hold one safely.
            try await storage.probeConditionalWrites()
            repository = try await Repository.create(storage: storage, secret: secret, compressionLevel: policy.compression.level)
            RepositoryOpener.remember(repository, for: policy)
            created = true
        }
        var results: [ShardResult] = []
        for shard in shards {
            let (node, conn) = try NodeDiscovery.connectPrimary(shard)
            let identity = try ClusterIdentity.read(from: conn)
            let name = ShardRecord.objectName(shard.name)
            if let existing = try await repository.read(name) {
                let record = try JSONCoding.decode(ShardRecord.self, from: existing, what: "shard record of \(shard.name)")
                try record.requireSameCluster(identity, node: "node \(node.name)")
                results.append(ShardResult(shard: shard.name, systemIdentifier: record.systemIdentifier, majorVersion: record.majorVersion, created: false))
                continue
            }
            let record = ShardRecord(shard: shard.name, identity: identity, created: Timestamp.now())
            guard try await repository.writeIfAbsent(name, try JSONCoding.encode(record)) else {
                throw OperationError(.refused, "shard \(shard.name) was initialised concurrently by another process; run init again")
            }
            results.append(ShardResult(shard: shard.name, systemIdentifier: record.systemIdentifier, majorVersion: record.majorVersion, created: true))
        }
        return Result(repositoryCreated: created, location: storage.location, encrypted: repository.config.isEncrypted, shards: results)
    }
}
