import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat

/// Where recovery stops, and which backup can reach it: the newest one that ended before the
/// target. Pure, so the choice is tested without a repository.
public enum RecoveryTarget: Sendable, Equatable {
    /// Replay all archived WAL.
    case endOfWAL
    /// Stop at the backup's consistent end point.
    case immediate
    /// The parsed time (to choose a backup) and the text PostgreSQL gets, as the operator
    /// wrote it (microseconds kept), with `+00` added when it names no zone.
    case time(Date, text: String)
    case lsn(LSN)
    case name(String)
    /// A fleet restore point whose position is known (the end of its WAL record, as
    /// `pg_create_restore_point` returned it): recovery replays up to and including that
    /// record and stops before the next, by LSN, so another point of the same name elsewhere in
    /// the WAL cannot be taken for it.
    case restorePoint(name: String, end: LSN)

    /// The postgresql.conf lines that ask PostgreSQL for this target.
    public var settings: [String] {
        switch self {
        case .endOfWAL: return []
        case .immediate: return ["recovery_target = 'immediate'"]
        case .time(_, let text): return ["recovery_target_time = \(ConfigValue.quoted(text))"]
        case .lsn(let l): return ["recovery_target_lsn = '\(l)'"]
        case .name(let n): return ["recovery_target_name = \(ConfigValue.quoted(n))"]
        // PostgreSQL stops before the first record starting at or after the target when not
        // inclusive: the point's record (which ends there) is replayed, nothing after it.
        case .restorePoint(_, let end): return ["recovery_target_lsn = '\(end)'", "recovery_target_inclusive = off"]
        }
    }

    /// A time target from the operator's text; nil when it is not a time.
    public static func time(_ text: String) -> RecoveryTarget? {
        guard let d = parseTime(text) else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let zoned = trimmed.hasSuffix("Z") || trimmed.range(of: #"[+-]\d\d(:?\d\d)?$"#, options: .regularExpression) != nil
        return .time(d, text: zoned ? trimmed : trimmed + "+00")
    }

    /// Parses `2026-11-26 03:15:00+00`, `2026-11-26T03:15:00Z` and the like (UTC when no zone).
    public static func parseTime(_ text: String) -> Date? {
        var t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "T")
        if t.hasSuffix("+00") || t.hasSuffix("-00") { t += ":00" }
        let zoned = t.hasSuffix("Z") || t.range(of: #"[+-]\d\d:?\d\d$"#, options: .regularExpression) != nil
        if !zoned { t += "Z" }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: t) { return d }
        f.formatOptions = [.withInternetDateTime]
        return f.date(from: t)
    }

    /// The backup to restore for this target: the named one (checked against the target), or
    /// the newest that finished before it. A target before every backup is an error here,
    /// before anything is written.
    public static func chooseBackup(_ backups: [BackupHead], id: String?, for target: RecoveryTarget, shard: String) throws -> BackupHead {
        let sorted = backups.sorted { $0.id < $1.id }
        guard !sorted.isEmpty else { throw OperationError(.notFound, "shard \(shard) has no backups") }
        if let id {
            guard let m = sorted.first(where: { $0.id == id }) else {
                throw OperationError(.notFound, "no backup \(id) in shard \(shard) (have: \(sorted.map(\.id).joined(separator: ", ")))")
            }
            guard target.reachable(from: m) else {
                throw OperationError(.refused, "backup \(id) ended after the recovery target \(target); choose an older backup or a later target")
            }
            return m
        }
        guard let m = sorted.last(where: { target.reachable(from: $0) }) else {
            let oldest = sorted[0]
            throw OperationError(.refused, "the recovery target \(target) is before the end of the oldest backup of shard \(shard) (\(oldest.id), consistent at \(oldest.stopTime), \(oldest.stopLSN))")
        }
        return m
    }

    /// Whether a backup is consistent before this target.
    func reachable(from m: BackupHead) -> Bool {
        switch self {
        case .endOfWAL, .immediate, .name: return true
        case .time(let d, _): return (Timestamp.parse(m.stopTime) ?? .distantFuture) <= d
        case .lsn(let l), .restorePoint(_, let l): return m.stopLSN <= l
        }
    }
}

extension RecoveryTarget: CustomStringConvertible {
    public var description: String {
        switch self {
        case .endOfWAL: return "end of archived WAL"
        case .immediate: return "immediate"
        case .time(_, let text): return text
        case .lsn(let l): return "LSN \(l)"
        case .name(let n): return "restore point '\(n)'"
        case .restorePoint(let n, let end): return "restore point '\(n)' (ending at \(end))"
        }
    }
}
