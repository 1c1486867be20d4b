import VaultSupport
import VaultSystem

/// `global/pg_control` as read from a data directory: its bytes, proved whole by their CRC, and
/// the cluster's system identifier.
///
/// The CRC covers the control data up to the CRC field, whose offset differs between
/// PostgreSQL versions; rather than carry a table of layouts, the reader finds the one 4-byte
/// aligned offset at which the CRC of everything before it is stored. A torn or foreign file
/// matches at none (a chance match is about one in 2^32 per candidate).
public struct ControlFile: Sendable {
    public static let path = "global/pg_control"
    /// Candidate CRC offsets: past the fixed header fields, within the first sector.
    static let crcOffsets = stride(from: 64, through: 508, by: 4)

    public let bytes: [UInt8]
    public let systemIdentifier: UInt64

    /// `DBState` values of `ControlFileData.state` (the same from PostgreSQL 9.6 to 18).
    public enum ClusterState: UInt32, Sendable {
        case startingUp = 0, shutDown, shutDownInRecovery, shuttingDown, inCrashRecovery, inArchiveRecovery, inProduction
    }

    /// The cluster's state: `shutDown` after a clean stop of a primary.
    /// Layout (every version vault supports): system_identifier (8 bytes), pg_control_version
    /// (4), catalog_version_no (4), state (4, then 4 of padding), time (8), checkPoint (8).
    public var state: ClusterState? { ClusterState(rawValue: bytes.readLE(UInt32.self, at: 16)) }

    /// The location of the latest checkpoint record: after a clean stop, the shutdown
    /// checkpoint, the last record the server wrote.
    public var checkpoint: LSN { LSN(bytes.readLE(UInt64.self, at: 32)) }

    /// The latest checkpoint's timeline: `checkPointCopy.ThisTimeLineID`, right after the
    /// checkpoint's redo pointer (`checkPointCopy` starts at offset 40).
    public var timeline: UInt32 { bytes.readLE(UInt32.self, at: 48) }

    /// Parses `bytes`; nil when no CRC matches.
    public init?(bytes: [UInt8]) {
        guard bytes.count >= 512 else { return nil }
        guard Self.crcOffsets.contains(where: { CRC32C.checksum(bytes[0..<$0]) == bytes.readLE(UInt32.self, at: $0) }) else { return nil }
        self.bytes = bytes
        systemIdentifier = bytes.readLE(UInt64.self, at: 0)
    }

    /// Reads the data directory's pg_control, reading again (up to `attempts` times, 10 ms
    /// apart) while its CRC does not match: PostgreSQL may be rewriting it at that moment.
    public static func read(dataDirectory: String, attempts: Int = 50) async throws -> ControlFile {
        let file = dataDirectory + "/" + path
        for attempt in 1...max(1, attempts) {
            if let control = ControlFile(bytes: try FileIO.read(file)) { return control }
            if attempt < attempts { try await Task.sleep(nanoseconds: 10_000_000) }
        }
        throw PostgresError(.damagedFile, "\(file) fails its CRC check after \(attempts) reads: it is damaged, or not a PostgreSQL control file")
    }
}
