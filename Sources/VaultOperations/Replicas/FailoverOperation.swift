import Foundation
import VaultSupport
import VaultSystem
import VaultPostgres
import VaultPolicy
import VaultFormat
import VaultStorage

/// `vault failover`: promotes a standby when the primary is gone.
///
/// The old primary must be proved gone (no node accepts writes) and fenced (the policy's
/// `fence_command` succeeded, or the operator confirmed it is down) before anything changes.
/// Positions are frozen (each standby's WAL receiver stopped) before they are compared; the
/// most advanced standby wins, and its lag is measured against what vault can prove (the
/// archive and every standby's received WAL). Then replay is resumed and allowed to finish,
/// the candidate promoted and checkpointed, the others re-pointed, and segments the candidate
/// received but the old primary never archived are pushed, so the archive has no gap.
public struct FailoverOperation {
    /// The lag limit when the policy sets none: one WAL segment.
    public static let defaultMaxLagBytes: Int64 = 16 << 20

    public struct Options: Sendable {
        public var target: String?
        public var dryRun: Bool
        public var allowDataLoss: Bool
        public var confirmPrimaryDown: Bool
        public var timeoutSeconds: Double
        public var command: String

        public init(target: String?, dryRun: Bool, allowDataLoss: Bool, confirmPrimaryDown: Bool, timeoutSeconds: Double = 120, command: String) {
            self.target = target
            self.dryRun = dryRun
            self.allowDataLoss = allowDataLoss
            self.confirmPrimaryDown = confirmPrimaryDown
            self.timeoutSeconds = timeoutSeconds
            self.command = command
        }
    }

    /// Also the stable JSON of `vault failover --json`.
    public struct Result: Sendable, Encodable {
        public var shard: String
        public var dryRun: Bool
        public var checks: [ReplicaCheck]
        public var ranking: [String]
        public var from: String?
        public var to: String?
        /// The position the candidate had replayed when it was promoted.
        public var promotedAt: String?
        public var lagBytes: Int64?
        public var timeline: UInt32?
        public var outcome: String
        public var steps: [String]
    }

    public let policy: Policy
    public let shard: ShardPolicy

    public init(policy: Policy, shard: ShardPolicy) {
        self.policy = policy
        self.shard = shard
    }

    /// The newest checkpoint named by the pg_control of an unreachable node whose data
    /// directory is on this host, of the shard's cluster and on the standbys' timeline: a
    /// position the old primary provably reached (a switchover killed after the clean stop
    /// leaves its shutdown checkpoint only there; the last segment is not archived).
    static func stoppedCheckpoint(_ nodes: [NodeState], shard: ShardPolicy, systemIdentifier: String) async -> LSN? {
        let timeline = nodes.filter { $0.reachable && $0.role == .standby }.compactMap(\.timeline).max()
        var newest: LSN?
        for node in nodes where !node.reachable {
            guard let pgdata = shard.nodes.first(where: { $0.name == node.name })?.pgdata, FileIO.exists(pgdata + "/PG_VERSION"),
                  let control = try? await ControlFile.read(dataDirectory: pgdata),
                  String(control.systemIdentifier) == systemIdentifier, control.timeline == timeline else { continue }
            newest = max(newest ?? control.checkpoint, control.checkpoint)
        }
        return newest
    }

