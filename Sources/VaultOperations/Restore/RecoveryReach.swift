import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat

/// Which WAL recovery from a backup will ask for, and whether the archive has it: every
/// segment from the backup's start to its end, and on to the target where the target can be
/// located (an LSN, or a time compared with when the WAL was archived). A restore point's
/// position is inside WAL, so a named target is left to PostgreSQL, which refuses to finish a
/// recovery that ends before its target. Restore stops at the first problem, before writing
/// a byte; verify lists them all.
struct RecoveryReach {
    let inventory: WALInventory
    let archive: WALArchive

    struct Plan {
        /// The timeline history recovery follows.
        var history: TimelineHistory
        /// The segments recovery needs, first to last.
        var segments: ClosedRange<UInt64>
        var problems: [RepositoryProblem]
    }

    /// How many missing segments are named before the rest are counted.
    static let namedMissing = 10

    func plan(_ manifest: BackupHead, target: RecoveryTarget, timeline: String?) async throws -> Plan {
        let history = try inventory.history(from: manifest.timeline, stop: manifest.stopLSN, requested: timeline)
        let first = inventory.segmentNumber(of: manifest.startLSN)
        let stop = inventory.segmentNumber(of: manifest.stopLSN)
        var problems = missing(first...stop, on: history, kind: .missing, why: "needed to make backup \(manifest.id) consistent")
        var last = stop
        switch target {
        case .lsn, .restorePoint:
            // A restore point's LSN is where its record ends: the record lies in the segment
            // before a boundary it ends on.
            let lsn: LSN
            switch target {
            case .restorePoint(_, let end): lsn = LSN(max(end.value, 1) - 1)
            case .lsn(let l): lsn = l
            default: lsn = manifest.stopLSN
            }
            last = max(stop, inventory.segmentNumber(of: lsn))
            if last > stop {
                problems += missing((stop + 1)...last, on: history, kind: .unreachable, why: "needed to reach \(target)")
            }
        case .time(let date, _):
            last = inventory.lastContinuous(from: stop, on: history) ?? stop
            let name = inventory.fileName(segment: last, on: history)
            let archived = try await archive.repository.storage.modified(WALArchive.objectName(shard: inventory.shard, file: name))
            if let archived, archived < date, problems.isEmpty {
                problems.append(RepositoryProblem(
                    "shard \(inventory.shard)",
                    "the archive does not reach \(target): its WAL runs unbroken to segment \(name), archived at \(Timestamp.format(archived)); wait for the next segment to be archived (or run 'vault check' to force one), or choose an earlier time",
                    kind: .unreachable))
            }
        case .endOfWAL, .immediate, .name:
            break
        }
        return Plan(history: history, segments: first...last, problems: problems)
    }

    /// Problems for the segments of `range` missing from the archive (the first few by name).
    private func missing(_ range: ClosedRange<UInt64>, on history: TimelineHistory, kind: RepositoryProblem.Kind, why: String) -> [RepositoryProblem] {
        let absent = range.filter { !inventory.contains(segment: $0, on: history) }
        var out = absent.prefix(Self.namedMissing).map { n -> RepositoryProblem in
            let name = inventory.fileName(segment: n, on: history)
            return RepositoryProblem(WALArchive.objectName(shard: inventory.shard, file: name), "missing from the archive (\(why))", kind: kind)
        }
        if absent.count > Self.namedMissing {
            out.append(RepositoryProblem("shard \(inventory.shard)", "\(absent.count - Self.namedMissing) more WAL segments missing", kind: kind))
        }
        return out
    }

    /// The timeline history recovery will follow; throws at the first problem.
    func check(_ manifest: BackupHead, target: RecoveryTarget, timeline: String?) async throws -> TimelineHistory {
        let plan = try await plan(manifest, target: target, timeline: timeline)
        if let problem = plan.problems.first { throw OperationError(problem) }
        return plan.history
    }
}
