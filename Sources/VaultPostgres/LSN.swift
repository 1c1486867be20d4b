/// A PostgreSQL log sequence number: a byte position in the WAL stream, written `X/Y`.
public struct LSN: Comparable, Hashable, Sendable, CustomStringConvertible, Codable {
    public var value: UInt64

    public init(_ value: UInt64) { self.value = value }

    /// Parses PostgreSQL's `X/Y` text form (hexadecimal halves).
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, parts[0].count <= 8, parts[1].count <= 8,
              let hi = UInt64(parts[0], radix: 16), let lo = UInt64(parts[1], radix: 16) else { return nil }
        value = hi << 32 | lo
    }

    public var description: String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xffff_ffff, radix: 16, uppercase: true)
    }

    public static func < (a: LSN, b: LSN) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let v = LSN(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid LSN '\(text)'"))
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
