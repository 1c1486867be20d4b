/// Little-endian integer encoding into and out of byte arrays, for binary headers.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    public mutating func append(_ other: some Sequence<UInt8>) { bytes.append(contentsOf: other) }
    public mutating func append(_ v: UInt8) { bytes.append(v) }
    public mutating func append(_ v: UInt16) { appendLE(v) }
    public mutating func append(_ v: UInt32) { appendLE(v) }
    public mutating func append(_ v: UInt64) { appendLE(v) }

    private mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        var le = v.littleEndian
        withUnsafeBytes(of: &le) { bytes.append(contentsOf: $0) }
    }
}

extension Array where Element == UInt8 {
    /// Reads a little-endian integer at `offset`; the caller has checked the bounds.
    public func readLE<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size {
            value |= T(self[offset + i]) << (8 * i)
        }
        return value
    }
}
