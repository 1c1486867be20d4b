import Foundation
import VaultPostgres

/// What a shard's WAL archive holds, from one listing: segment numbers per timeline and the
/// archived timeline histories. Answers the questions restore and verify ask before any work:
/// how far WAL is continuous from a backup, and on which timeline each segment is.
public struct WALInventory: Sendable {
    public let shard: String
    public let segmentSize: UInt64
    /// Timeline → archived segment numbers.
    public let segments: [UInt32: Set<UInt64>]
    /// Timelines whose `.history` file is archived.
    public let histories: [UInt32: TimelineHistory]

    public init(shard: String, segmentSize: UInt64, segments: [UInt32: Set<UInt64>], histories: [UInt32: TimelineHistory]) {
        self.shard = shard
        self.segmentSize = segmentSize
        self.segments = segments
        self.histories = histories
    }

    /// Lists the archive and reads every history file.
    public static func load(_ archive: WALArchive) async throws -> WALInventory {
        try await load(archive, names: try await archive.repository.storage.list(prefix: "\(archive.record.shard)/wal"))
    }

    /// The same from a listing the caller already has (`<shard>/wal/...` object names).
    public static func load(_ archive: WALArchive, names: [String]) async throws -> WALInventory {
        let record = archive.record
        var segments: [UInt32: Set<UInt64>] = [:]
        var histories: [UInt32: TimelineHistory] = [:]
        for name in names {
            guard let file = WALFileName(String(name.split(separator: "/").last ?? "")) else { continue }
            switch file.kind {
            case .segment:
                if let n = file.segmentNumber(segmentSize: record.walSegmentSize) { segments[file.timeline, default: []].insert(n) }
            case .history:
                let text = String(decoding: try await archive.get(file), as: UTF8.self)
                guard let history = TimelineHistory(timeline: file.timeline, text: text) else {
                    throw FormatError(.corrupt, "\(archive.objectName(file)) is not a valid timeline history")
                }
                histories[file.timeline] = history
            case .partial, .backupHistory:
                continue
            }
        }
        return WALInventory(shard: record.shard, segmentSize: record.walSegmentSize, segments: segments, histories: histories)
    }

    /// The history recovery follows from a backup on `timeline` ending at `stop`:
    /// `requested` (a number), `current` (the backup's own), or `latest` / nil (PostgreSQL's
    /// default: the newest archived timeline that descends from the backup's).
    public func history(from timeline: UInt32, stop: LSN, requested: String?) throws -> TimelineHistory {
        let own = histories[timeline] ?? TimelineHistory(root: timeline)
        switch requested {
        case "current":
            return own
        case nil, "latest":
            return histories.values.filter { $0.timeline > timeline && $0.descends(from: timeline, after: stop) }
                .max { $0.timeline < $1.timeline } ?? own
        case let text?:
            guard let n = UInt32(text) else { throw FormatError(.invalidArgument, "timeline '\(text)' is not a number") }
            if n == timeline { return own }
            guard let h = histories[n] else {
                throw FormatError(.refused, "timeline \(n) has no archived history in shard \(shard)")
            }
            guard h.descends(from: timeline, after: stop) else {
                throw FormatError(.refused, "timeline \(n) does not descend from timeline \(timeline) after \(stop), where the backup ends")
            }
            return h
        }
    }

    /// The archived file name of segment `number` on `history`'s path.
    public func fileName(segment number: UInt64, on history: TimelineHistory) -> String {
        WALFileName.segment(timeline: history.timeline(forSegment: number, segmentSize: segmentSize), number: number, segmentSize: segmentSize)
    }

    /// Whether segment `number` is archived on `history`'s path.
    public func contains(segment number: UInt64, on history: TimelineHistory) -> Bool {
        segments[history.timeline(forSegment: number, segmentSize: segmentSize)]?.contains(number) ?? false
    }

    /// The last segment of the unbroken run that starts at `first` on `history`'s path, or
    /// nil when `first` itself is missing.
    public func lastContinuous(from first: UInt64, on history: TimelineHistory) -> UInt64? {
        guard contains(segment: first, on: history) else { return nil }
        var n = first
        while contains(segment: n + 1, on: history) { n += 1 }
        return n
    }

    /// The first segment missing between `first` and `last` inclusive, or nil when all are there.
    public func firstMissing(from first: UInt64, through last: UInt64, on history: TimelineHistory) -> UInt64? {
        guard first <= last else { return nil }
        return (first...last).first { !contains(segment: $0, on: history) }
    }

    public func segmentNumber(of lsn: LSN) -> UInt64 { lsn.value / segmentSize }

    /// Whether every segment from the backup's start to its stop is archived, on its timeline.
    public func holdsWAL(of manifest: BackupHead) -> Bool {
        guard let first = WALFileName(manifest.walStart)?.segmentNumber(segmentSize: segmentSize),
              let last = WALFileName(manifest.walStop)?.segmentNumber(segmentSize: segmentSize) else { return false }
        return firstMissing(from: first, through: last, on: TimelineHistory(root: manifest.timeline)) == nil
    }

    /// Whether a restore of the backup can reach consistency: its WAL is in the archive now
    /// (whatever the manifest recorded when it was taken) and it found no bad pages.
    public func canRestore(_ manifest: BackupHead) -> Bool {
        (manifest.checksumFailures ?? []).isEmpty && holdsWAL(of: manifest)
    }
}
