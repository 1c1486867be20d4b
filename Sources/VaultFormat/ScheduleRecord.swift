import Foundation
import VaultSupport

/// That a scheduler daemon ran one scheduled instant (slot) of one job of a shard
/// (`<shard>/schedule/<job>-<unix seconds>.json`, sealed like every object), written when the
/// run succeeded. Daemons sharing a repository read it, under the shard's scheduler lock, before
/// running a slot, so a slot one of them ran is not run again by another; and at start-up, to
/// tell a missed slot. A run that failed or was cancelled writes none: its slot counts as
/// missed and runs once at the next start.
public struct ScheduleRecord: Codable, Sendable, Equatable {
    public var format: Int
    public var shard: String
    public var job: String
    /// The scheduled instant (UTC, ISO 8601).
    public var slot: String
    /// Who ran it: `vault schedule run pid N on HOST`.
    public var owner: String
    public var finished: String
    /// What the run did (which backup, how many expired).
    public var detail: String

    public init(shard: String, job: String, slot: Date, owner: String, finished: Date, detail: String) {
        format = 1
        self.shard = shard
        self.job = job
        self.slot = Timestamp.format(slot)
        self.owner = owner
        self.finished = Timestamp.format(finished)
        self.detail = detail
    }

    public static func objectName(shard: String, job: String, slot: Date) -> String {
        "\(shard)/schedule/\(job)-\(Int64(slot.timeIntervalSince1970)).json"
    }

    /// The job and slot of a record's object name, or nil for any other name.
    public static func parse(objectName name: String) -> (job: String, slot: Date)? {
        guard let file = name.split(separator: "/").last, file.hasSuffix(".json"),
              let dash = file.lastIndex(of: "-"), let seconds = Int64(file[file.index(after: dash)...].dropLast(5)) else { return nil }
        return (String(file[..<dash]), Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}

extension Repository {
    /// The record of `job`'s run at `slot`, if one ran it.
    public func scheduledRun(shard: String, job: String, slot: Date) async throws -> ScheduleRecord? {
        let name = ScheduleRecord.objectName(shard: shard, job: job, slot: slot)
        guard let bytes = try await read(name) else { return nil }
        return try JSONCoding.decode(ScheduleRecord.self, from: bytes, what: name)
    }

    /// Records a run; an existing record of the slot is kept.
    public func record(_ run: ScheduleRecord, slot: Date) async throws {
        _ = try await writeIfAbsent(ScheduleRecord.objectName(shard: run.shard, job: run.job, slot: slot), try JSONCoding.encode(run))
    }

    /// The slots of `job` that were run, oldest first.
    public func scheduledSlots(shard: String, job: String) async throws -> [Date] {
        try await storage.list(prefix: "\(shard)/schedule").compactMap { name in
            ScheduleRecord.parse(objectName: name).flatMap { $0.job == job ? $0.slot : nil }
        }.sorted()
    }

    /// Removes records of `shard` for slots before `date` (they only matter while a slot can
    /// still be missed or run twice).
    public func removeScheduleRecords(shard: String, before date: Date) async throws {
        let old = try await storage.list(prefix: "\(shard)/schedule").filter { name in
            ScheduleRecord.parse(objectName: name).map { $0.slot < date } ?? false
        }
        try await storage.delete(old)
    }
}
