import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VaultSupport
import VaultPolicy
import VaultFormat

/// Appends one record per state-changing command (init, backup, expire, restore, verify,
/// switchover, failover, rejoin, key rotation and new keys, restore point, and each job the
/// scheduler runs) to the repository the policy names, and reads them back for `vault audit`.
public enum AuditTrail {
    /// Appends the record of a command that ended now. Failing to record never changes the
    /// command's own outcome: the reason is returned for a warning.
    public static func append(policy: Policy, shard: String?, exitCode: Int32, error: String?, command: String? = nil) async -> String? {
        var record = AuditRecord(time: Timestamp.now(), user: userName(), host: ProcessInfo.processInfo.hostName,
                                 command: command ?? (["vault"] + CommandLine.arguments.dropFirst()).joined(separator: " "), shard: shard,
                                 outcome: exitCode == 0 ? "succeeded" : "failed", exitCode: exitCode, error: error)
        do {
            let repository: Repository
            if let opened = RepositoryOpener.opened(policy) { repository = opened } else { repository = try await RepositoryOpener.open(policy) }
            try await repository.append(&record, at: Date(), pid: getpid())
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The records, oldest first, of `shard` (or all) from `since` on.
    public static func records(policy: Policy, shard: String?, since: Date?) async throws -> [AuditRecord] {
        let all = try await RepositoryOpener.open(policy).auditRecords()
        return all.filter { record in
            (shard == nil || record.shard == shard) && (since.map { s in Timestamp.parse(record.time).map { $0 >= s } ?? true } ?? true)
        }
    }

    private static func userName() -> String {
        guard let pw = getpwuid(geteuid()) else { return "uid \(geteuid())" }
        return String(cString: pw.pointee.pw_name)
    }
}
