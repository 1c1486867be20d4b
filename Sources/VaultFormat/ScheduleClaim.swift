import Foundation
import VaultSupport

/// A scheduler daemon's claim on one scheduled instant of one job of a shard
/// (`<shard>/schedule/<job>-<unix seconds>.json`, sealed like every object). Created only if
/// absent, so when several daemons share a repository exactly one of them runs each instant;
/// the others find the claim and skip. The claimant's own retries of that instant find their
/// daemon's token and go ahead.
public struct ScheduleClaim: Codable, Sendable, Equatable {
    public var format: Int
    public var shard: String
    public var job: String
    /// The scheduled instant (UTC, ISO 8601).
    public var slot: String
    /// Who claimed it: `vault schedule run pid N on HOST`.
    public var owner: String
    /// Random per daemon process: tells a daemon its own claims from another's.
    public var token: String
    public var claimed: String

    public init(shard: String, job: String, slot: Date, owner: String, token: String, claimed: Date) {
        format = 1
        self.shard = shard
        self.job = job
        self.slot = Timestamp.format(slot)
        self.owner = owner
        self.token = token
        self.claimed = Timestamp.format(claimed)
    }

    public static func objectName(shard: String, job: String, slot: Date) -> String {
        "\(shard)/schedule/\(job)-\(Int64(slot.timeIntervalSince1970)).json"
    }

    /// The job and slot of a claim's object name, or nil for any other name.
    public static func parse(objectName name: String) -> (job: String, slot: Date)? {
        guard let file = name.split(separator: "/").last, file.hasSuffix(".json"),
              let dash = file.lastIndex(of: "-"), let seconds = Int64(file[file.index(after: dash)...].dropLast(5)) else { return nil }
        return (String(file[..<dash]), Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}

extension Repository {
    /// Claims the instant for `claim`'s daemon. Returns nil when the claim is this daemon's
    /// (new, or taken by an earlier attempt of the same instant), else the other claim.
    public func claim(_ claim: ScheduleClaim, slot: Date) async throws -> ScheduleClaim? {
        let name = ScheduleClaim.objectName(shard: claim.shard, job: claim.job, slot: slot)
        if try await writeIfAbsent(name, try JSONCoding.encode(claim)) { return nil }
        guard let bytes = try await read(name) else { return nil }
        let existing = try JSONCoding.decode(ScheduleClaim.self, from: bytes, what: name)
        return existing.token == claim.token ? nil : existing
    }

    /// The instants of `job` that have been claimed, oldest first.
    public func claimedSlots(shard: String, job: String) async throws -> [Date] {
        try await storage.list(prefix: "\(shard)/schedule").compactMap { name in
            ScheduleClaim.parse(objectName: name).flatMap { $0.job == job ? $0.slot : nil }
        }.sorted()
    }

    /// Removes claims of `shard` for instants before `date` (they only matter while a slot
    /// can still be run).
    public func removeClaims(shard: String, before date: Date) async throws {
        let old = try await storage.list(prefix: "\(shard)/schedule").filter { name in
            ScheduleClaim.parse(objectName: name).map { $0.slot < date } ?? false
        }
        try await storage.delete(old)
    }
}
