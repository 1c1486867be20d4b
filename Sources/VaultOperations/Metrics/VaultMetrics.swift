import Foundation
import Synchronization
import CoreMetrics
import Prometheus

/// vault's metrics, recorded through swift-metrics into a Prometheus registry of their own
/// (not the process-wide `MetricsSystem`, so tests and the one-shot command each get a fresh
/// one), and written in Prometheus' text format.
///
/// Names follow Prometheus' conventions: a `vault_` prefix, base units in the name
/// (`_seconds`, `_bytes`), `_total` on counters, `_timestamp_seconds` for instants; labels are
/// `shard`, `job` (full, incremental, verify, expire), `outcome` and `reason`.
public final class VaultMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    /// The last successful expire per shard: it leaves no record in the repository, so the
    /// daemon keeps it and adds it to each reading of the repository's figures.
    private let expireRuns = Mutex<[String: ShardMetrics.LastRun]>([:])

    public init() {
        factory = PrometheusMetricsFactory(registry: registry)
    }

    /// The metrics in Prometheus' text exposition format.
    public func text() -> String { registry.emitToString() }

    private func gauge(_ name: String, _ labels: [(String, String)], _ value: Double) {
        Gauge(label: name, dimensions: labels, factory: factory).record(value)
    }

    private func count(_ name: String, _ labels: [(String, String)]) {
        Counter(label: name, dimensions: labels, factory: factory).increment()
    }

    /// The repository's view of a shard (both the daemon and `vault metrics`).
    public func record(_ m: ShardMetrics) {
        let shard = [("shard", m.shard)]
        gauge("vault_backups", shard, Double(m.backups))
        for (kind, run) in m.lastRuns { recordLastRun(shard: m.shard, job: kind, run) }
        if let age = m.newestBackupAgeSeconds { gauge("vault_backup_newest_age_seconds", shard, age) }
        if let age = m.newestWALAgeSeconds { gauge("vault_wal_newest_archived_age_seconds", shard, age) }
        if let lag = m.archiveLagBytes { gauge("vault_wal_archive_lag_bytes", shard, Double(lag)) }
        gauge("vault_primary_reachable", shard, m.primaryReachable ? 1 : 0)
        if let age = m.lastVerifiedRestoreAgeSeconds { gauge("vault_verify_restore_newest_age_seconds", shard, age) }
        if let seconds = m.lastVerifiedRestoreRecoverySeconds { gauge("vault_verify_restore_recovery_seconds", shard, seconds) }
        gauge("vault_repository_size_bytes", shard, Double(m.repositoryBytes))
    }

    func recordLastRun(shard: String, job: JobKind, _ run: ShardMetrics.LastRun) {
        let labels = [("shard", shard), ("job", job.rawValue)]
        gauge("vault_job_last_success_timestamp_seconds", labels, run.ended.timeIntervalSince1970)
        gauge("vault_job_last_duration_seconds", labels, run.seconds)
        if let bytes = run.bytes { gauge("vault_job_last_bytes", labels, Double(bytes)) }
    }

    /// The daemon's last successful expire of each shard.
    public var unrecordedRuns: [String: ShardMetrics.LastRun] { expireRuns.withLock { $0 } }

    /// A run the daemon finished. Counted by outcome and, for failures, by reason; an expire's
    /// success is kept for `unrecordedRuns`.
    public func jobFinished(_ job: ScheduledJob, outcome: SchedulerCore.Outcome, ended: Date, seconds: Double, bytes: Int64?) {
        let labels = [("shard", job.shard), ("job", job.kind.rawValue)]
        switch outcome {
        case .succeeded:
            count("vault_scheduler_job_runs_total", labels + [("outcome", "succeeded")])
            if job.kind == .expire {
                expireRuns.withLock { $0[job.shard] = ShardMetrics.LastRun(ended: ended, seconds: seconds, bytes: bytes) }
            }
        case .skipped:
            count("vault_scheduler_job_runs_total", labels + [("outcome", "skipped")])
        case .failed(let reason, _):
            count("vault_scheduler_job_runs_total", labels + [("outcome", "failed")])
            count("vault_scheduler_job_failures_total", labels + [("reason", reason)])
        }
    }

    /// Runs given up after waiting `scheduler.max_wait`.
    public func jobGaveUp(_ job: ScheduledJob) {
        count("vault_scheduler_job_runs_total", [("shard", job.shard), ("job", job.kind.rawValue), ("outcome", "gave_up")])
    }

    /// Whether the shard's figures could be read from the repository this time.
    public func repositoryUp(shard: String, _ up: Bool) {
        gauge("vault_repository_up", [("shard", shard)], up ? 1 : 0)
    }

    public func schedulerState(running: Int, waiting: Int) {
        gauge("vault_scheduler_jobs_running", [], Double(running))
        gauge("vault_scheduler_jobs_waiting", [], Double(waiting))
    }
}
