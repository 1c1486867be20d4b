import Foundation
import VaultSupport
import VaultPostgres
import VaultPolicy
import VaultFormat

/// `vault check`: what an operator runs after setting up archiving. Confirms the primary
/// archives through vault and that a freshly switched segment arrives in the repository.
public struct CheckOperation {
    public let policy: Policy
    public let shard: ShardPolicy
    public let timeoutSeconds: Double

    public init(policy: Policy, shard: ShardPolicy, timeoutSeconds: Double = 60) {
        self.policy = policy
        self.shard = shard
        self.timeoutSeconds = timeoutSeconds
    }

    public struct Result: Sendable, Encodable {
        public var shard: String
        public var node: String
        public var archiveMode: String
        public var segment: String
        public var seconds: Double
    }

    public func run() async throws -> Result {
        let repository = try await RepositoryOpener.open(policy)
        // Leases and write-once objects rely on the store refusing a failed condition.
        try await repository.storage.probeConditionalWrites()
        let record = try await repository.shardRecord(shard.name)
        let (node, conn) = try NodeDiscovery.connectPrimary(shard)
        try record.requireSameCluster(try ClusterIdentity.read(from: conn), node: "node \(node.name)")

        let settings = try ArchivingSettings.read(conn)
        if let problem = settings.problem(node: node.name) { throw OperationError(.checkFailed, problem) }
        let started = Date()
        // A restore point guarantees an important WAL record since the last switch; without
        // one, PostgreSQL may skip the switch and the current segment would never complete.
        try conn.query("SELECT pg_create_restore_point('vault check')")
        let segment = try conn.scalar("SELECT pg_walfile_name(pg_switch_wal())")
        try await WALArrival.wait(for: segment, node: node.name, conn: conn, archive: WALArchive(repository: repository, record: record),
                                  since: started, timeout: timeoutSeconds)
        return Result(shard: shard.name, node: node.name, archiveMode: settings.mode, segment: segment, seconds: Date().timeIntervalSince(started))
    }
}
