import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat
import VaultPolicy

/// What the repository and the shard's primary say about a shard's protection, read the same
/// way by the daemon's `/metrics` and by `vault metrics`, whoever ran the jobs.
public struct ShardMetrics: Sendable, Equatable {
    /// The newest successful run of a job kind: when it ended, how long it took, its bytes.
    public struct LastRun: Sendable, Equatable {
        public var ended: Date
        public var seconds: Double
        public var bytes: Int64?
    }

    public var shard: String
    public var backups: Int
    /// By job kind: `full` and `incremental` from the newest backup of each kind, `verify` from
    /// the newest passing verification.
    public var lastRuns: [JobKind: LastRun]
    public var newestBackupAgeSeconds: Double?
    public var newestWALAgeSeconds: Double?
    /// The primary's current LSN minus the end of the newest archived segment; nil when no
    /// primary answered or nothing is archived.
    public var archiveLagBytes: Int64?
    /// Whether a node of the shard answered as primary.
    public var primaryReachable: Bool
    public var lastVerifiedRestoreAgeSeconds: Double?
    public var lastVerifiedRestoreRecoverySeconds: Double?
    /// Every object under the shard's prefix: backups, packs, WAL, records.
    public var repositoryBytes: Int64

    /// Reads the figures: a listing of the shard's objects, the newest manifest of each
    /// backup kind, the verification records, and one question to each node.
    public static func collect(_ shard: ShardPolicy, repository: Repository, now: Date = Date()) async throws -> ShardMetrics {
        let status = try await ShardStatus.load(shard.name, repository: repository, now: now)
        let ids = try await repository.backupIDs(shard: shard.name)
        var lastRuns: [JobKind: LastRun] = [:]
        for (kind, job) in [(BackupManifest.Kind.full, JobKind.full), (.incremental, .incremental)] {
            guard let id = ids.last(where: { BackupID.kind($0) == kind }),
                  let m = try await repository.manifest(shard: shard.name, id: id),
                  let stop = Timestamp.parse(m.stopTime) else { continue }
            lastRuns[job] = LastRun(ended: stop, seconds: m.stats.seconds, bytes: m.stats.bytesStoredNew)
        }
        let verifications = try await repository.verifications(shard: shard.name)
        if let v = verifications.last(where: \.passed), let ended = Timestamp.parse(v.finished) {
            lastRuns[.verify] = LastRun(ended: ended, seconds: v.timings.totalSeconds, bytes: nil)
        }
        let restored = verifications.lastRestoredAndPassed
        let primary = NodeProbe.observe(shard).first { $0.role == .primary && $0.currentLSN != nil }
        var lag: Int64?
        if let current = primary?.currentLSN, let newest = status.newestWAL, let name = WALFileName(newest) {
            let segmentSize = try await repository.shardRecord(shard.name).walSegmentSize
            if let number = name.segmentNumber(segmentSize: segmentSize) {
                let archivedEnd = (number + 1) * segmentSize
                lag = current.value > archivedEnd ? Int64(current.value - archivedEnd) : 0
            }
        }
        let bytes = try await repository.storage.listSizes(prefix: "\(shard.name)/").reduce(Int64(0)) { $0 + $1.size }
        return ShardMetrics(
            shard: shard.name, backups: status.backups, lastRuns: lastRuns,
            newestBackupAgeSeconds: status.newestBackupAgeSeconds.map(Double.init),
            newestWALAgeSeconds: status.newestWALAgeSeconds.map(Double.init),
            archiveLagBytes: lag, primaryReachable: primary != nil,
            lastVerifiedRestoreAgeSeconds: restored.flatMap { Timestamp.parse($0.finished) }.map { now.timeIntervalSince($0) },
            lastVerifiedRestoreRecoverySeconds: restored?.timings.recoverySeconds,
            repositoryBytes: bytes)
    }
}

/// Collects every named shard's figures into `metrics`: the one path of both `/metrics` and
/// `vault metrics`.
public enum MetricsCollection {
    /// Records each shard and `vault_repository_up` (1, or 0 when its figures could not be
    /// read); returns the errors, one per shard that failed.
    public static func collect(_ policy: Policy, shards: [ShardPolicy], into metrics: VaultMetrics, now: Date = Date()) async -> [any Error] {
        let repository: Repository
        do {
            repository = try await RepositoryOpener.open(policy)
        } catch {
            for shard in shards { metrics.repositoryUp(shard: shard.name, false) }
            return [error]
        }
        var errors: [any Error] = []
        for shard in shards {
            do {
                metrics.record(try await ShardMetrics.collect(shard, repository: repository, now: now))
                metrics.repositoryUp(shard: shard.name, true)
            } catch {
                metrics.repositoryUp(shard: shard.name, false)
                errors.append(error)
            }
        }
        return errors
    }
}

/// The daemon's `/metrics`: the scheduler's own counters plus the repository's figures, read
/// again when older than `maxAge` so frequent scrapes do not each list the whole repository.
public actor MetricsScraper {
    private let metrics: VaultMetrics
    private let policy: @Sendable () async -> Policy
    private let maxAge: TimeInterval
    private var collected: Date?

    public init(metrics: VaultMetrics, maxAge: TimeInterval = 15, policy: @escaping @Sendable () async -> Policy) {
        self.metrics = metrics
        self.maxAge = maxAge
        self.policy = policy
    }

    public func text() async -> String {
        let now = Date()
        if collected.map({ now.timeIntervalSince($0) >= maxAge }) ?? true {
            let current = await policy()
            _ = await MetricsCollection.collect(current, shards: current.shards, into: metrics, now: now)
            collected = now
        }
        return metrics.text()
    }
}
