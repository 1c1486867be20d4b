import Foundation
import VaultSupport
import VaultSystem
import VaultPostgres
import VaultPolicy
import VaultFormat
import VaultStorage

/// `vault switchover`: a planned change of primary that loses nothing.
///
/// The old primary is checkpointed and stopped cleanly, so its last record is a shutdown
/// checkpoint that PostgreSQL streams to the connected standbys before it exits; the target is
/// promoted only once it has replayed past that record, so it holds every committed
/// transaction. If it does not get there in time, the old primary is started again, still a
/// primary, and nothing has changed. Then the other standbys follow the new primary, and the
/// old primary comes back as a standby. Its standby.signal and primary_conninfo are written as
/// soon as it has stopped, before the target is promoted: if vault is killed at any point
/// after that, the old primary can only ever start as a standby of the target (a rollback
/// takes them out again before restarting it as the primary).
public struct SwitchoverOperation {
    public struct Options: Sendable {
        public var target: String?
        public var dryRun: Bool
        /// How long each wait may take (the target's replay, standbys reconnecting).
        public var timeoutSeconds: Double
        /// `.ready` files the primary may still have to archive before it can stop.
        public var maxArchiveBacklog: Int
        public var command: String

        public init(target: String?, dryRun: Bool, timeoutSeconds: Double = 120, maxArchiveBacklog: Int = 16, command: String) {
            self.target = target
            self.dryRun = dryRun
            self.timeoutSeconds = timeoutSeconds
            self.maxArchiveBacklog = maxArchiveBacklog
            self.command = command
        }
    }

    /// Also the stable JSON of `vault switchover --json`.
    public struct Result: Sendable, Encodable {
        public var shard: String
        public var dryRun: Bool
        public var checks: [ReplicaCheck]
        public var from: String?
        public var to: String?
        /// The old primary's shutdown checkpoint, which the new primary replayed.
        public var shutdownCheckpoint: String?
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

    public func run(_ options: Options) async throws -> Result {
        let context = try await ReplicaOperationContext.open(policy: policy, shard: shard, command: options.command)
        return try await context.withLock("switchover") { lock in
            let nodes = NodeProbe.observe(shard)
            let primaryName = nodes.first { $0.reachable && $0.role == .primary }?.name
            let controllable = try primaryName.map { try context.control($0) }.flatMap { control -> String? in
                // The shutdown checkpoint is read from pg_control, so the primary's pgdata must be here.
                control.node.pgdata.map { FileIO.exists($0 + "/PG_VERSION") } == true ? control.controllable : nil
            }
            let decision = SwitchoverDecision(.init(nodes: nodes, systemIdentifier: context.record.systemIdentifier,
                                                    maxLagBytes: shard.failover.maxLagBytes ?? FailoverOperation.defaultMaxLagBytes,
                                                    maxArchiveBacklog: options.maxArchiveBacklog, target: options.target,
                                                    primaryControllable: controllable))
            var result = Result(shard: shard.name, dryRun: options.dryRun, checks: decision.checks, from: decision.primary,
                                to: decision.candidate ?? options.target, shutdownCheckpoint: nil, timeline: nil, outcome: "", steps: [])
            if options.dryRun {
                result.outcome = decision.approved ? "would switch over" : "would be refused"
                result.steps = decision.approved ? Self.plan(from: decision.primary ?? "?", to: decision.candidate ?? "?", others: otherStandbys(nodes, decision)) : []
                return result
            }
            guard decision.approved, let from = decision.primary, let to = decision.candidate else {
                throw ReplicaOperationContext.refusal("switchover of shard \(shard.name)", decision.refusal, "nothing was changed")
            }
            return try await switchOver(from: from, to: to, others: otherStandbys(nodes, decision), context: context, lock: lock, options: options, result: result)
        }
    }

    private func otherStandbys(_ nodes: [NodeState], _ decision: SwitchoverDecision) -> [String] {
        nodes.filter { $0.role == .standby && $0.reachable && $0.name != decision.candidate }.map(\.name)
    }

    static func plan(from: String, to: String, others: [String]) -> [String] {
        ["CHECKPOINT on \(from)", "stop \(from) cleanly (fast shutdown) and read its shutdown checkpoint from pg_control",
         "write standby.signal and primary_conninfo (to \(to)) into \(from)",
         "wait until \(to) has replayed past it (else take the standby settings out of \(from) and start it again as primary: rolled back)",
         "promote \(to), then CHECKPOINT on it"]
            + others.map { "re-point \($0) at \(to) (recovery_target_timeline = latest) and confirm it streams" }
            + ["start \(from) as a standby of \(to), confirm it streams",
               "confirm the new timeline's history file is in the repository", "record the switchover in the repository"]
    }

