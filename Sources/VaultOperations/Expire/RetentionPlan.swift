import Foundation
import VaultPolicy
import VaultFormat

/// Decides which backups to keep: pure, so it is tested without a repository.
///
/// Keeps the newest `fullBackups` restorable full backups and every backup taken after the
/// oldest of them, plus every backup younger than `window`; never fewer than one restorable
/// full backup, and never the backups named in `protected` (e.g. the newest that passed
/// verification). Only restorable fulls count: with a broken archive_command, daily fulls whose
/// WAL never arrives must not push the last good one out. With no restorable full at all,
/// nothing is expired.
public enum RetentionPlan {
    public static func expired(_ backups: [BackupHead], retention: RetentionSettings, now: Date, protected: Set<String> = [],
                               restorable: (BackupHead) -> Bool = { _ in true }) -> [BackupHead] {
        let sorted = backups.sorted { $0.id < $1.id }
        let fulls = sorted.filter { $0.kind == .full && restorable($0) }
        guard let newestFull = fulls.last else { return [] }
        var keep = Set<String>(protected)
        let keepFulls = max(1, retention.fullBackups ?? (retention.window == nil ? 1 : 0))
        let keptFulls = fulls.suffix(keepFulls)
        let oldestKept = keptFulls.first?.id ?? newestFull.id
        for b in sorted where b.id >= oldestKept { keep.insert(b.id) }
        if let window = retention.window {
            let cutoff = now.addingTimeInterval(-Double(window))
            for b in sorted where Double(b.startEpoch) >= cutoff.timeIntervalSince1970 { keep.insert(b.id) }
        }
        keep.insert(newestFull.id)
        return sorted.filter { !keep.contains($0.id) }
    }
}
