/// The names of the files PostgreSQL archives: segments (`000000010000000000000042`),
/// partial segments (`….partial`), timeline history (`00000002.history`) and backup history
/// (`000000010000000000000042.00000028.backup`).
public struct WALFileName: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case segment
        case partial
        case history
        case backupHistory
    }

    public let text: String
    public let kind: Kind
    public let timeline: UInt32

    public var description: String { text }

    /// Parses an archived file name; nil for anything PostgreSQL would not archive.
    public init?(_ text: String) {
        func hex(_ s: Substring, _ n: Int) -> UInt32? {
            guard s.count == n, s.allSatisfy({ $0.isHexDigit && !$0.isLowercase }) else { return nil }
            return UInt32(s, radix: 16)
        }
        let base = text.prefix(24)
        let baseIsSegment = base.count == 24 && hex(base.prefix(8), 8) != nil
            && hex(base.dropFirst(8).prefix(8), 8) != nil && hex(base.suffix(8), 8) != nil
        if text.count == 24, baseIsSegment, let tli = hex(text.prefix(8), 8) {
            self.init(text: text, kind: .segment, timeline: tli)
        } else if text.count == 32, text.hasSuffix(".partial"), baseIsSegment, let tli = hex(text.prefix(8), 8) {
            self.init(text: text, kind: .partial, timeline: tli)
        } else if text.count == 16, text.hasSuffix(".history"), let tli = hex(text.prefix(8), 8) {
            self.init(text: text, kind: .history, timeline: tli)
        } else if text.count == 40, text.hasSuffix(".backup"), baseIsSegment, let tli = hex(text.prefix(8), 8),
                  text[text.index(text.startIndex, offsetBy: 24)] == ".",
                  hex(text.dropFirst(25).prefix(8), 8) != nil {
            self.init(text: text, kind: .backupHistory, timeline: tli)
        } else {
            return nil
        }
    }

    private init(text: String, kind: Kind, timeline: UInt32) {
        self.text = text
        self.kind = kind
        self.timeline = timeline
    }

    /// The hexadecimal timeline directory this file is stored under.
    public var timelineHex: String { String(text.prefix(8)) }

    /// The segment number (log × segments-per-log + seg) for segment-like names.
    public func segmentNumber(segmentSize: UInt64) -> UInt64? {
        guard kind != .history else { return nil }
        let chars = Array(text.utf8)
        guard let log = UInt64(String(decoding: chars[8..<16], as: UTF8.self), radix: 16),
              let seg = UInt64(String(decoding: chars[16..<24], as: UTF8.self), radix: 16) else { return nil }
        return log * (0x1_0000_0000 / segmentSize) + seg
    }

    /// The segment name for a timeline and segment number.
    public static func segment(timeline: UInt32, number: UInt64, segmentSize: UInt64) -> String {
        let perLog = 0x1_0000_0000 / segmentSize
        return hex8(UInt64(timeline)) + hex8(number / perLog) + hex8(number % perLog)
    }

    /// The segment that holds the byte at `lsn`.
    public static func segment(containing lsn: LSN, timeline: UInt32, segmentSize: UInt64) -> String {
        segment(timeline: timeline, number: lsn.value / segmentSize, segmentSize: segmentSize)
    }

    static func hex8(_ v: UInt64) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}
