import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat

/// Keeps the WAL archive continuous across a failover: the old primary may have died with
/// segments it streamed to the candidate but never archived. Before the candidate is
/// promoted, every segment of its timeline between the newest archived one and the switch
/// point is looked for in its pg_wal, read over libpq (`pg_read_binary_file`, so the node may
/// be remote) and pushed like archive-push would, never overwriting what the archive has. A
/// segment nobody holds (recycled by the standby's restartpoints; `archive_mode = always` on
/// standbys prevents that) is named, so the gap is known. The segment holding the switch
/// point is archived by PostgreSQL itself, as `.partial`, once the candidate is promoted.
struct ArchiveContinuity {
    let conn: PostgresConnection
    let archive: WALArchive
    let inventory: WALInventory
    /// The candidate's timeline before promotion, the one the old primary wrote.
    let timeline: UInt32
    /// Where the candidate stops replaying: the new timeline begins here.
    let switchpoint: LSN

    /// Pushes what is missing; returns one line for the record.
    func pushMissing() async throws -> [String] {
        let segmentSize = inventory.segmentSize
        let switchSegment = switchpoint.value / segmentSize
        let archived = inventory.segments[timeline] ?? []
        guard let newest = archived.max(), newest + 1 < switchSegment else {
            return ["archive continuity: the archive holds timeline \(timeline) up to the switch at \(switchpoint)"]
        }
        let present = Set(try conn.query("SELECT name FROM pg_ls_waldir()").compactMap { $0.first ?? nil })
        var pushed: [String] = []
        var missing: [String] = []
        for number in (newest + 1)..<switchSegment where !archived.contains(number) {
            let name = WALFileName.segment(timeline: timeline, number: number, segmentSize: segmentSize)
            guard present.contains(name), let file = WALFileName(name),
                  let hex = try conn.scalarOrNil("SELECT encode(pg_read_binary_file('pg_wal/\(name)'), 'hex')"),
                  let bytes = Hex.decode(hex), UInt64(bytes.count) == segmentSize else {
                missing.append(name)
                continue
            }
            _ = try await archive.push(file, contents: bytes)
            pushed.append(name)
        }
        var lines: [String] = []
        if !pushed.isEmpty { lines.append("archive continuity: pushed \(pushed.count) segment(s) the old primary never archived: \(pushed.joined(separator: ", "))") }
        if !missing.isEmpty {
            lines.append("archive continuity: MISSING from the archive and from the candidate: \(missing.joined(separator: ", ")); point-in-time recovery across the switch needs them (set archive_mode = always on standbys)")
        }
        return lines
    }
}
