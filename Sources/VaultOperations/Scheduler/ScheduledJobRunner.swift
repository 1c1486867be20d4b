import Foundation
import VaultSupport
import VaultStorage
import VaultSystem
import VaultFormat
import VaultPolicy

/// What a finished job reports for the log and metrics.
public struct JobReport: Sendable, Equatable {
    /// Bytes the job stored (backups) or freed (expire).
    public var bytes: Int64
    /// One line: which backup, how many expired, what was verified.
    public var detail: String
    /// Set when the job did not run and that is not a failure (another daemon ran the slot).
    public var skipped: String?
    /// Seconds the verified restore's recovery took (verify only).
    public var recoverySeconds: Double?

    public init(bytes: Int64, detail: String, skipped: String? = nil, recoverySeconds: Double? = nil) {
        self.bytes = bytes
        self.detail = detail
        self.skipped = skipped
        self.recoverySeconds = recoverySeconds
    }
}

/// Runs the scheduler's jobs. The daemon's is `RepositoryJobRunner`; tests pass their own.
public protocol ScheduledJobRunner: Sendable {
    func run(_ run: SchedulerCore.Run, policy: Policy) async throws -> JobReport

    /// When each scheduled job last ran, from the repository, for the start-up check for
    /// missed runs (see `SchedulerCore.init`).
    func lastRuns(policy: Policy) async throws -> [ScheduledJob: Date?]
}

/// Runs jobs in this process with the same operations as the one-shot commands. Each run
/// holds the shard's scheduler lock (`<shard>/locks/scheduler.lock`) from before it looks for
/// the slot's record until after it wrote one, so of several daemons sharing the repository
/// one runs the slot and the others find the lock held (and skip, logged) or the record (and
/// skip, naming who ran it). The lock is a flock or an S3 lease: a daemon that dies mid-run
/// leaves neither lock (after the lease expires) nor record, so the slot counts as missed.
public struct RepositoryJobRunner: ScheduledJobRunner {
    /// `vault schedule run pid N on HOST`, in locks and records.
    let owner: String
    let progress: @Sendable (String) -> Void

    /// Records older than this are removed by the expire job.
    static let recordKeep: TimeInterval = 30 * 86400

    public init(progress: @escaping @Sendable (String) -> Void) {
        owner = "vault schedule run pid \(getpid()) on \(ProcessInfo.processInfo.hostName)"
        self.progress = progress
    }

    static func lockName(_ shard: String) -> String { "\(shard)/locks/scheduler.lock" }

    public func run(_ run: SchedulerCore.Run, policy: Policy) async throws -> JobReport {
        let shard = try policy.shard(named: run.job.shard)
        let repository = try await RepositoryOpener.open(policy)
        let job = run.job.kind.rawValue
        return try await repository.storage.withLock(Self.lockName(shard.name), owner: owner) { _ in
            if let done = try await repository.scheduledRun(shard: shard.name, job: job, slot: run.slot) {
                return JobReport(bytes: 0, detail: "", skipped: "the \(Timestamp.format(run.slot)) run was done by \(done.owner) at \(done.finished)")
            }
            let report = try await perform(run.job.kind, shard: shard, policy: policy, repository: repository)
            try await repository.record(ScheduleRecord(shard: shard.name, job: job, slot: run.slot, owner: owner, finished: Date(), detail: report.detail), slot: run.slot)
            return report
        }
    }

    private func perform(_ kind: JobKind, shard: ShardPolicy, policy: Policy, repository: Repository) async throws -> JobReport {
        switch kind {
        case .full, .incremental:
            let operation = BackupOperation(policy: policy, shard: shard, progress: progress)
            let m = try await operation.run(kind == .full ? .full : .auto)
            if !m.walComplete {
                throw OperationError(.checkFailed, "backup \(m.id) is stored but its WAL \(m.walStart)–\(m.walStop) did not reach the repository within backup.archive_timeout")
            }
            if let bad = m.checksumFailures, !bad.isEmpty {
                throw OperationError(.checkFailed, "backup \(m.id) is complete but pages in \(bad.count) files failed the data checksum")
            }
            return JobReport(bytes: m.stats.bytesStoredNew, detail: "backup \(m.id) (\(m.kind.rawValue))")
        case .expire:
            let r = try await ExpireOperation(policy: policy, shard: shard).run(dryRun: false)
            try await repository.removeScheduleRecords(shard: shard.name, before: Date().addingTimeInterval(-Self.recordKeep))
            return JobReport(bytes: r.bytesFreed, detail: "expired \(r.expiredBackups.count) backups, \(r.removedWAL) WAL files")
        case .verify:
            let records = try await VerifyOperation(policy: policy, shard: shard).run(VerifyOperation.Options())
            if let failed = records.first(where: { !$0.passed }) {
                throw OperationError(.checkFailed, "backup \(failed.backup) of shard \(failed.shard) failed verification: \(failed.problems.first.map { "\($0)" } ?? "")")
            }
            let verified = records.map(\.backup).joined(separator: ", ")
            return JobReport(bytes: 0, detail: "verified backup \(verified)", recoverySeconds: records.last?.timings.recoverySeconds)
        }
    }

    public func lastRuns(policy: Policy) async throws -> [ScheduledJob: Date?] {
        let repository = try await RepositoryOpener.open(policy)
        var out: [ScheduledJob: Date?] = [:]
        for schedule in JobSchedule.all(policy) {
            let shard = schedule.job.shard
            var evidence: Date?
            switch schedule.job.kind {
            case .full:
                evidence = try await repository.backupIDs(shard: shard).last { BackupID.kind($0) == .full }.flatMap(BackupID.started)
            case .incremental:
                evidence = try await repository.backupIDs(shard: shard).last.flatMap(BackupID.started)
            case .verify:
                evidence = try await repository.verifications(shard: shard).last.flatMap { Timestamp.parse($0.finished) }
            case .expire:
                evidence = nil
            }
            let recorded = try await repository.scheduledSlots(shard: shard, job: schedule.job.kind.rawValue).last
            out[schedule.job] = [evidence, recorded].compactMap { $0 }.max()
        }
        return out
    }
}
