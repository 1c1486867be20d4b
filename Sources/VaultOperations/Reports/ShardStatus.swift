import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat

/// The stable JSON shape of one shard in `vault status --json`.
public struct ShardStatus: Encodable {
    public var shard: String
    public var backups: Int
    public var newestBackup: String?
    public var newestBackupStopTime: String?
    /// Seconds from the newest backup's consistent point to now: what a restore of it would lose
    /// without WAL, and what monitoring alerts on.
    public var newestBackupAgeSeconds: Int?
    public var newestWAL: String?
    /// When the newest archived segment reached the repository, and seconds since then.
    public var newestWALArchivedAt: String?
    public var newestWALAgeSeconds: Int?
    public var lastVerification: VerificationSummary?
    public var lastVerifiedRestore: VerificationSummary?

    public static func load(_ shard: String, repository: Repository, now: Date = Date()) async throws -> ShardStatus {
        // Only the newest manifest is read, however many backups the shard has.
        let ids = try await repository.backupIDs(shard: shard)
        let newest = try await ids.last.asyncMap { try await repository.manifest(shard: shard, id: $0) } ?? nil
        let verifications = try await repository.verifications(shard: shard)
        let walObject = try await repository.storage.list(prefix: "\(shard)/wal").filter { name in
            WALFileName(String(name.split(separator: "/").last ?? ""))?.kind == .segment
        }.max { $0.split(separator: "/").last ?? "" < $1.split(separator: "/").last ?? "" }
        let walTime = try await walObject.asyncMap { try await repository.storage.modified($0) } ?? nil
        let stop = newest.flatMap { Timestamp.parse($0.stopTime) }
        return ShardStatus(shard: shard, backups: ids.count, newestBackup: newest?.id, newestBackupStopTime: newest?.stopTime,
                           newestBackupAgeSeconds: stop.map { Int(now.timeIntervalSince($0)) },
                           newestWAL: walObject.map { String($0.split(separator: "/").last ?? "") },
                           newestWALArchivedAt: walTime.map(Timestamp.format), newestWALAgeSeconds: walTime.map { Int(now.timeIntervalSince($0)) },
                           lastVerification: verifications.last.map(VerificationSummary.init),
                           lastVerifiedRestore: verifications.lastRestoredAndPassed.map(VerificationSummary.init))
    }

    /// "45 s", "12 min", "3 h 5 min", "2 d 4 h".
    public static func age(_ seconds: Int) -> String {
        let s = max(0, seconds)
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min" }
        if s < 86400 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        return "\(s / 86400) d \(s % 86400 / 3600) h"
    }

    public var text: String {
        let backupText = newestBackup.map { id in
            "\(id) (consistent at \(newestBackupStopTime ?? "?")\(newestBackupAgeSeconds.map { ", \(Self.age($0)) ago" } ?? ""))"
        } ?? "none"
        var lines = ["shard \(shard): \(backups) backup\(backups == 1 ? "" : "s"), newest \(backupText)"]
        lines.append("  WAL archived up to \(newestWAL.map { w in "\(w)\(newestWALAgeSeconds.map { ", \(Self.age($0)) ago" } ?? "")" } ?? "nothing yet")")
        if let v = lastVerifiedRestore {
            lines.append("  last verified restore: backup \(v.backup) at \(v.finished), recovery took \(v.recoverySeconds.map { String(format: "%.1f s", $0) } ?? "?")")
        } else {
            lines.append("  last verified restore: never (run 'vault verify')")
        }
        if let v = lastVerification, !v.passed {
            lines.append("  LAST VERIFICATION FAILED: backup \(v.backup) at \(v.finished): \(v.firstProblem ?? "?")")
        }
        return lines.joined(separator: "\n")
    }
}
