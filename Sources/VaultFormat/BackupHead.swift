import VaultPostgres

/// What a backup is, without the list of its files: identity, LSNs and WAL range, label,
/// tablespaces, directories and figures. Listing, retention, status and recovery planning read
/// heads only, so their memory does not grow with the size of the cluster.
///
/// In format 2 the head is the `<id>.manifest` object and also names the body's chunks (with
/// their SHA-256, so a chunk from elsewhere is refused) and the packs the backup needs (so
/// expire learns what a backup keeps without reading its body).
public struct BackupHead: Codable, Sendable {
    public var format: Int
    public var id: String
    public var kind: BackupManifest.Kind
    public var parent: String?
    public var shard: String
    public var systemIdentifier: String
    public var versionNumber: Int
    public var node: String
    public var startTime: String
    public var stopTime: String
    /// Start time in seconds since 1970, for the incremental mtime rule.
    public var startEpoch: Int64
    public var startLSN: LSN
    public var stopLSN: LSN
    public var timeline: UInt32
    /// First and last WAL segment the backup needs to be consistent.
    public var walStart: String
    public var walStop: String
    /// Whether every WAL segment from `walStart` to `walStop` was in the archive when the
    /// backup finished.
    public var walComplete: Bool
    public var backupLabel: String
    public var tablespaceMap: String?
    public var tablespaces: [BackupManifest.Tablespace]
    public var directories: [BackupManifest.Directory]
    public var stats: BackupManifest.Stats
    /// Pages whose data checksum was wrong when read (nil or empty: none, or checksums off).
    public var checksumFailures: [BackupManifest.ChecksumFailure]?
    /// Format 2: the body's chunks, in order (nil in format 1, whose body is inline).
    public var chunks: [ManifestStore.ChunkRef]?
    /// Format 2: names of the packs the backup reads from, sorted (nil in format 1, and in
    /// heads listed without them).
    public var packNames: [String]?

    enum CodingKeys: String, CodingKey {
        case format, id, kind, parent, shard, systemIdentifier, versionNumber, node, startTime, stopTime, startEpoch, startLSN, stopLSN,
             timeline, walStart, walStop, walComplete, backupLabel, tablespaceMap, tablespaces, directories, stats, checksumFailures, chunks
        case packNames = "packs"
    }

    public init(format: Int, id: String, kind: BackupManifest.Kind, parent: String?, shard: String, systemIdentifier: String, versionNumber: Int,
                node: String, startTime: String, stopTime: String, startEpoch: Int64, startLSN: LSN, stopLSN: LSN, timeline: UInt32,
                walStart: String, walStop: String, walComplete: Bool, backupLabel: String, tablespaceMap: String?,
                tablespaces: [BackupManifest.Tablespace], directories: [BackupManifest.Directory], stats: BackupManifest.Stats,
                checksumFailures: [BackupManifest.ChecksumFailure]?) {
        self.format = format
        self.id = id
        self.kind = kind
        self.parent = parent
        self.shard = shard
        self.systemIdentifier = systemIdentifier
        self.versionNumber = versionNumber
        self.node = node
        self.startTime = startTime
        self.stopTime = stopTime
        self.startEpoch = startEpoch
        self.startLSN = startLSN
        self.stopLSN = stopLSN
        self.timeline = timeline
        self.walStart = walStart
        self.walStop = walStop
        self.walComplete = walComplete
        self.backupLabel = backupLabel
        self.tablespaceMap = tablespaceMap
        self.tablespaces = tablespaces
        self.directories = directories
        self.stats = stats
        self.checksumFailures = checksumFailures
    }
}
