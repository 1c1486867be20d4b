import VaultSupport

/// A timeline history file (`00000002.history`): the timelines a timeline descends from and
/// the LSN at which each one was left. Recovery follows it to find which timeline's file
/// holds each segment.
public struct TimelineHistory: Sendable, Equatable {
    /// `timeline` ran until `switchpoint`, where its child began.
    public struct Entry: Sendable, Equatable {
        public var timeline: UInt32
        public var switchpoint: LSN
    }

    /// The timeline this history describes.
    public let timeline: UInt32
    /// Its ancestors, oldest first.
    public let ancestors: [Entry]

    /// Parses PostgreSQL's format: one `parentTLI<TAB>switchpoint<TAB>reason` line per
    /// ancestor; blank lines and `#` comments are ignored. Nil when a line is malformed.
    public init?(timeline: UInt32, text: String) {
        var entries: [Entry] = []
        for raw in text.split(separator: "\n") {
            let line = String(raw).trimmingSpaces()
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard fields.count >= 2, let tli = UInt32(fields[0]), let lsn = LSN(String(fields[1])) else { return nil }
            entries.append(Entry(timeline: tli, switchpoint: lsn))
        }
        self.timeline = timeline
        self.ancestors = entries
    }

    /// A timeline with no history (the first one, or one whose history is not archived).
    public init(root timeline: UInt32) {
        self.timeline = timeline
        self.ancestors = []
    }

    /// Where each timeline on the path to `timeline` begins: ancestors in order, then
    /// `timeline` itself, which begins at the last switchpoint and runs on.
    public var path: [(timeline: UInt32, begin: LSN, end: LSN?)] {
        var out: [(timeline: UInt32, begin: LSN, end: LSN?)] = []
        var begin = LSN(0)
        for e in ancestors {
            out.append((e.timeline, begin, e.switchpoint))
            begin = e.switchpoint
        }
        out.append((timeline, begin, nil))
        return out
    }

    /// Whether this timeline descends from `ancestor` at a point after `lsn` (so a backup of
    /// `ancestor` that ends at `lsn` can recover onto it).
    public func descends(from ancestor: UInt32, after lsn: LSN) -> Bool {
        path.contains { $0.timeline == ancestor && ($0.end.map { $0 >= lsn } ?? true) }
    }

    /// The timeline whose file holds segment `number`: the newest on the path that began
    /// before the segment ends (a switch inside a segment puts it on the new timeline).
    public func timeline(forSegment number: UInt64, segmentSize: UInt64) -> UInt32 {
        let segmentEnd = (number + 1) * segmentSize
        return path.last { $0.begin.value < segmentEnd }?.timeline ?? timeline
    }
}
