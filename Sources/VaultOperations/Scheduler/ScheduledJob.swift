import Foundation
import VaultPolicy

/// What the scheduler runs for a shard, one kind per `schedule` key.
public enum JobKind: String, Sendable, CaseIterable, Codable {
    /// `backup --type full`.
    case full
    /// `backup --type auto`: incremental on the newest backup, full when the shard has none.
    case incremental
    /// `verify` of the newest backup.
    case verify
    /// `expire` by the shard's retention.
    case expire
}

/// One kind of job of one shard: the unit the scheduler serializes, coalesces and retries.
public struct ScheduledJob: Hashable, Sendable, CustomStringConvertible {
    public var shard: String
    public var kind: JobKind

    public init(shard: String, kind: JobKind) {
        self.shard = shard
        self.kind = kind
    }

    public var description: String { "\(kind.rawValue) of shard \(shard)" }
}

/// A job and the cron expression (in its zone) that says when it runs.
public struct JobSchedule: Sendable {
    public var job: ScheduledJob
    public var cron: CronExpression
    public var zone: TimeZone

    public init(job: ScheduledJob, cron: CronExpression, zone: TimeZone) {
        self.job = job
        self.cron = cron
        self.zone = zone
    }

    /// Every scheduled job of every shard in the policy.
    public static func all(_ policy: Policy) -> [JobSchedule] {
        policy.shards.flatMap { shard in
            shard.settings.schedule.jobs.compactMap { name, cron in
                JobKind(rawValue: name).map { JobSchedule(job: ScheduledJob(shard: shard.name, kind: $0), cron: cron, zone: shard.settings.schedule.timeZone) }
            }
        }
    }

    /// The newest instant at or before `date` at which the expression fired, or nil when it
    /// did not fire in the last five years. Searched forward from widening windows, so an
    /// every-minute expression costs an hour of steps and a yearly one a few hundred days.
    public func previousSlot(atOrBefore date: Date) -> Date? {
        for window: TimeInterval in [3600, 86_400, 691_200, 2_764_800, 31_708_800, 158_112_000] {
            var found: Date?
            var from = date.addingTimeInterval(-window)
            while let next = cron.next(after: from, in: zone), next <= date {
                found = next
                from = next
            }
            if let found { return found }
        }
        return nil
    }
}
