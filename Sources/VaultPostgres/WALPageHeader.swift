import VaultSupport

/// The long header at the start of every WAL segment (`XLogLongPageHeaderData`), which
/// carries the cluster's system identifier: archive-push checks it so WAL from another
/// cluster never enters a shard's archive.
public struct WALLongPageHeader: Sendable, Equatable {
    public var magic: UInt16
    public var timeline: UInt32
    public var pageAddress: UInt64
    public var systemIdentifier: UInt64
    public var segmentSize: UInt32
    public var blockSize: UInt32

    /// `XLP_LONG_HEADER` in `xlp_info`.
    static let longHeaderFlag: UInt16 = 0x0002

    /// Parses the first 40 bytes of a segment; nil when they are not a long page header.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count >= 40 else { return nil }
        let info = bytes.readLE(UInt16.self, at: 2)
        guard info & Self.longHeaderFlag != 0 else { return nil }
        magic = bytes.readLE(UInt16.self, at: 0)
        timeline = bytes.readLE(UInt32.self, at: 4)
        pageAddress = bytes.readLE(UInt64.self, at: 8)
        // xlp_rem_len (4 bytes) and alignment padding precede the long-header fields.
        systemIdentifier = bytes.readLE(UInt64.self, at: 24)
        segmentSize = bytes.readLE(UInt32.self, at: 32)
        blockSize = bytes.readLE(UInt32.self, at: 36)
    }

    /// The PostgreSQL major version that writes this WAL page magic, when known.
    public var majorVersion: Int? {
        switch magic {
        case 0xD110: return 15
        case 0xD113: return 16
        case 0xD116: return 17
        case 0xD118: return 18
        default: return nil
        }
    }
}
