import VaultSupport
import VaultPostgres

/// `<shard>/shard.json` (encrypted): which PostgreSQL cluster a shard's backups and WAL
/// belong to. Written once by `vault init`; everything that adds to the shard checks it.
public struct ShardRecord: Codable, Sendable, Equatable {
    public var shard: String
    public var systemIdentifier: String
    public var versionNumber: Int
    public var walSegmentSize: UInt64
    public var created: String

    public static func objectName(_ shard: String) -> String { "\(shard)/shard.json" }

    public init(shard: String, identity: ClusterIdentity, created: String) {
        self.shard = shard
        self.systemIdentifier = String(identity.systemIdentifier)
        self.versionNumber = identity.versionNumber
        self.walSegmentSize = identity.walSegmentSize
        self.created = created
    }

    public var majorVersion: Int { versionNumber / 10000 }

    /// Refuses a cluster that is not the one this shard was initialised for.
    public func requireSameCluster(_ identity: ClusterIdentity, node: String) throws {
        guard systemIdentifier == String(identity.systemIdentifier) else {
            throw FormatError(.refused, "shard \(shard) in the repository belongs to cluster \(systemIdentifier), but \(node) is cluster \(identity.systemIdentifier)")
        }
        guard majorVersion == identity.majorVersion else {
            throw FormatError(.refused, "shard \(shard) holds PostgreSQL \(majorVersion), but \(node) runs PostgreSQL \(identity.majorVersion)")
        }
    }
}

extension Repository {
    /// The shard's record, or a clear error when the shard was never initialised.
    public func shardRecord(_ shard: String) async throws -> ShardRecord {
        guard let bytes = try await read(ShardRecord.objectName(shard)) else {
            // A shard with backups but no record lost it: init would write a new one for
            // whatever cluster answers now, so the record is named as missing instead.
            if try await !storage.list(prefix: "\(shard)/backups/").isEmpty {
                throw FormatError(.corrupt, "\(ShardRecord.objectName(shard)) is missing from \(storage.location), though the shard has backups: put it back from a copy of the repository")
            }
            throw FormatError(.notFound, "shard \(shard) is not initialised in \(storage.location) (run 'vault init --shard \(shard)')")
        }
        return try JSONCoding.decode(ShardRecord.self, from: bytes, what: "shard record of \(shard)")
    }
}
