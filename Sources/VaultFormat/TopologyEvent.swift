import Foundation
import VaultSupport

/// One switchover, failover or rejoin of a shard, kept in the repository
/// (`<shard>/events/<time>-<kind>.json`, sealed like every object) so `vault status` can say
/// what changed the shard's topology, when, by whom, and how it ended.
public struct TopologyEvent: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case switchover, failover, rejoin
    }

    public var format: Int
    public var shard: String
    public var kind: Kind
    /// When it started and ended (UTC, ISO 8601).
    public var started: String
    public var finished: String
    /// Who ran it: the OS user and the host.
    public var user: String
    public var host: String
    /// The command line's vault arguments, without secrets (vault never takes one in argv).
    public var command: String
    /// The old primary (switchover, failover) or the node rejoined.
    public var from: String?
    /// The node promoted (switchover, failover) or followed (rejoin).
    public var to: String?
    /// The LSN the change turned on: the old primary's shutdown checkpoint (switchover), the
    /// candidate's replayed position (failover), the rejoined node's new start (rejoin).
    public var lsn: String?
    /// The new primary's timeline after the change.
    public var timeline: UInt32?
    /// `completed`, `rolled back`, or `failed`.
    public var outcome: String
    /// What was done, one line each, in order; the last says why it failed when it did.
    public var steps: [String]

    public init(shard: String, kind: Kind, started: String, finished: String, user: String, host: String, command: String,
                from: String?, to: String?, lsn: String?, timeline: UInt32?, outcome: String, steps: [String]) {
        format = 1
        self.shard = shard
        self.kind = kind
        self.started = started
        self.finished = finished
        self.user = user
        self.host = host
        self.command = command
        self.from = from
        self.to = to
        self.lsn = lsn
        self.timeline = timeline
        self.outcome = outcome
        self.steps = steps
    }

    public static func objectName(shard: String, kind: Kind, started: String) -> String {
        "\(shard)/events/\(started.filter { $0.isNumber || $0 == "T" })-\(kind.rawValue).json"
    }
}

extension Repository {
    /// The shard's topology events, oldest first.
    public func topologyEvents(shard: String) async throws -> [TopologyEvent] {
        var out: [TopologyEvent] = []
        for name in try await storage.list(prefix: "\(shard)/events") where name.hasSuffix(".json") {
            guard let bytes = try await read(name) else { continue }
            out.append(try JSONCoding.decode(TopologyEvent.self, from: bytes, what: name))
        }
        return out.sorted { $0.started < $1.started }
    }

    public func record(_ event: TopologyEvent) async throws {
        try await write(TopologyEvent.objectName(shard: event.shard, kind: event.kind, started: event.started), try JSONCoding.encode(event))
    }
}
