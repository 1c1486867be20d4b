import Foundation
import VaultSupport

/// One restore point made on every shard of the system at once
/// (`_fleet/restore-points/<name>.json`, sealed like every object): for each shard, where the
/// point lies in its WAL. Written only once every shard has its point and the WAL holding it
/// is archived, so a name in the catalog is a moment every shard can be restored to.
public struct FleetRestorePoint: Codable, Sendable, Equatable {
    public struct Shard: Codable, Sendable, Equatable {
        public var shard: String
        /// The primary it was made on.
        public var node: String
        /// What `pg_create_restore_point` returned: the end of the point's WAL record.
        public var lsn: String
        public var timeline: UInt32
        /// The server's clock when it made the point (UTC, ISO 8601, microseconds).
        public var time: String
        /// The segment holding the point, archived before the catalog entry was written.
        public var segment: String

        public init(shard: String, node: String, lsn: String, timeline: UInt32, time: String, segment: String) {
            self.shard = shard
            self.node = node
            self.lsn = lsn
            self.timeline = timeline
            self.time = time
            self.segment = segment
        }
    }

    public var format: Int
    public var name: String
    /// When the command began and when the catalog entry was written.
    public var started: String
    public var finished: String
    /// Whether the policy's pause and resume commands ran around the points.
    public var paused: Bool
    /// Seconds between the first and the last shard's point, by the servers' clocks.
    public var spreadSeconds: Double
    public var shards: [Shard]

    public init(name: String, started: String, finished: String, paused: Bool, spreadSeconds: Double, shards: [Shard]) {
        format = 1
        self.name = name
        self.started = started
        self.finished = finished
        self.paused = paused
        self.spreadSeconds = spreadSeconds
        self.shards = shards
    }

    public static let prefix = "_fleet/restore-points/"

    public static func objectName(_ name: String) -> String { prefix + name + ".json" }

    /// A name PostgreSQL takes as a restore point and the repository as an object name:
    /// letters, digits, '-', '_' and '.', not starting with '.', at most 63 characters.
    public static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 63 && !name.hasPrefix(".")
            && name.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    public func shard(_ name: String) -> Shard? { shards.first { $0.shard == name } }
}

extension Repository {
    /// Every fleet restore point, oldest first.
    public func restorePoints() async throws -> [FleetRestorePoint] {
        var out: [FleetRestorePoint] = []
        for name in try await storage.list(prefix: FleetRestorePoint.prefix) where name.hasSuffix(".json") {
            guard let bytes = try await read(name) else { continue }
            out.append(try JSONCoding.decode(FleetRestorePoint.self, from: bytes, what: name))
        }
        return out.sorted { $0.started < $1.started }
    }

    public func restorePoint(named name: String) async throws -> FleetRestorePoint? {
        guard let bytes = try await read(FleetRestorePoint.objectName(name)) else { return nil }
        return try JSONCoding.decode(FleetRestorePoint.self, from: bytes, what: FleetRestorePoint.objectName(name))
    }

    /// Takes `name` for one attempt at a restore point (`_fleet/restore-points/<name>.reserved`);
    /// false when any attempt took it before, successful or not.
    public func reserveRestorePointName(_ name: String, by owner: String) async throws -> Bool {
        try await writeIfAbsent(FleetRestorePoint.prefix + name + ".reserved", Array(owner.utf8))
    }

    /// Records the point; false (and nothing changed) when a point of that name exists.
    public func record(_ point: FleetRestorePoint) async throws -> Bool {
        try await writeIfAbsent(FleetRestorePoint.objectName(point.name), try JSONCoding.encode(point))
    }
}
