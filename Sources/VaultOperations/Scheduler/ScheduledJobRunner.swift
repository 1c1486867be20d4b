import Foundation
import VaultSupport
import VaultCrypto
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

/// Runs jobs in this process with the same operations as the one-shot commands, after
/// claiming the instant in the repository so no other daemon runs it too.
public struct RepositoryJobRunner: ScheduledJobRunner {
    /// `vault schedule run pid N on HOST`, written into claims.
    let owner: String
    /// Random per daemon process.
    let token: String
    let progress: @Sendable (String) -> Void

    /// Claims older than this are removed by the expire job.
    static let claimKeep: TimeInterval = 30 * 86400

    public init(progress: @escaping @Sendable (String) -> Void) throws {
        owner = "vault schedule run pid \(getpid()) on \(ProcessInfo.processInfo.hostName)"
        token = Hex.encode(try SecureRandom.bytes(16))
        self.progress = progress
    }

    public func run(_ run: SchedulerCore.Run, policy: Policy) async throws -> JobReport {
        let shard = try policy.shard(named: run.job.shard)
        let repository = try await RepositoryOpener.open(policy)
        let claim = ScheduleClaim(shard: shard.name, job: run.job.kind.rawValue, slot: run.slot, owner: owner, token: token, claimed: Date())
        if let other = try await repository.claim(claim, slot: run.slot) {
            return JobReport(bytes: 0, detail: "", skipped: "the \(Timestamp.format(run.slot)) run was claimed by \(other.owner) at \(other.claimed)")
        }
        do {
            return try await perform(run.job.kind, shard: shard, policy: policy, repository: repository)
        } catch {
            if Task.isCancelled || error is CancellationError {
                // An abandoned run gives its instant back, so the next start of this daemon or
                // another runs it. A task of its own: this one is cancelled.
                let name = ScheduleClaim.objectName(shard: shard.name, job: run.job.kind.rawValue, slot: run.slot)
                await Task(executorPreference: BlockingExecutor.shared) { try? await repository.storage.delete(name) }.value
            }
            throw error
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
            try await repository.removeClaims(shard: shard.name, before: Date().addingTimeInterval(-Self.claimKeep))
            return JobReport(bytes: r.bytesFreed, detail: "expired \(r.expiredBackups.count) backups, \(r.removedWAL) WAL files")
        case .verify:
            // Verification takes no backup lock (it only reads), but two at once of one shard
            // would only repeat each other.
            let records = try await repository.storage.withLock(Self.verifyLockName(shard.name), owner: owner) { _ in
                try await VerifyOperation(policy: policy, shard: shard).run(VerifyOperation.Options())
            }
            if let failed = records.first(where: { !$0.passed }) {
                throw OperationError(.checkFailed, "backup \(failed.backup) of shard \(failed.shard) failed verification: \(failed.problems.first.map { "\($0)" } ?? "")")
            }
            let verified = records.map(\.backup).joined(separator: ", ")
            return JobReport(bytes: 0, detail: "verified backup \(verified)", recoverySeconds: records.last?.timings.recoverySeconds)
        }
    }

    static func verifyLockName(_ shard: String) -> String { "\(shard)/locks/verify.lock" }

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
            let claimed = try await repository.claimedSlots(shard: shard, job: schedule.job.kind.rawValue).last
            out[schedule.job] = [evidence, claimed].compactMap { $0 }.max()
        }
        return out
    }
}
