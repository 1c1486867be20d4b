import VaultPostgres

/// Whether a planned switchover may start, and to whom. Pure: node states in, checks out.
/// A switchover loses nothing by construction (the old primary stops cleanly and the target
/// must have replayed its shutdown checkpoint before it is promoted), so these checks are about
/// whether it can finish quickly and cleanly, not about data loss.
public struct SwitchoverDecision: Sendable, Codable, Equatable {
    public struct Input: Sendable {
        public var nodes: [NodeState]
        public var systemIdentifier: String?
        public var maxLagBytes: Int64
        /// `.ready` files above this delay a clean shutdown (PostgreSQL archives them first).
        public var maxArchiveBacklog: Int
        public var target: String?
        /// Whether vault can stop and start the primary (a local pgdata, or stop and start commands).
        public var primaryControllable: String?

        public init(nodes: [NodeState], systemIdentifier: String?, maxLagBytes: Int64, maxArchiveBacklog: Int, target: String?,
                    primaryControllable: String?) {
            self.nodes = nodes
            self.systemIdentifier = systemIdentifier
            self.maxLagBytes = maxLagBytes
            self.maxArchiveBacklog = maxArchiveBacklog
            self.target = target
            self.primaryControllable = primaryControllable
        }
    }

    public var checks: [ReplicaCheck]
    public var primary: String?
    public var candidate: String?

    public var approved: Bool { candidate != nil && checks.allSatisfy(\.passed) }
    public var refusal: ReplicaCheck? { checks.first { !$0.passed } }

    public init(_ input: Input) {
        var checks: [ReplicaCheck] = []
        let writable = input.nodes.filter { $0.reachable && $0.role == .primary }
        let primary = writable.count == 1 ? writable[0] : nil
        self.primary = primary?.name
        checks.append(ReplicaCheck("one primary", primary != nil,
                                   primary.map { "\($0.name) accepts writes on timeline \($0.timeline.map(String.init) ?? "?")" }
                                       ?? (writable.isEmpty ? "no reachable node accepts writes: use vault failover"
                                                            : "\(writable.map(\.name).joined(separator: ", ")) all accept writes: resolve the split brain first")))
        guard let primary else {
            self.checks = checks
            candidate = nil
            return
        }
        checks.append(ReplicaCheck("primary can be stopped and started", input.primaryControllable != nil,
                                   input.primaryControllable ?? "node \(primary.name) has no pgdata on this host and no stop_command/start_command in the policy"))

        let streaming = input.nodes.filter { $0.role == .standby && $0.reachable && $0.streams(from: primary) }
        var chosen: NodeState?
        if let target = input.target {
            if let node = input.nodes.first(where: { $0.name == target }) {
                if let why = CandidateRanking.ineligibility(node, systemIdentifier: input.systemIdentifier) {
                    checks.append(ReplicaCheck("target", false, "\(target) cannot be promoted: \(why)"))
                } else {
                    chosen = node
                    checks.append(ReplicaCheck("target", true, "\(target), as asked"))
                }
            } else {
                checks.append(ReplicaCheck("target", false, "\(target) is not a node of this shard"))
            }
        } else if let best = CandidateRanking.rank(streaming, systemIdentifier: input.systemIdentifier).first {
            chosen = best
            checks.append(ReplicaCheck("target", true, "\(best.name), the most advanced standby streaming from \(primary.name)"))
        } else {
            checks.append(ReplicaCheck("target", false, "no eligible standby streams from \(primary.name)"))
        }
        if let chosen {
            checks.append(ReplicaCheck("streams from the primary", chosen.streams(from: primary),
                                       chosen.streams(from: primary) ? "\(chosen.name) streams from \(primary.name)"
                                           : "\(chosen.name) does not stream from \(primary.name) (\(chosen.upstream.map { "\($0.status) from \($0.host ?? "?"):\($0.port ?? "?")" } ?? "no WAL receiver"))"))
            let sameTimeline = chosen.timeline != nil && chosen.timeline == primary.timeline
            checks.append(ReplicaCheck("same timeline", sameTimeline,
                                       "\(chosen.name) on timeline \(chosen.timeline.map(String.init) ?? "?"), \(primary.name) on \(primary.timeline.map(String.init) ?? "?")"))
            checks.append(ReplicaCheck("replay running", chosen.replayPaused != true,
                                       chosen.replayPaused == true ? "replay is paused on \(chosen.name): run SELECT pg_wal_replay_resume() there" : "replay is not paused"))
            let head = primary.currentLSN ?? LSN(0)
            let replayed = chosen.replayLSN ?? LSN(0)
            let lag = head.value > replayed.value ? Int64(head.value - replayed.value) : 0
            checks.append(ReplicaCheck("lag", lag <= input.maxLagBytes,
                                       "\(chosen.name) replayed to \(replayed), \(primary.name) at \(head): \(lag) bytes behind, limit \(input.maxLagBytes)"))
        }
        let backlog = primary.archiver?.readyCount
        checks.append(ReplicaCheck("archive backlog", (backlog ?? 0) <= input.maxArchiveBacklog,
                                   backlog.map { "\($0) WAL file(s) waiting to be archived, limit \(input.maxArchiveBacklog) (a clean shutdown archives them first)" }
                                       ?? "unknown (the primary did not say); assuming none"))
        self.checks = checks
        candidate = checks.allSatisfy(\.passed) ? chosen?.name : nil
    }
}
