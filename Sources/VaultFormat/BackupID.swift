import Foundation
import VaultSupport

/// Backup identifiers: the start time in UTC to the second and the kind,
/// `20261126T083244Z-F` (full) or `…-I` (incremental). They sort by start time, so the newest
/// backup, and the newest full backup and when it began, come from a listing of manifest names
/// without reading any manifest.
public enum BackupID {
    public static func make(started: Date, kind: BackupManifest.Kind) -> String {
        formatter().string(from: started) + (kind == .full ? "-F" : "-I")
    }

    /// A start time for a new backup whose identifier sorts after `newest`: now, or, when a
    /// small cluster's backup finished within the second the newest one started, the next
    /// second, so two backups never share an identifier.
    public static func startTime(after newest: String?) async throws -> Date {
        guard let newest, let last = started(newest) else { return Date() }
        let next = last.addingTimeInterval(1)
        let wait = next.timeIntervalSince(Date())
        // The clock is behind the newest backup (stepped backwards): no wait for it to catch
        // up; the id takes the next second after the newest, so ids still sort by order taken.
        if wait > 1 { return next }
        if wait > 0 { try await Task.sleep(nanoseconds: UInt64(wait * 1_000_000_000) + 1_000_000) }
        return Date()
    }

    /// The start time encoded in `id` (to the second), or nil for a malformed identifier.
    public static func started(_ id: String) -> Date? {
        guard id.count == 18 else { return nil }
        return formatter().date(from: String(id.prefix(16)))
    }

    public static func kind(_ id: String) -> BackupManifest.Kind? {
        switch id.suffix(2) {
        case "-F": return .full
        case "-I": return .incremental
        default: return nil
        }
    }

    private static func formatter() -> DateFormatter {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f
    }
}

extension Repository {
    /// Identifiers of a shard's complete backups (those whose manifest exists), oldest first.
    public func backupIDs(shard: String) async throws -> [String] {
        let prefix = "\(shard)/backups/"
        return try await storage.list(prefix: "\(shard)/backups")
            .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".manifest") }
            .map { String($0.dropFirst(prefix.count).dropLast(".manifest".count)) }
            .sorted()
    }
}
