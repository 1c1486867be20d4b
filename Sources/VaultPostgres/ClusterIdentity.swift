/// What makes a PostgreSQL cluster itself: vault records it per shard and refuses WAL or
/// backups from any other cluster.
public struct ClusterIdentity: Sendable, Equatable {
    public var systemIdentifier: UInt64
    public var versionNumber: Int
    public var walSegmentSize: UInt64

    public var majorVersion: Int { versionNumber / 10000 }

    public init(systemIdentifier: UInt64, versionNumber: Int, walSegmentSize: UInt64) {
        self.systemIdentifier = systemIdentifier
        self.versionNumber = versionNumber
        self.walSegmentSize = walSegmentSize
    }

    /// Reads the identity of the cluster behind `connection`.
    public static func read(from connection: PostgresConnection) throws -> ClusterIdentity {
        let sysid = try connection.scalar("SELECT system_identifier::text FROM pg_control_system()")
        let segSize = try connection.scalar("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'")
        guard let id = UInt64(sysid), let seg = UInt64(segSize) else {
            throw PostgresError(.unexpectedAnswer, "\(connection.label): unexpected system identifier or wal_segment_size")
        }
        // wal_segment_size is reported in bytes from PostgreSQL 11 on.
        return ClusterIdentity(systemIdentifier: id, versionNumber: connection.serverVersionNumber, walSegmentSize: seg)
    }
}
