import VaultPostgres

/// Whether a failover may promote, and whom: every check of the failover rules (docs/ARCHITECTURE.md), from
/// node states frozen by the caller (WAL receivers stopped). Pure: values in, plan out.
public struct FailoverDecision: Sendable, Codable, Equatable {
    public struct Input: Sendable {
        public var nodes: [NodeState]
        /// The shard's cluster, from the repository's shard record.
        public var systemIdentifier: String?
        /// Where the archive proves the old primary had written to: the end of the newest
        /// archived segment on the highest timeline.
        public var archivedThrough: LSN?
        public var maxLagBytes: Int64
        /// The operator's choice (`--to`), if any.
        public var target: String?
        public var allowDataLoss: Bool
        /// The fence's outcome: nil when none is configured and none was confirmed.
        public var fenced: Bool?
        public var fenceDetail: String
        /// The newest checkpoint in the pg_control of a stopped node of this host, on the
        /// standbys' timeline: the old primary wrote at least that far (after a switchover cut
        /// short, its shutdown checkpoint, which only its pg_control names).
        public var stoppedCheckpoint: LSN?

        public init(nodes: [NodeState], systemIdentifier: String?, archivedThrough: LSN?, maxLagBytes: Int64, target: String?,
                    allowDataLoss: Bool, fenced: Bool?, fenceDetail: String, stoppedCheckpoint: LSN? = nil) {
            self.stoppedCheckpoint = stoppedCheckpoint
            self.nodes = nodes
            self.systemIdentifier = systemIdentifier
            self.archivedThrough = archivedThrough
            self.maxLagBytes = maxLagBytes
            self.target = target
            self.allowDataLoss = allowDataLoss
            self.fenced = fenced
            self.fenceDetail = fenceDetail
        }
    }

    public var checks: [ReplicaCheck]
    /// The node to promote, when every check passed.
    public var candidate: String?
    /// The furthest position vault can prove the old primary reached.
    public var reference: LSN?
    /// How far the candidate is behind `reference`: what promoting it loses.
    public var lagBytes: Int64?
    public var ranking: [String]

    public var approved: Bool { candidate != nil && checks.allSatisfy(\.passed) }
    /// The first failed check, for the refusal.
    public var refusal: ReplicaCheck? { checks.first { !$0.passed } }

