import VaultSupport
import VaultPostgres

/// A backup: the complete list of the cluster's files and, for each, where its bytes are
/// stored. An incremental manifest is complete on its own: it points at older extents for
/// unchanged data, so restore needs this one manifest and reads each stored byte once.
///
/// In memory a manifest is its `head` (what listing, retention and recovery planning read)
/// and its body (`files`, `extents`). In the repository (format 2, `ManifestStore`) the body
/// is stored first in chunks and the head last, so a backup exists only once everything it
/// references is durable, and a listing reads heads only.
@dynamicMemberLookup
public struct BackupManifest: Codable, Sendable {
    public enum Kind: String, Codable, Sendable {
        case full
        case incremental
    }

    public var head: BackupHead
    public var files: [File]
    /// Every stored extent any file of this backup reads from, by index.
    public var extents: [Extent]

    public subscript<T>(dynamicMember path: WritableKeyPath<BackupHead, T>) -> T {
        get { head[keyPath: path] }
        set { head[keyPath: path] = newValue }
    }

    public init(head: BackupHead, files: [File], extents: [Extent]) {
        self.head = head
        self.files = files
        self.extents = extents
    }

    private enum BodyKeys: String, CodingKey { case files, extents }

    /// Format 1 stores head and body as one flat object.
    public init(from decoder: any Decoder) throws {
        head = try BackupHead(from: decoder)
        let body = try decoder.container(keyedBy: BodyKeys.self)
        files = try body.decode([File].self, forKey: .files)
        extents = try body.decode([Extent].self, forKey: .extents)
    }

    public func encode(to encoder: any Encoder) throws {
        try head.encode(to: encoder)
        var body = encoder.container(keyedBy: BodyKeys.self)
        try body.encode(files, forKey: .files)
        try body.encode(extents, forKey: .extents)
    }

    public struct ChecksumFailure: Codable, Sendable, Equatable {
        public var path: String
        public var blocks: [UInt32]

        public init(path: String, blocks: [UInt32]) {
            self.path = path
            self.blocks = blocks
        }
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

        public init(path: String, mode: UInt32) {
            self.path = path
            self.mode = mode
        }
    }

    public struct File: Codable, Sendable {
        public var path: String
        public var size: Int64
        public var mode: UInt32
        public var mtime: Int64
        /// Byte ranges of the file and where each comes from, in file order, covering it whole.
        public var pieces: [Piece]

        public init(path: String, size: Int64, mode: UInt32, mtime: Int64, pieces: [Piece]) {
            self.path = path
            self.size = size
            self.mode = mode
            self.mtime = mtime
            self.pieces = pieces
        }
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

        public init(fileOffset: Int64, length: Int64, extent: Int, extentOffset: Int64) {
            self.fileOffset = fileOffset
            self.length = length
            self.extent = extent
            self.extentOffset = extentOffset
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

        public init(pack: String, offset: Int64, storedLength: Int64, rawLength: Int64, sha256: String) {
            self.pack = pack
            self.offset = offset
            self.storedLength = storedLength
            self.rawLength = rawLength
            self.sha256 = sha256
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

        public init(databaseBytes: Int64, bytesRead: Int64, bytesStoredNew: Int64, bytesReferenced: Int64, files: Int, seconds: Double) {
            self.databaseBytes = databaseBytes
            self.bytesRead = bytesRead
            self.bytesStoredNew = bytesStoredNew
            self.bytesReferenced = bytesReferenced
            self.files = files
            self.seconds = seconds
        }
    }

    public static func objectName(shard: String, id: String) -> String { "\(shard)/backups/\(id).manifest" }

    /// Names of the packs this backup needs.
    public var packs: Set<String> { Set(extents.map(\.pack)) }

    public init(format: Int = ManifestStore.currentFormat, id: String, kind: Kind, parent: String? = nil, shard: String, systemIdentifier: String, versionNumber: Int, node: String, startTime: String, stopTime: String, startEpoch: Int64, startLSN: LSN, stopLSN: LSN, timeline: UInt32, walStart: String, walStop: String, walComplete: Bool, backupLabel: String, tablespaceMap: String? = nil, tablespaces: [Tablespace], directories: [Directory], files: [File], extents: [Extent], stats: Stats, checksumFailures: [ChecksumFailure]? = nil) {
        head = BackupHead(format: format, id: id, kind: kind, parent: parent, shard: shard, systemIdentifier: systemIdentifier, versionNumber: versionNumber,
                          node: node, startTime: startTime, stopTime: stopTime, startEpoch: startEpoch, startLSN: startLSN, stopLSN: stopLSN,
                          timeline: timeline, walStart: walStart, walStop: walStop, walComplete: walComplete, backupLabel: backupLabel,
                          tablespaceMap: tablespaceMap, tablespaces: tablespaces, directories: directories, stats: stats, checksumFailures: checksumFailures)
        self.files = files
        self.extents = extents
    }
}