    public func run(_ options: Options) async throws -> Result {
        let context = try await ReplicaOperationContext.open(policy: policy, shard: shard, command: options.command)
        let archive = context.archive
        return try await context.withLock("failover") { lock in
            var nodes = NodeProbe.observe(shard)
            var steps: [String] = []
            let gone = nodes.filter { !$0.reachable }.map(\.name)
            let inventory = try await WALInventory.load(archive)
            let archivedThrough = Self.archivedThrough(inventory)
            let stoppedCheckpoint = await Self.stoppedCheckpoint(nodes, shard: shard, systemIdentifier: context.record.systemIdentifier)
            func decide(_ nodes: [NodeState], fenced: Bool?, detail: String) -> FailoverDecision {
                FailoverDecision(.init(nodes: nodes, systemIdentifier: context.record.systemIdentifier, archivedThrough: archivedThrough,
                                       maxLagBytes: shard.failover.maxLagBytes ?? Self.defaultMaxLagBytes, target: options.target,
                                       allowDataLoss: options.allowDataLoss, fenced: fenced, fenceDetail: detail,
                                       stoppedCheckpoint: stoppedCheckpoint))
            }
            // Every other check first, as if fenced: a fence (which may power a machine off) runs
            // only when a promotion would follow.
            let fenceCommand = shard.failover.fenceCommand
            let planned = fenceCommand.map { "fence_command would run: \($0)" }
                ?? (options.confirmPrimaryDown ? "confirmed by the operator (--confirm-primary-down)" : "")
            let precheck = decide(nodes, fenced: fenceCommand != nil || options.confirmPrimaryDown ? true : nil, detail: planned)
            var result = Result(shard: shard.name, dryRun: options.dryRun, checks: precheck.checks, ranking: precheck.ranking,
                                from: gone.count == 1 ? gone[0] : nil, to: precheck.candidate ?? options.target, promotedAt: nil,
                                lagBytes: precheck.lagBytes, timeline: nil, outcome: "", steps: [])
            if options.dryRun {
                result.outcome = precheck.approved ? "would fail over" : "would be refused"
                if precheck.approved, let to = precheck.candidate { result.steps = Self.plan(to: to, others: nodes.filter { $0.role == .standby && $0.name != to }.map(\.name)) }
                return result
            }
            guard precheck.approved else { throw Self.refusal(precheck, shard: shard.name) }

            var fenced = true
            var fenceDetail = planned
            if let fenceCommand {
                (fenced, fenceDetail) = try Self.fence(fenceCommand)
                steps.append("fence_command: \(fenceDetail)")
            }
            guard fenced else {
                let decision = decide(nodes, fenced: false, detail: fenceDetail)
                try await context.record(.failover, from: result.from, to: nil, lsn: nil, timeline: nil, outcome: "refused", steps: steps + ["refused: the fence failed; nothing else was done"])
                throw Self.refusal(decision, shard: shard.name)
            }

            // Freeze: with every WAL receiver stopped, positions cannot move while compared.
            var saved: [String: String] = [:]
            do {
                saved = try await freeze(nodes, context: context)
                steps.append("stopped the WAL receivers of \(saved.keys.sorted().joined(separator: ", "))")
                nodes = NodeProbe.observe(shard)
                let decision = decide(nodes, fenced: true, detail: fenceDetail)
                result.checks = decision.checks
                result.ranking = decision.ranking
                result.lagBytes = decision.lagBytes
                result.to = decision.candidate ?? options.target
                guard decision.approved, let to = decision.candidate else {
                    try thaw(saved, context: context)
                    throw Self.refusal(decision, shard: shard.name)
                }
                result.steps = steps
                return try await promote(to, nodes: nodes, context: context, lock: lock, archive: archive, inventory: inventory, options: options,
                                         result: result)
            } catch let error as OperationError where error.kind == .refused {
                throw error
            } catch {
                // Before a promotion the standbys go back to what they streamed from; after one,
                // they stay where the failover put them.
                if !shard.nodes.contains(where: { NodeProbe.observe($0, shard: shard.name).role == .primary }) { try? thaw(saved, context: context) }
                try? await context.record(.failover, from: result.from, to: result.to, lsn: nil, timeline: result.timeline, outcome: "failed",
                                          steps: steps + ["failed: \(error)"])
                throw error
            }
        }
    }

    /// The end of the newest archived segment on the newest timeline that has one.
    static func archivedThrough(_ inventory: WALInventory) -> LSN? {
        inventory.segments.filter { !$0.value.isEmpty }.max { $0.key < $1.key }
            .flatMap { entry in entry.value.max().map { LSN(($0 + 1) * inventory.segmentSize) } }
    }

    static func refusal(_ decision: FailoverDecision, shard: String) -> OperationError {
        ReplicaOperationContext.refusal("failover of shard \(shard)", decision.refusal, "no node was promoted")
    }

    static func plan(to: String, others: [String]) -> [String] {
        ["run failover.fence_command (or rely on --confirm-primary-down)", "stop every standby's WAL receiver, then compare positions",
         "resume replay on \(to) if paused and wait until it has replayed all it received", "promote \(to), then CHECKPOINT on it"]
            + others.map { "re-point \($0) at \(to) (recovery_target_timeline = latest)" }
            + ["push WAL segments \(to) received that the archive lacks", "confirm the new timeline's history file is in the repository",
               "record the failover (the old primary stays fenced until vault rejoin)"]
    }

    /// Runs the fence command as an argument vector; (true, detail) when it exits 0.
    static func fence(_ command: String) throws -> (Bool, String) {
        let argv = ArgumentVector.split(command)
        guard !argv.isEmpty else { return (false, "failover.fence_command is empty") }
        let run: (status: Int32, tail: [String])
        do {
            run = try ReplicaOperationContext.runLogged(argv, lines: 2)
        } catch {
            return (false, "\(argv[0]) could not run: \(error)")
        }
        let tail = run.tail.joined(separator: "; ")
        return run.status == 0 ? (true, "\(argv[0]) succeeded") : (false, "\(argv[0]) exited \(run.status)\(tail.isEmpty ? "" : ": \(tail)")")
    }

