import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat

/// Keeps the WAL archive continuous across a failover: the old primary may have died with
/// segments it streamed to the new primary but never archived. Once promoted, the new
/// primary's pg_wal still holds them; they are read over libpq (`pg_read_binary_file`, so the
/// node may be remote) and pushed like archive-push would, never overwriting what the archive
/// has. Only complete segments of the parent timeline before the switch point are pushed:
/// pg_wal may also hold recycled files under future names, which are not WAL of this history.
struct ArchiveContinuity {
    let conn: PostgresConnection
    let archive: WALArchive
    let inventory: WALInventory
    /// The new primary's timeline.
    let timeline: UInt32

    /// Pushes what is missing; returns one line for the record.
    func pushMissing() async throws -> [String] {
        let historyName = String(format: "%08X.history", timeline)
        guard let text = try conn.scalarOrNil("SELECT pg_read_file('pg_wal/\(historyName)')"),
              let history = TimelineHistory(timeline: timeline, text: text), let last = history.ancestors.last else {
            return ["archive continuity: no history file for timeline \(timeline) in pg_wal; nothing pushed"]
        }
        let parent = last.timeline
        let segmentSize = inventory.segmentSize
        let switchSegment = last.switchpoint.value / segmentSize
        let archived = inventory.segments[parent] ?? []
        let names = try conn.query("SELECT name FROM pg_ls_waldir() ORDER BY name").compactMap { $0.first ?? nil }
        var pushed: [String] = []
        for name in names {
            guard let file = WALFileName(name), file.kind == .segment, file.timeline == parent,
                  let number = file.segmentNumber(segmentSize: segmentSize), number < switchSegment, !archived.contains(number) else { continue }
            guard let hex = try conn.scalarOrNil("SELECT encode(pg_read_binary_file('pg_wal/\(name)'), 'hex')"),
                  let bytes = Hex.decode(hex), UInt64(bytes.count) == segmentSize else {
                return ["archive continuity: could not read \(name) from the new primary; push it with vault archive-push there"]
            }
            _ = try await archive.push(file, contents: bytes)
            pushed.append(name)
        }
        return [pushed.isEmpty ? "archive continuity: the archive already held every segment of timeline \(parent) before the switch at \(last.switchpoint)"
                               : "archive continuity: pushed \(pushed.count) segment(s) the old primary never archived: \(pushed.joined(separator: ", "))"]
    }
}