    public init(_ input: Input) {
        var checks: [ReplicaCheck] = []
        let writable = input.nodes.filter { $0.reachable && $0.role == .primary }
        checks.append(ReplicaCheck(
            "no node accepts writes", writable.isEmpty,
            writable.isEmpty ? "no reachable node is a primary (unreachable: \(input.nodes.filter { !$0.reachable }.map(\.name).joined(separator: ", ").nilIfEmpty ?? "none"))"
                : "\(writable.map(\.name).joined(separator: ", ")) accepts writes: the primary is not gone; use vault switchover, or stop and fence it first"))
        // Unreachable is not gone: a refused password or a full connection table proves a server
        // runs there, and a standby that still streams from a node proves that node is up.
        let unreachable = input.nodes.filter { !$0.reachable }
        let answering = unreachable.filter { !$0.down }
        let streaming = input.nodes.filter { $0.reachable && $0.role == .standby }.filter { standby in unreachable.contains { standby.streams(from: $0) } }
        checks.append(ReplicaCheck(
            "old primary proved gone", answering.isEmpty && streaming.isEmpty,
            !answering.isEmpty ? "\(answering.map { "\($0.name) (\($0.error ?? "?"))" }.joined(separator: "; ")): a server answers there, it is not down; fix the access or stop it first"
                : !streaming.isEmpty ? "\(streaming.map(\.name).joined(separator: ", ")) still stream from an unreachable node: it is up; use vault switchover, or stop it first"
                : unreachable.isEmpty ? "no node is unreachable" : "\(unreachable.map(\.name).joined(separator: ", ")) refuse connections or do not answer"))
        switch input.fenced {
        case .some(true): checks.append(ReplicaCheck("old primary fenced", true, input.fenceDetail))
        case .some(false): checks.append(ReplicaCheck("old primary fenced", false, input.fenceDetail + "; fix failover.fence_command, or remove it from the policy and pass --confirm-primary-down once you fenced the old primary yourself"))
        case .none: checks.append(ReplicaCheck("old primary fenced", false, "no failover.fence_command in the policy: fence the old primary yourself, then pass --confirm-primary-down"))
        }

        let ranked = CandidateRanking.rank(input.nodes, systemIdentifier: input.systemIdentifier)
        ranking = ranked.map(\.name)
        let excluded = input.nodes.compactMap { node in
            CandidateRanking.ineligibility(node, systemIdentifier: input.systemIdentifier).map { "\(node.name): \($0)" }
        }
        var chosen: NodeState?
        if let target = input.target {
            if let node = input.nodes.first(where: { $0.name == target }) {
                if let why = CandidateRanking.ineligibility(node, systemIdentifier: input.systemIdentifier) {
                    checks.append(ReplicaCheck("candidate", false, "\(target) cannot be promoted: \(why)"))
                } else {
                    chosen = node
                    checks.append(ReplicaCheck("candidate", true, "\(target), as asked (ranking: \(ranking.joined(separator: " > ")))"))
                }
            } else {
                checks.append(ReplicaCheck("candidate", false, "\(target) is not a node of this shard"))
            }
        } else if let best = ranked.first {
            chosen = best
            checks.append(ReplicaCheck("candidate", true, "\(best.name) is the most advanced (ranking: \(ranking.joined(separator: " > ")))"))
        } else {
            checks.append(ReplicaCheck("candidate", false, "no standby can be promoted (\(excluded.joined(separator: "; ")))"))
        }

        // Lag against what vault can prove: the archive, every replica's received WAL and a
        // stopped node's pg_control, never a remembered primary position that would freeze
        // and block failover forever.
        let received = input.nodes.filter { $0.reachable && $0.role == .standby && (input.systemIdentifier == nil || $0.systemIdentifier == input.systemIdentifier) }
            .compactMap(\.position)
        let reference = (received + [input.archivedThrough, input.stoppedCheckpoint].compactMap { $0 }).max()
        self.reference = reference
        if let chosen {
            if let best = ranked.first, best.name != chosen.name, CandidateRanking.better(best, chosen),
               (best.position ?? LSN(0)) > (chosen.position ?? LSN(0)) {
                checks.append(ReplicaCheck("most advanced", input.allowDataLoss,
                                           "\(best.name) holds WAL to \(best.position.map(\.description) ?? "?"), \(chosen.name) only to \(chosen.position.map(\.description) ?? "?")\(input.allowDataLoss ? "; --allow-data-loss given" : "; promote \(best.name), or pass --allow-data-loss")"))
            }
            let position = chosen.position ?? LSN(0)
            let lag = reference.map { $0.value > position.value ? Int64($0.value - position.value) : 0 }
            lagBytes = lag
            let within = (lag ?? 0) <= input.maxLagBytes
            checks.append(ReplicaCheck(
                "lag", within || input.allowDataLoss,
                "\(chosen.name) holds WAL to \(position); proven primary position \(reference.map(\.description) ?? "unknown") (archive \(input.archivedThrough.map(\.description) ?? "empty"), replicas \(received.max().map(\.description) ?? "none")\(input.stoppedCheckpoint.map { ", a stopped node's pg_control \($0)" } ?? "")): \(lag ?? 0) bytes behind, limit \(input.maxLagBytes)"
                    + (within ? "" : input.allowDataLoss ? "; --allow-data-loss given" : "; pass --allow-data-loss to promote anyway and lose them")))
            if let setting = chosen.synchronousStandbyNames, !setting.trimmingSpaces().isEmpty {
                let sync = CandidateRanking.isSynchronous(chosen.name, in: setting)
                checks.append(ReplicaCheck("synchronous standby", sync || input.allowDataLoss,
                                           sync ? "\(chosen.name) is named in synchronous_standby_names (\(setting))"
                                                : "synchronous_standby_names is '\(setting)' and does not name \(chosen.name): committed transactions may exist only on a synchronous standby\(input.allowDataLoss ? "; --allow-data-loss given" : "; pass --allow-data-loss to promote it anyway")"))
            }
        } else {
            lagBytes = nil
        }
        self.checks = checks
        candidate = checks.allSatisfy(\.passed) ? chosen?.name : nil
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
