import Foundation
import VaultSupport
import VaultSystem
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

    /// How many of the newest backups of a kind are read looking for one that succeeded.
    static let manifestsSearched = 20

    /// Reads the figures: a listing of the shard's objects, the newest manifest of each
    /// backup kind, the verification records, and one question to each node.
    public static func collect(_ shard: ShardPolicy, repository: Repository, now: Date = Date()) async throws -> ShardMetrics {
        let ids = try await repository.backupIDs(shard: shard.name)
        let verifications = try await repository.verifications(shard: shard.name)
        let status = try await ShardStatus.load(shard.name, repository: repository, now: now, ids: ids, verifications: verifications)
        var lastRuns: [JobKind: LastRun] = [:]
        for (kind, job) in [(BackupManifest.Kind.full, JobKind.full), (.incremental, .incremental)] {
            // The newest backup that is a success: complete WAL, no bad pages. A backup that
            // was stored but failed its checks must not make an alert on its age go quiet.
            for id in ids.reversed().filter({ BackupID.kind($0) == kind }).prefix(Self.manifestsSearched) {
                guard let m = try await repository.head(shard: shard.name, id: id), m.walComplete,
                      m.checksumFailures?.isEmpty ?? true, let stop = Timestamp.parse(m.stopTime) else { continue }
                lastRuns[job] = LastRun(ended: stop, seconds: m.stats.seconds, bytes: m.stats.bytesStoredNew)
                break
            }
        }
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
    public static func collect(_ policy: Policy, shards: [ShardPolicy], into metrics: VaultMetrics, repository opened: Repository? = nil,
                               now: Date = Date()) async -> [any Error] {
        let repository: Repository
        do {
            if let opened { repository = opened } else { repository = try await RepositoryOpener.open(policy) }
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

/// The daemon's `/metrics`: the scheduler's own counters, and the repository's figures read
/// into a fresh registry (so a figure that disappears, such as the archive lag of an
/// unreachable primary, or a shard removed by a reload, is not served stale) at most every
/// `maxAge`: frequent or concurrent scrapes share one reading.
public actor MetricsScraper {
    private let daemon: VaultMetrics
    private let policy: @Sendable () async -> Policy
    private let maxAge: TimeInterval
    private var figures: (at: Date, text: String)?
    private var reading: Task<String, Never>?
    /// Opened once per repository identity: opening derives the key (and may run a passphrase
    /// command), which is not for every scrape.
    private var repository: (identity: String, repository: Repository)?

    public init(metrics: VaultMetrics, maxAge: TimeInterval = 15, policy: @escaping @Sendable () async -> Policy) {
        daemon = metrics
        self.maxAge = maxAge
        self.policy = policy
    }

    public func text() async -> String {
        if let figures, Date().timeIntervalSince(figures.at) < maxAge { return daemon.text() + figures.text }
        let task: Task<String, Never>
        if let reading {
            task = reading
        } else {
            task = Task(executorPreference: BlockingExecutor.shared) { await self.read() }
            reading = task
        }
        let text = await task.value
        if reading == task {
            reading = nil
            figures = (Date(), text)
        }
        return daemon.text() + text
    }

    private func read() async -> String {
        let current = await policy()
        let fresh = VaultMetrics()
        let identity = current.repository.identity
        if repository?.identity != identity {
            repository = (try? await RepositoryOpener.open(current)).map { (identity, $0) }
        }
        let errors = await MetricsCollection.collect(current, shards: current.shards, into: fresh, repository: repository?.repository)
        if !errors.isEmpty { repository = nil }
        for (shard, run) in daemon.unrecordedRuns where current.shards.contains(where: { $0.name == shard }) {
            fresh.recordLastRun(shard: shard, job: .expire, run)
        }
        return fresh.text()
    }
}
