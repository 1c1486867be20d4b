import VaultFormat

/// The stable JSON shape of one backup in `vault list --json` and `vault backup --json`.
public struct BackupSummary: Encodable, Sendable {
    public var id: String
    public var type: String
    public var parent: String?
    public var shard: String
    public var node: String
    public var startTime: String
    public var stopTime: String
    public var startLSN: String
    public var stopLSN: String
    public var timeline: UInt32
    public var databaseBytes: Int64
    public var bytesRead: Int64
    public var bytesStoredNew: Int64
    public var bytesReferenced: Int64
    public var files: Int
    public var seconds: Double
    public var walStart: String
    public var walStop: String
    public var walComplete: Bool
    /// Pages whose data checksum failed while the backup read them.
    public var pageChecksumFailures: Int
    /// The newest `vault verify` of this backup, if any.
    public var lastVerification: VerificationSummary?

    public init(_ m: BackupHead, walComplete: Bool? = nil, verification: VerificationRecord? = nil) {
        id = m.id
        type = m.kind.rawValue
        parent = m.parent
        shard = m.shard
        node = m.node
        startTime = m.startTime
        stopTime = m.stopTime
        startLSN = m.startLSN.description
        stopLSN = m.stopLSN.description
        timeline = m.timeline
        databaseBytes = m.stats.databaseBytes
        bytesRead = m.stats.bytesRead
        bytesStoredNew = m.stats.bytesStoredNew
        bytesReferenced = m.stats.bytesReferenced
        files = m.stats.files
        seconds = m.stats.seconds
        walStart = m.walStart
        walStop = m.walStop
        self.walComplete = walComplete ?? m.walComplete
        pageChecksumFailures = m.checksumFailures?.reduce(0) { $0 + $1.blocks.count } ?? 0
        lastVerification = verification.map(VerificationSummary.init)
    }
}