    /// Stops each reachable standby's WAL receiver (primary_conninfo emptied and reloaded);
    /// returns each one's previous primary_conninfo so a refusal can put it back.
    private func freeze(_ nodes: [NodeState], context: ReplicaOperationContext) async throws -> [String: String] {
        var saved: [String: String] = [:]
        for node in nodes where node.reachable && node.role == .standby {
            let conn = try context.control(node.name).connect()
            saved[node.name] = try conn.scalarOrNil("SHOW primary_conninfo") ?? ""
            try NodeControl.repoint(conn, to: "")
        }
        for name in saved.keys {
            let conn = try context.control(name).connect()
            for _ in 0..<50 {
                if try conn.scalarOrNil("SELECT count(*)::text FROM pg_stat_wal_receiver WHERE status = 'streaming'") == "0" { break }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        return saved
    }

    private func thaw(_ saved: [String: String], context: ReplicaOperationContext) throws {
        for (name, conninfo) in saved {
            try NodeControl.repoint(try context.control(name).connect(), to: conninfo)
        }
    }

    private func promote(_ to: String, nodes: [NodeState], context: ReplicaOperationContext, lock: any StorageLock, archive: WALArchive,
                         inventory: WALInventory, options: Options, result: Result) async throws -> Result {
        var result = result
        var steps = result.steps
        let target = try context.control(to)
        let conn = try target.connect()
        if try conn.scalar("SELECT pg_get_wal_replay_pause_state()") != "not paused" {
            try conn.query("SELECT pg_wal_replay_resume()")
            steps.append("resumed replay on \(to)")
        }
        let caughtUp = try await ReplicaOperationContext.wait(seconds: options.timeoutSeconds) {
            try conn.scalar("SELECT (pg_last_wal_replay_lsn() >= coalesce(pg_last_wal_receive_lsn(), '0/0'))::text") == "true"
        }
        let replayed = try conn.scalarOrNil("SELECT pg_last_wal_replay_lsn()::text").flatMap { LSN($0) }
        steps.append(caughtUp ? "\(to) replayed everything it received (to \(replayed.map(\.description) ?? "?"))"
                              : "\(to) did not finish replaying within \(Int(options.timeoutSeconds)) s; promoting at \(replayed.map(\.description) ?? "?")")
        result.promotedAt = replayed?.description
        // Before promotion, while the segments are still the standby's own: push what the old
        // primary streamed but never archived, and name what nobody holds.
        let oldTimeline = nodes.first { $0.name == to }?.timeline ?? 1
        if let replayed {
            do {
                steps += try await ArchiveContinuity(conn: conn, archive: archive, inventory: inventory, timeline: oldTimeline, switchpoint: replayed).pushMissing()
            } catch {
                steps.append("archive continuity: NOT checked (\(error)); check the archive across the switch with vault verify")
            }
        }
        try await lock.confirm()
        guard try conn.scalar("SELECT pg_promote(true, \(Int(options.timeoutSeconds)))") == "t" else {
            throw OperationError(.database, "failover of shard \(shard.name): pg_promote() on \(to) did not finish within \(Int(options.timeoutSeconds)) s; run vault status")
        }
        try conn.query("CHECKPOINT")
        let timeline = UInt32(try conn.scalar("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"), radix: 16)
        result.timeline = timeline
        steps.append("promoted \(to) (timeline \(timeline.map(String.init) ?? "?")) and ran CHECKPOINT")

        var followers: [NodePolicy] = []
        for state in nodes where state.name != to && state.reachable && state.role == .standby {
            guard let node = shard.nodes.first(where: { $0.name == state.name }) else { continue }
            if state.systemIdentifier != nodes.first(where: { $0.name == to })?.systemIdentifier {
                steps.append("left \(state.name) alone: it is another cluster")
                continue
            }
            if let position = state.position, let replayed, position > replayed {
                steps.append("\(state.name) holds WAL past \(to)'s promotion point (\(position) > \(replayed)): it cannot follow; rejoin it with vault rejoin --node \(state.name)")
                continue
            }
            try NodeControl.repoint(try context.control(node.name).connect(), to: target.streamingConninfo(for: node.name))
            followers.append(node)
            steps.append("re-pointed \(node.name) at \(to)")
        }
        let notStreaming = try await ReplicaOperationContext.waitStreaming(followers, from: to, shard: shard, seconds: options.timeoutSeconds)
        if !followers.isEmpty {
            steps.append(notStreaming.isEmpty ? "\(followers.map(\.name).joined(separator: ", ")) stream from \(to)" : "NOT streaming from \(to): \(notStreaming.joined(separator: ", "))")
        }
        let archived = try await context.waitHistoryArchived(timeline ?? 1, seconds: options.timeoutSeconds)
        steps.append(archived ? "timeline \(timeline.map(String.init) ?? "?")'s history file is in the repository"
                              : "timeline \(timeline.map(String.init) ?? "?")'s history file did NOT reach the repository: check archive_command on \(to)")
        if let from = result.from { steps.append("\(from) stays fenced until vault rejoin --node \(from)") }
        let warnings = steps.contains { $0.contains("NOT") || $0.contains("MISSING") || $0.contains("cannot follow") }
        result.outcome = warnings ? "completed with warnings" : "completed"
        result.steps = steps
        try await context.record(.failover, from: result.from, to: to, lsn: replayed, timeline: timeline, outcome: result.outcome, steps: steps)
        return result
    }
}
