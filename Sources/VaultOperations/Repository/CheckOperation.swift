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
        guard let file = WALFileName(segment) else {
            throw OperationError(.database, "node \(node.name) returned an unexpected WAL file name '\(segment)'")
        }
        let archive = WALArchive(repository: repository, record: record)
        let name = archive.objectName(file)
        while true {
            if try await repository.storage.exists(name) {
                _ = try await archive.get(file)
                return Result(shard: shard.name, node: node.name, archiveMode: settings.mode, segment: segment, seconds: Date().timeIntervalSince(started))
            }
            let failed = try conn.query("SELECT last_failed_wal, last_failed_time > $1::timestamptz FROM pg_stat_archiver", [Timestamp.format(started.addingTimeInterval(-1))])
            if let row = failed.first, row.count == 2, row[0] == segment, row[1] == "t" {
                throw OperationError(.checkFailed, "node \(node.name): archive_command failed for \(segment); the PostgreSQL log has vault's error line")
            }
            if Date().timeIntervalSince(started) > timeoutSeconds {
                throw OperationError(.checkFailed, "node \(node.name): \(segment) did not reach the repository within \(Int(timeoutSeconds)) s")
            }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
    }
}
