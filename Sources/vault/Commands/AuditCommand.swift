import ArgumentParser
import Foundation
import VaultSupport
import VaultFormat
import VaultOperations

/// `vault audit`: who changed what in the repository, and how it ended.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "List the audit trail: every init, backup, expire, restore, verify, switchover, failover, rejoin, key rotation and restore point.",
        discussion: """
            Each record (user, host, command line, shard, time, outcome) is an authenticated \
            repository object: one that was edited fails to open and is an error naming it.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Only records from this time on (2026-12-01, 2026-12-01T10:00:00Z or '2026-12-01 10:00:00+01').")
    var since: String?

    @Flag(name: .long, help: "Print JSON: time, user, host, command, shard, outcome, exitCode, error.")
    var json = false

    func validate() throws {
        if let since, Self.parseSince(since) == nil {
            throw ValidationError("--since '\(since)' is not a date or time such as 2026-12-01 or 2026-12-01T10:00:00Z")
        }
    }

    static func parseSince(_ text: String) -> Date? {
        if let date = RecoveryTarget.parseTime(text) { return date }
        return RecoveryTarget.parseTime(text + " 00:00:00+00")
    }

    func run() async throws {
        try await CommandRunner.run {
            _ = global.logger("audit")
            let policy = try global.loadPolicy()
            let records = try await AuditTrail.records(policy: policy, shard: global.shard, since: since.flatMap(Self.parseSince))
            if json {
                try printJSON(records)
                return
            }
            if records.isEmpty { print("no audit records\(global.shard.map { " for shard \($0)" } ?? "")") }
            for r in records {
                let what = r.outcome == "succeeded" ? "succeeded" : "failed (exit \(r.exitCode))\(r.error.map { ": \($0)" } ?? "")"
                print("\(r.time)  \(r.user)@\(r.host)  \(r.shard.map { "shard \($0)  " } ?? "")\(r.command)  \(what)")
            }
        }
    }
}
