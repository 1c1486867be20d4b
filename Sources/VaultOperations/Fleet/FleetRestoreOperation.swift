import Foundation
import VaultSupport
import VaultSystem
import VaultPostgres
import VaultFormat
import VaultPolicy

/// `vault restore --all-shards --target-name NAME --target-root DIR`: every shard restored to
/// the fleet restore point NAME, each into `DIR/<shard>`, in parallel.
///
/// Nothing is written until every shard passed the checks: the point is in the catalog and
/// has the shard's position, a backup of the shard ended before that position, the archive
/// holds the WAL from that backup to the position, the server binaries are there for
/// `--start`, and `DIR/<shard>` is missing or empty. The backup is chosen by the point's LSN
/// (a name alone says nothing of where it lies), and recovery stops right after the point's
/// record by that LSN (`recovery_target_lsn`, not inclusive), on the point's timeline: a point
/// of the same name elsewhere in the WAL cannot be taken for it.
public struct FleetRestoreOperation: Sendable {
    let policy: Policy

    public struct Options: Sendable {
        public var name: String
        public var targetRoot: String
        public var start: Bool
        /// Shard i (in policy order) listens on portBase + i, so restored copies do not take
        /// each other's or the live servers' ports.
        public var portBase: Int?
        public var targetAction: String

        public init(name: String, targetRoot: String, start: Bool = false, portBase: Int? = nil, targetAction: String = "promote") {
            self.name = name
            self.targetRoot = targetRoot
            self.start = start
            self.portBase = portBase
            self.targetAction = targetAction
        }
    }

    /// What was checked for one shard before anything was written.
    public struct ShardPlan: Sendable {
        public var shard: String
        public var backup: String
        public var target: RecoveryTarget
        public var timeline: UInt32
        public var targetDir: String
    }

    public init(policy: Policy) {
        self.policy = policy
    }

    /// One shard's restore, for the fleet report.
    public struct ShardResult: Sendable, Encodable {
        public var shard: String
        public var targetDir: String
        public var port: Int?
        public var restore: RestoreOperation.Result
    }

    /// Restores one planned shard to the point (after `plan` passed for every shard).
    public func restore(_ shard: ShardPolicy, plans: [ShardPlan], _ options: Options) async throws -> ShardResult {
        guard let index = plans.firstIndex(where: { $0.shard == shard.name }) else { throw OperationError(.usage, "shard \(shard.name) was not planned") }
        let plan = plans[index]
        var restore = RestoreOperation.Options(targetDir: plan.targetDir, backupID: plan.backup, target: plan.target,
                                               targetAction: options.targetAction, targetTimeline: String(plan.timeline))
        restore.start = options.start
        restore.port = options.portBase.map { $0 + index }
        let result = try await RestoreOperation(policy: policy, shard: shard).run(restore)
        return ShardResult(shard: shard.name, targetDir: plan.targetDir, port: restore.port, restore: result)
    }

    /// Every shard's backup and WAL, checked; throws naming every shard that cannot be restored.
    public func plan(_ options: Options) async throws -> [ShardPlan] {
        let repository = try await RepositoryOpener.open(policy)
        guard let point = try await repository.restorePoint(named: options.name) else {
            let known = try await repository.restorePoints().map(\.name)
            throw OperationError(.notFound, "no fleet restore point '\(options.name)' in the catalog (have: \(known.isEmpty ? "none" : known.joined(separator: ", ")); vault restore-point list)")
        }
        let start = options.start
        let checked = await FleetRun.each(policy.shards, parallel: policy.fleet.parallel) { shard -> ShardPlan in
            guard let position = point.shard(shard.name), let end = LSN(position.lsn) else {
                throw OperationError(.refused, "the restore point '\(options.name)' has no position for shard \(shard.name) (made before the shard joined the policy)")
            }
            let dir = options.targetRoot + "/" + shard.name
            if FileManager.default.fileExists(atPath: dir), !(try FileIO.list(dir)).isEmpty {
                throw OperationError(.refused, "\(dir) is not empty")
            }
            let target = RecoveryTarget.restorePoint(name: options.name, end: end)
            let archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name))
            let reach = RecoveryReach(inventory: try await WALInventory.load(archive), archive: archive)
            // The newest backup that ended before the point and from which the point's
            // timeline is reached with the WAL in the archive: a backup on a later timeline
            // that branched before the point, or one whose WAL is gone, is passed over.
            let candidates = try await repository.heads(shard: shard.name)
                .filter { $0.timeline <= position.timeline && target.reachable(from: $0) }.sorted { $0.id > $1.id }
            var firstProblem: (any Error)?
            for manifest in candidates {
                do {
                    _ = try await reach.check(manifest, target: target, timeline: String(position.timeline))
                    if start { _ = try RecoveryStarter.bindir(shard: shard, majorVersion: manifest.versionNumber / 10000) }
                    return ShardPlan(shard: shard.name, backup: manifest.id, target: target, timeline: position.timeline, targetDir: dir)
                } catch {
                    firstProblem = firstProblem ?? error
                }
            }
            throw firstProblem ?? OperationError(.refused, "shard \(shard.name) has no backup that ended before the restore point '\(options.name)' (\(end) on timeline \(position.timeline))")
        }
        let failed = checked.filter { if case .failure = $0.result { return true }; return false }
        if !failed.isEmpty {
            throw OperationError(.refused, "nothing was restored: \(RestorePointOperation.describe(failed))")
        }
        return checked.compactMap { try? $0.result.get() }
    }
}
