import Foundation
import ServiceLifecycle
import UnixSignals
import VaultSupport
import VaultSystem
import VaultPolicy

/// `vault schedule run`: a swift-service-lifecycle service that runs the policy's jobs at their
/// instants, with the decisions made by `SchedulerCore` and the work done by a
/// `ScheduledJobRunner`.
///
/// SIGHUP reloads the policy; a policy that does not load is refused and the loaded one kept.
/// A graceful shutdown (SIGTERM or SIGINT, delivered by the service group) starts nothing new
/// and gives running jobs `scheduler.drain_timeout` to finish; then they are cancelled. A
/// cancelled backup stops between files, releases its lock and ends its PostgreSQL session,
/// which ends the backup on the server; it wrote no manifest, so the repository holds only
/// unreferenced packs, and the next backup proceeds as usual.
public actor SchedulerDaemon: Service {
    public typealias Classifier = @Sendable (any Error) -> SchedulerCore.Outcome

    private var policy: Policy
    private var core: SchedulerCore
    private let loadPolicy: @Sendable () throws -> Policy
    private let runner: any ScheduledJobRunner
    private let classify: Classifier
    private let clock: any SchedulerClock
    private let log: SchedulerLog
    private let metrics: VaultMetrics?
    private let wake = WakeSignal()
    private var tasks: [ScheduledJob: Task<Void, Never>] = [:]
    private var stopDeadline: Date?
    private var cancelledAt: Date?
    /// SIGHUP, trapped by the caller before anything slow (a SIGHUP's default is to exit).
    private let reloadSignals: UnixSignalsSequence?

    /// How long cancelled jobs get to unwind before the daemon exits anyway.
    static let unwindSeconds: TimeInterval = 30

    /// A daemon for `policy`, with missed runs computed from what the runner finds in the
    /// repository (when the repository cannot be read, nothing counts as missed).
    public init(policy: Policy, loadPolicy: @escaping @Sendable () throws -> Policy, runner: any ScheduledJobRunner,
                classify: @escaping Classifier, clock: any SchedulerClock = SystemSchedulerClock(),
                log: SchedulerLog = SchedulerLog(), metrics: VaultMetrics? = nil, reloadSignals: UnixSignalsSequence? = nil,
                jitter: @escaping @Sendable (ScheduledJob, Int) -> TimeInterval = SchedulerCore.randomJitter) async {
        let now = clock.now
        var lastRuns: [ScheduledJob: Date?] = [:]
        do {
            lastRuns = try await runner.lastRuns(policy: policy)
        } catch {
            log.note("error", at: now, "cannot read the repository to find runs missed while stopped (none will be run now): \(error)")
        }
        self.policy = policy
        self.core = SchedulerCore(schedules: JobSchedule.all(policy), settings: policy.scheduler, now: now, lastRuns: lastRuns,
                                  jitter: jitter)
        self.loadPolicy = loadPolicy
        self.runner = runner
        self.classify = classify
        self.clock = clock
        self.log = log
        self.metrics = metrics
        self.reloadSignals = reloadSignals
    }

    public func run() async throws {
        // The daemon handles SIGTERM itself (a bounded drain); a verify's scratch instance is
        // removed when its job is cancelled, not by the one-shot command's exit handler.
        ScratchRegistry.exitsOnSignal = false
        let start = clock.now
        for job in JobSchedule.all(policy) {
            let next = core.nextSlots[job.job].map(Timestamp.format) ?? "never"
            log.note("scheduled", at: start, "\(job.job): \(job.cron.text) in \(job.zone.identifier); next at \(next)")
        }
        for run in core.missedAtStart { log.emit(.queued(run), at: start, settings: policy.scheduler) }
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                if let hangups = reloadSignals {
                    group.addTask {
                        for await _ in hangups { await self.reload() }
                    }
                }
                await self.loop()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            Task(executorPreference: BlockingExecutor.shared) { await self.stop() }
        }
        log.note("stopped", at: clock.now, "the scheduler stopped")
    }

    private func loop() async {
        while true {
            // Cancelled from outside (not a graceful stop): the waits below would return at
            // once and the loop spin, so stop here, and the jobs with it.
            if Task.isCancelled {
                for task in tasks.values { task.cancel() }
                return
            }
            let now = clock.now
            let (events, starts) = core.advance(to: now)
            for event in events {
                log.emit(event, at: now, settings: core.settings)
                if case .gaveUp(let run, _) = event { metrics?.jobGaveUp(run.job) }
            }
            for run in starts { launch(run) }
            metrics?.schedulerState(running: core.runningRuns.count, waiting: core.queuedRuns.count)
            if core.draining {
                if tasks.isEmpty { return }
                if let cancelled = cancelledAt, now.timeIntervalSince(cancelled) >= Self.unwindSeconds {
                    log.note("abandoned", at: now, "exiting with \(tasks.count) cancelled jobs still unwinding: \(tasks.keys.map(\.description).sorted().joined(separator: ", "))")
                    return
                }
                if cancelledAt == nil, let deadline = stopDeadline, now >= deadline {
                    log.note("abandoned", at: now, "scheduler.drain_timeout (\(core.settings.drainTimeout) s) passed: cancelling \(tasks.keys.map(\.description).sorted().joined(separator: ", "))")
                    for task in tasks.values { task.cancel() }
                    cancelledAt = now
                }
            }
            var wakeAt = core.nextWake(after: now) ?? now.addingTimeInterval(3600)
            if let deadline = stopDeadline, cancelledAt == nil { wakeAt = min(wakeAt, deadline) }
            if let cancelled = cancelledAt { wakeAt = min(wakeAt, cancelled.addingTimeInterval(Self.unwindSeconds)) }
            await wake.wait(until: wakeAt, clock: clock)
        }
    }

    private func launch(_ run: SchedulerCore.Run) {
        let policy = self.policy
        let (runner, classify, clock) = (self.runner, self.classify, self.clock)
        tasks[run.job] = Task(executorPreference: BlockingExecutor.shared) {
            let started = clock.now
            var report: JobReport?
            var outcome: SchedulerCore.Outcome
            var failure: String?
            do {
                let r = try await runner.run(run, policy: policy)
                report = r
                outcome = r.skipped.map { .skipped($0) } ?? .succeeded
            } catch {
                failure = "\(error)"
                outcome = Task.isCancelled ? .failed(reason: "cancelled", retryable: false) : classify(error)
            }
            // Each job that ran leaves an audit record, as the one-shot command would (and
            // carries its encryption count); a record that cannot be written changes nothing.
            // Written while the job still holds its slot: the daemon stops only once every job
            // has finished, so no record is cut off by the process's exit.
            if report?.skipped == nil {
                _ = await AuditTrail.append(policy: policy, shard: run.job.shard, exitCode: failure == nil ? 0 : 1, error: failure,
                                            command: "vault schedule run: \(run.job)")
            }
            await self.finished(run, outcome: outcome, report: report, failure: failure, started: started)
        }
    }

    private func finished(_ run: SchedulerCore.Run, outcome: SchedulerCore.Outcome, report: JobReport?, failure: String?, started: Date) {
        let now = clock.now
        tasks[run.job] = nil
        var line = SchedulerLog.Line(time: now, event: "finished", run: run)
        line.start = Timestamp.format(started)
        line.end = Timestamp.format(now)
        line.seconds = (now.timeIntervalSince(started) * 10).rounded() / 10
        line.bytes = report?.bytes
        line.detail = report?.detail
        switch outcome {
        case .succeeded: line.outcome = "succeeded"
        case .skipped(let why): line.outcome = "skipped"; line.message = why
        case .failed(let reason, let retryable):
            line.outcome = "failed"
            line.error = failure
            line.message = "\(reason); \(retryable ? "can succeed later" : "not retried: a retry cannot help")"
        }
        log.emit(line)
        metrics?.jobFinished(run.job, outcome: outcome, ended: now, seconds: now.timeIntervalSince(started), bytes: report?.bytes)
        for event in core.finish(run, outcome, now: now) { log.emit(event, at: now, settings: core.settings) }
        wake.signal()
    }

    /// Loads the policy file again (SIGHUP). A policy that does not load is refused, with
    /// its error, and the running one kept.
    public func reload() {
        let now = clock.now
        do {
            let loaded = try loadPolicy()
            for event in core.reload(schedules: JobSchedule.all(loaded), settings: loaded.scheduler, now: now) {
                log.emit(event, at: now, settings: loaded.scheduler)
            }
            policy = loaded
            log.note("reloaded", at: now, "policy \(loaded.sourcePath): \(JobSchedule.all(loaded).count) scheduled jobs in \(loaded.shards.count) shards")
        } catch {
            log.note("reload-refused", at: now, "\(error); still running the policy loaded before")
        }
        wake.signal()
    }

    /// Begins the graceful stop: nothing new starts, running jobs get `drain_timeout`.
    public func stop() {
        guard !core.draining else { return }
        let now = clock.now
        for event in core.drain() { log.emit(event, at: now, settings: core.settings) }
        stopDeadline = now.addingTimeInterval(Double(core.settings.drainTimeout))
        let running = tasks.keys.map(\.description).sorted()
        log.note("stopping", at: now, running.isEmpty ? "no job is running"
                 : "waiting up to \(core.settings.drainTimeout) s (scheduler.drain_timeout) for \(running.joined(separator: ", "))")
        wake.signal()
    }

    /// The policy in force (tests).
    public var currentPolicy: Policy { policy }
    public var currentSettings: SchedulerSettings { core.settings }
}
