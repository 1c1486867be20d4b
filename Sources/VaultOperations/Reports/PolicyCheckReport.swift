import Foundation
import VaultPolicy

/// The stable JSON shape of `vault policy check --json`: whether the file is valid, what it
/// describes, and every problem with its line and column.
public struct PolicyCheckReport: Encodable, Sendable {
    public struct Issue: Encodable, Sendable {
        public var line: Int
        public var column: Int
        public var message: String
    }

    public struct KeySpace: Encodable, Sendable {
        public var from: Int64
        public var to: Int64
    }

    /// One scheduled job of one shard, with its next three run times, so a mistake in an
    /// expression or a time zone is visible before it matters.
    public struct Schedule: Encodable, Sendable {
        public var shard: String
        public var job: String
        public var cron: String
        public var timezone: String
        /// ISO 8601 with the zone's offset.
        public var next: [String]
    }

    public var path: String
    public var valid: Bool
    public var shards: Int
    public var nodes: Int
    /// The key space the shard map covers, when the policy has one.
    public var shardMap: KeySpace?
    public var issues: [Issue]
    public var schedules: [Schedule]

    public init(path: String, policy: Policy, now: Date = Date()) {
        self.path = path
        valid = true
        shards = policy.shards.count
        nodes = policy.shards.reduce(0) { $0 + $1.nodes.count }
        let ranges = policy.shards.compactMap(\.keys)
        if let low = ranges.map(\.from).min(), let high = ranges.map(\.to).max() { shardMap = KeySpace(from: low, to: high) }
        issues = []
        schedules = policy.shards.flatMap { shard in
            shard.settings.schedule.jobs.map { job, cron in
                let zone = shard.settings.schedule.timeZone
                return Schedule(shard: shard.name, job: job, cron: cron.text, timezone: zone.identifier,
                                next: cron.upcoming(3, after: now, in: zone).map { Self.local($0, zone) })
            }
        }
    }

    /// `2026-12-06T02:00:00+01:00`: the wall-clock time in the schedule's zone.
    static func local(_ date: Date, _ zone: TimeZone) -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = zone
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    public init(path: String, error: PolicyError) {
        self.path = path
        valid = false
        shards = 0
        nodes = 0
        schedules = []
        issues = error.issues.map { Issue(line: $0.line, column: $0.column, message: $0.message) }
        if let unreadable = error.unreadable { issues.append(Issue(line: 0, column: 0, message: "cannot read policy: \(unreadable)")) }
    }

    /// `PATH: ok (2 shards, 4 nodes, shard map covers 0-65535)`, then each scheduled job
    /// with its next three runs.
    public var text: String {
        let plural = { (n: Int, word: String) in "\(n) \(word)\(n == 1 ? "" : "s")" }
        let map = shardMap.map { ", shard map covers \($0.from)-\($0.to)" } ?? ""
        var lines = ["\(path): ok (\(plural(shards, "shard")), \(plural(nodes, "node"))\(map))"]
        if !schedules.isEmpty { lines.append("next runs:") }
        for s in schedules {
            let next = s.next.isEmpty ? "never" : s.next.joined(separator: ", ")
            lines.append("  \(s.shard) \(s.job) '\(s.cron)' (\(s.timezone)): \(next)")
        }
        return lines.joined(separator: "\n")
    }
}
