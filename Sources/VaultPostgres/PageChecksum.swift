import VaultSupport

/// PostgreSQL's data page checksum (`pg_checksum_page`): 32 interleaved FNV-1a-style hashes
/// over the page's 32-bit words with the checksum field zeroed, folded with the block number
/// into 1…65535. Used to validate pages while backing them up, as PostgreSQL would on read.
public enum PageChecksum {
    public static let pageSize = 8192
    /// Blocks per 1 GiB relation segment file (RELSEG_SIZE with 8 KiB pages).
    public static let blocksPerSegment: UInt32 = 131072

    private static let lanes = 32
    private static let prime: UInt32 = 16777619
    private static let seeds: [UInt32] = [
        0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
        0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
        0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
        0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756,
    ]

    /// The checksum PostgreSQL would store for `page` (8192 bytes at `offset` in `bytes`) as
    /// block `block` of its relation.
    public static func compute(_ bytes: [UInt8], offset: Int, block: UInt32) -> UInt16 {
        precondition(offset >= 0 && offset + pageSize <= bytes.count, "page out of range")
        // The 32 running sums live in a stack buffer and the page is read through a raw
        // pointer: this loop runs over every page of every backup, so no bounds checks or
        // heap arrays inside it.
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: lanes) { sums in
            for lane in 0..<lanes { sums[lane] = seeds[lane] }
            bytes.withUnsafeBytes { raw in
                guard let base = raw.baseAddress?.advanced(by: offset) else { return }
                for row in 0..<(pageSize / (4 * lanes)) {
                    let rowBase = base.advanced(by: row * lanes * 4)
                    for lane in 0..<lanes {
                        var word = UInt32(littleEndian: rowBase.loadUnaligned(fromByteOffset: lane * 4, as: UInt32.self))
                        // The checksum field (bytes 8–9 of the page) counts as zero.
                        if row == 0 && lane == 2 { word &= 0xFFFF_0000 }
                        let t = sums[lane] ^ word
                        sums[lane] = t &* prime ^ (t >> 17)
                    }
                }
            }
            var folded: UInt32 = 0
            for lane in 0..<lanes {
                var v = sums[lane]
                for _ in 0..<2 { v = v &* prime ^ (v >> 17) }
                folded ^= v
            }
            return UInt16((folded ^ block) % 65535 + 1)
        }
    }

    /// Whether the page at `offset` passes: new (all-zero) pages have no checksum to check.
    public static func isValid(_ bytes: [UInt8], offset: Int, block: UInt32) -> Bool {
        let upper = bytes.readLE(UInt16.self, at: offset + 14)
        if upper == 0 {
            return bytes[offset..<(offset + pageSize)].allSatisfy { $0 == 0 }
        }
        return bytes.readLE(UInt16.self, at: offset + 8) == compute(bytes, offset: offset, block: block)
    }

    /// The page's LSN (`pd_lsn`: high word, then low word).
    public static func lsn(_ bytes: [UInt8], offset: Int) -> UInt64 {
        UInt64(bytes.readLE(UInt32.self, at: offset)) << 32 | UInt64(bytes.readLE(UInt32.self, at: offset + 4))
    }
}