    private func switchOver(from: String, to: String, others: [String], context: ReplicaOperationContext, lock: any StorageLock,
                            options: Options, result: Result) async throws -> Result {
        var result = result
        var steps: [String] = []
        let old = try context.control(from)
        let target = try context.control(to)
        let pgdata = try old.localData()
        let autoConf = pgdata + "/postgresql.auto.conf"
        // The settings the old primary ran with (read once it has stopped), put back by a rollback.
        var originalAutoConf: [UInt8]?
        var stopped = false
        var standbySettingsWritten = false
        // Set before pg_promote() is called: a promotion asked for may finish after a timeout
        // or a lost connection, so from then on the old primary is never started as primary.
        var promoteRequested = false
        var promoted = false
        do {
            try old.connect().query("CHECKPOINT")
            steps.append("CHECKPOINT on \(from)")
            try old.stop()
            stopped = true
            let control = try await ControlFile.read(dataDirectory: pgdata)
            guard control.state == .shutDown else {
                throw Rollback("\(from) did not shut down cleanly (pg_control state \(control.state.map { "\($0)" } ?? "unknown"))")
            }
            let checkpoint = control.checkpoint
            result.shutdownCheckpoint = checkpoint.description
            steps.append("stopped \(from) cleanly; shutdown checkpoint at \(checkpoint)")
            originalAutoConf = try FileIO.readIfExists(autoConf)
            standbySettingsWritten = true
            try old.writeStandbySettings(primaryConninfo: target.streamingConninfo(for: from),
                                         restoreCommand: RecoverySettings.restoreCommand(vaultPath: RestoreOperation.executablePath(),
                                                                                         policyPath: policy.sourcePath, shard: shard.name))
            steps.append("wrote standby.signal and primary_conninfo into \(from): it can start only as a standby of \(to) from here on")

            let targetConn = try target.connect()
            let replayed = try await ReplicaOperationContext.wait(seconds: options.timeoutSeconds) {
                guard let text = try targetConn.scalarOrNil("SELECT pg_last_wal_replay_lsn()::text"), let lsn = LSN(text) else { return false }
                return lsn > checkpoint
            }
            guard replayed else {
                throw Rollback("\(to) did not replay \(from)'s shutdown checkpoint \(checkpoint) within \(Int(options.timeoutSeconds)) s")
            }
            steps.append("\(to) replayed past \(checkpoint)")

            try await lock.confirm()
            promoteRequested = true
            guard try targetConn.scalar("SELECT pg_promote(true, \(Int(options.timeoutSeconds)))") == "t" else {
                throw OperationError(.database, "pg_promote() on \(to) did not finish within \(Int(options.timeoutSeconds)) s")
            }
            promoted = true
            try targetConn.query("CHECKPOINT")
            let timeline = try targetConn.scalar("SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)")
            result.timeline = UInt32(timeline, radix: 16)
            steps.append("promoted \(to) (timeline \(result.timeline.map(String.init) ?? "?")) and ran CHECKPOINT")

            for name in others {
                let standby = try context.control(name)
                try NodeControl.repoint(try standby.connect(), to: target.streamingConninfo(for: name))
                steps.append("re-pointed \(name) at \(to)")
            }
            try old.start()
            steps.append("started \(from) as a standby of \(to)")

            let followers = shard.nodes.filter { $0.name == from || others.contains($0.name) }
            let notStreaming = try await ReplicaOperationContext.waitStreaming(followers, from: to, shard: shard, seconds: options.timeoutSeconds)
            steps.append(notStreaming.isEmpty ? "\(followers.map(\.name).joined(separator: ", ")) stream from \(to)"
                                              : "NOT streaming from \(to) after \(Int(options.timeoutSeconds)) s: \(notStreaming.joined(separator: ", "))")
            let archived = try await context.waitHistoryArchived(result.timeline ?? 1, seconds: options.timeoutSeconds)
            steps.append(archived ? "timeline \(result.timeline.map(String.init) ?? "?")'s history file is in the repository"
                                  : "timeline \(result.timeline.map(String.init) ?? "?")'s history file did NOT reach the repository: check archive_command on \(to)")
            result.outcome = notStreaming.isEmpty && archived ? "completed" : "completed with warnings"
            result.steps = steps
            try await context.record(.switchover, from: from, to: to, lsn: checkpoint, timeline: result.timeline, outcome: result.outcome, steps: steps)
            return result
        } catch {
            // Before the promotion nothing is lost by going back: the old primary starts again
            // as the primary it was. After it, the record says where things stand.
            let reason = (error as? Rollback)?.reason ?? "\(error)"
            if stopped && !promoteRequested {
                var restarted = false
                do {
                    if standbySettingsWritten {
                        if let originalAutoConf { try old.writeOwned(autoConf, originalAutoConf) } else { try FileIO.removeIfExists(autoConf) }
                        try FileIO.removeIfExists(pgdata + "/standby.signal")
                    }
                    try old.start()
                    restarted = true
                } catch {
                    steps.append("could not undo the standby settings or start \(from): \(error)")
                }
                steps.append("\(reason); \(restarted ? "started \(from) again as primary" : "could NOT start \(from) again: start it by hand")")
                try? await context.record(.switchover, from: from, to: to, lsn: result.shutdownCheckpoint.flatMap { LSN($0) }, timeline: nil,
                                          outcome: "rolled back", steps: steps)
                throw OperationError(error is Rollback ? .checkFailed : .database,
                                     "switchover of shard \(shard.name) rolled back: \(reason); \(restarted ? "\(from) runs as primary again and nothing else changed" : "\(from) is stopped: remove its standby.signal if present, then start it")")
            }
            steps.append("failed: \(reason)")
            let stage = promoted ? " after \(to) was promoted" : promoteRequested ? " after \(to)'s promotion was requested (it may still finish; \(from) stays stopped as a standby of \(to))" : ""
            try? await context.record(.switchover, from: from, to: to, lsn: nil, timeline: result.timeline,
                                      outcome: promoted ? "failed after promotion" : promoteRequested ? "failed after promotion was requested" : "failed", steps: steps)
            throw OperationError(.database, "switchover of shard \(shard.name) failed\(stage): \(reason); run vault status")
        }
    }

    /// Why a switchover goes back to the old primary.
    private struct Rollback: Error {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }
}
