import VaultPostgres

/// A shard's replication as its nodes describe it, with what is wrong ("drift"): the part of
/// `vault status` an operator reads before a switchover or a failover. Pure.
public struct Topology: Sendable, Codable, Equatable {
    public var shard: String
    public var nodes: [NodeState]
    /// The one writable node, when there is exactly one.
    public var primary: String?
    /// What does not match a healthy shard, one line each; empty when none.
    public var drift: [String]
    /// Worth knowing but not drift: unreachable standbys, archiver failures, paused replay.
    public var warnings: [String]

    public init(shard: String, nodes: [NodeState]) {
        self.shard = shard
        self.nodes = nodes
        var drift: [String] = []
        var warnings: [String] = []
        let writable = nodes.filter { $0.reachable && $0.role == .primary }
        if writable.count > 1 {
            drift.append("\(writable.count) nodes accept writes (\(writable.map(\.name).joined(separator: ", "))): split brain; fence all but one")
        } else if writable.isEmpty {
            drift.append("no reachable node accepts writes")
        }
        let primary = writable.count == 1 ? writable[0] : nil
        self.primary = primary?.name

        let identifiers = Set(nodes.compactMap(\.systemIdentifier))
        if identifiers.count > 1, let reference = primary?.systemIdentifier ?? nodes.compactMap(\.systemIdentifier).first {
            for node in nodes where node.systemIdentifier.map({ $0 != reference }) == true {
                drift.append("\(node.name) is cluster \(node.systemIdentifier ?? "?"), not \(reference): it is not a copy of this shard")
            }
        }
        for node in nodes {
            guard node.reachable else {
                warnings.append("\(node.name) is unreachable: \(node.error ?? "no answer")")
                continue
            }
            if let archiver = node.archiver, archiver.failedCount > 0, node.role == .primary, let failed = archiver.lastFailedWAL,
               failed > (archiver.lastArchivedWAL ?? "") {
                warnings.append("\(node.name): archive_command is failing (last failure: \(failed))")
            }
            guard node.role == .standby, let primary else { continue }
            if node.replayPaused == true { warnings.append("\(node.name): replay is paused") }
            if !node.streams(from: primary) {
                let source = node.upstream.map { u in "\(u.status) from \(u.host ?? "?"):\(u.port ?? "?")" } ?? "not streaming"
                drift.append("\(node.name) does not stream from the primary \(primary.name) (\(source))")
            }
            if let timeline = node.timeline, let primaryTimeline = primary.timeline, timeline != primaryTimeline {
                drift.append("\(node.name) is on timeline \(timeline), the primary \(primary.name) on \(primaryTimeline)")
            }
        }
        if let primary {
            let streamingStandbys = nodes.filter { $0.role == .standby && $0.reachable && $0.streams(from: primary) }.count
            let connections = primary.downstream.filter { $0.state == "streaming" }.count
            if connections > streamingStandbys {
                drift.append("the primary \(primary.name) streams to \(connections - streamingStandbys) standby connection(s) that are not nodes of the policy")
            }
        }
        self.drift = drift
        self.warnings = warnings
    }

    /// Bytes `node` is behind the primary's current position (nil when either is unknown).
    public func lagBytes(_ node: NodeState) -> Int64? {
        guard let primary = nodes.first(where: { $0.name == self.primary }), let head = primary.currentLSN,
              let position = node.role == .standby ? (node.replayLSN ?? node.receiveLSN) : nil else { return nil }
        return head.value >= position.value ? Int64(head.value - position.value) : 0
    }
}
