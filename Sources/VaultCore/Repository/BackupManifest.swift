/// A backup: the complete list of the cluster's files and, for each, where its bytes are
/// stored. Written last (`<shard>/backups/<id>.manifest`, sealed like every object), so a
/// backup exists only once everything it references is durable. An incremental manifest is
/// complete on its own: it points at older extents for unchanged data, so restore needs this
/// one manifest and reads each stored byte once.
public struct BackupManifest: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case full
        case incremental
    }

    public var format: Int
    public var id: String
    public var kind: Kind
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
    public var tablespaces: [Tablespace]
    public var directories: [Directory]
    public var files: [File]
    /// Every stored extent any file of this backup reads from, by index.
    public var extents: [Extent]
    public var stats: Stats
    /// Pages whose data checksum was wrong when read (nil or empty: none, or checksums off).
    public var checksumFailures: [ChecksumFailure]?

    public struct ChecksumFailure: Codable, Sendable, Equatable {
        public var path: String
        public var blocks: [UInt32]
    }

    public struct Tablespace: Codable, Sendable, Equatable {
        public var oid: String
        public var location: String

        public init(oid: String, location: String) {
            self.oid = oid
            self.location = location
        }
    }

    public struct Directory: Codable, Sendable {
        public var path: String
        public var mode: UInt32
    }

    public struct File: Codable, Sendable {
        public var path: String
        public var size: Int64
        public var mode: UInt32
        public var mtime: Int64
        /// Byte ranges of the file and where each comes from, in file order, covering it whole.
        public var pieces: [Piece]
    }

    /// `length` bytes at `fileOffset` come from extent `extent`, starting `extentOffset` bytes
    /// into its plaintext.
    public struct Piece: Codable, Sendable, Equatable {
        public var fileOffset: Int64
        public var length: Int64
        public var extent: Int
        public var extentOffset: Int64

        enum CodingKeys: String, CodingKey {
            case fileOffset = "o", length = "l", extent = "e", extentOffset = "eo"
        }
    }

    /// A sealed run of bytes inside a pack object.
    public struct Extent: Codable, Sendable, Hashable {
        public var pack: String
        public var offset: Int64
        public var storedLength: Int64
        public var rawLength: Int64
        /// SHA-256 (hex) of the plaintext.
        public var sha256: String

        enum CodingKeys: String, CodingKey {
            case pack = "p", offset = "o", storedLength = "s", rawLength = "r", sha256 = "h"
        }
    }

    public struct Stats: Codable, Sendable {
        /// Bytes of all files in the cluster.
        public var databaseBytes: Int64
        /// Bytes read from the data directory by this backup.
        public var bytesRead: Int64
        /// Bytes this backup added to the repository (new extents).
        public var bytesStoredNew: Int64
        /// Stored bytes of older extents this backup refers to.
        public var bytesReferenced: Int64
        public var files: Int
        public var seconds: Double
    }

    public static func objectName(shard: String, id: String) -> String { "\(shard)/backups/\(id).manifest" }

    /// Names of the packs this backup needs.
    public var packs: Set<String> { Set(extents.map(\.pack)) }
}

extension Repository {
    /// Every backup of a shard, oldest first.
    public func backups(shard: String) async throws -> [BackupManifest] {
        let names = try await storage.list(prefix: "\(shard)/backups").filter { $0.hasSuffix(".manifest") }
        var out: [BackupManifest] = []
        for name in names {
            guard let bytes = try await read(name) else { continue }
            out.append(try JSONCoding.decode(BackupManifest.self, from: bytes, what: name))
        }
        return out.sorted { $0.id < $1.id }
    }
}
