import Foundation
import VaultPolicy

/// The scheduler's decisions, with no clock, threads or I/O of its own: the daemon tells it the
/// time and what finished, and it answers which runs start and what to log. Tests drive it
/// through daylight-saving changes, limits, retries and missed runs with made-up instants.
///
/// The rules:
/// - a job's run is due at each instant its cron expression fires, plus a jitter;
/// - one job per shard at a time: a due run waits behind its shard's running job, and at most
///   `maxConcurrentJobs` run in all; a run that could not start within `maxWait` of being ready
///   is given up (and logged);
/// - a job already waiting or running is not queued again when its next instant comes;
/// - a failure that can succeed later is retried after `retryBackoff`, doubling (at most 1 h),
///   up to `retries` times; other failures and runs skipped (a lock held, a slot another
///   daemon took) are not;
/// - a run missed while the daemon was down runs once at start-up, however many instants were
///   missed; a missed full of a shard stands in for its missed incremental too;
/// - once draining (SIGTERM), nothing starts.
public struct SchedulerCore: Sendable {
    /// Why a run exists.
    public enum Reason: String, Sendable, Codable {
        case scheduled
        case missed
        case retry
    }

    /// One attempt at one job for one scheduled instant (the slot). Retries keep the slot.
    public struct Run: Sendable, Hashable {
        public var job: ScheduledJob
        public var slot: Date
        public var attempt: Int
        public var reason: Reason

        public init(job: ScheduledJob, slot: Date, attempt: Int = 1, reason: Reason = .scheduled) {
            self.job = job
            self.slot = slot
            self.attempt = attempt
            self.reason = reason
        }
    }

    /// How a run ended, as the daemon classified it.
    public enum Outcome: Sendable, Equatable {
        case succeeded
        /// Not run, and not a failure: the shard's lock was held, or another daemon ran the slot.
        case skipped(String)
        case failed(reason: String, retryable: Bool)
    }

    /// What happened, for the log.
    public enum Event: Sendable, Equatable {
        case queued(Run)
        case started(Run)
        /// Ready but waiting: behind the shard's running job, or (nil) for a free place under
        /// the global limit. Said once per run.
        case waiting(Run, behind: ScheduledJob?)
        /// The job's next instant came while it was still waiting or running.
        case coalesced(ScheduledJob, slot: Date)
        case gaveUp(Run, waitedSeconds: Int)
        case retryScheduled(Run, at: Date)
        /// Dropped because the policy no longer schedules the job, or the daemon is stopping.
        case dropped(Run, why: String)
    }

    private struct Entry: Sendable {
        var schedule: JobSchedule
        var nextSlot: Date?
    }

    private struct Pending: Sendable {
        var run: Run
        var readyAt: Date
        var announced = false
    }

    public private(set) var settings: SchedulerSettings
    private var entries: [Entry]
    private var queue: [Pending] = []
    private var running: [ScheduledJob: Run] = [:]
    public private(set) var draining = false
    /// The delay after a slot before its run is ready, given `settings.jitter` as its bound.
    private let jitter: @Sendable (ScheduledJob, Int) -> TimeInterval

    /// A random delay below the bound: the daemon's jitter.
    public static let randomJitter: @Sendable (ScheduledJob, Int) -> TimeInterval = { _, bound in
        bound > 0 ? TimeInterval(Int.random(in: 0..<bound)) : 0
    }

    /// `lastRuns` says when each job last ran for the start-up check: a job with an entry whose
    /// date is nil or older than the expression's newest instant before `now` missed that
    /// instant and runs once; a job with no entry is not checked (nothing is known of it).
    public init(schedules: [JobSchedule], settings: SchedulerSettings, now: Date, lastRuns: [ScheduledJob: Date?],
                jitter: @escaping @Sendable (ScheduledJob, Int) -> TimeInterval = SchedulerCore.randomJitter) {
        self.settings = settings
        self.jitter = jitter
        entries = schedules.map { Entry(schedule: $0, nextSlot: $0.cron.next(after: now, in: $0.zone)) }
        var missed: [Run] = []
        for schedule in schedules {
            guard let known = lastRuns[schedule.job], let slot = schedule.previousSlot(atOrBefore: now) else { continue }
            if let last = known, last >= slot { continue }
            missed.append(Run(job: schedule.job, slot: slot, reason: .missed))
        }
        let missedFulls = Set(missed.filter { $0.job.kind == .full }.map(\.job.shard))
        missed.removeAll { $0.job.kind == .incremental && missedFulls.contains($0.job.shard) }
        queue = missed.map { Pending(run: $0, readyAt: now.addingTimeInterval(jitter($0.job, settings.jitter))) }
    }

    /// The runs queued at start-up because they were missed.
    public var missedAtStart: [Run] { queue.filter { $0.run.reason == .missed }.map(\.run) }

    public var runningRuns: [Run] { Array(running.values) }
    public var queuedRuns: [Run] { queue.map(\.run) }

    /// Moves the schedule to `now`: queues what came due, gives up what waited too long, and
    /// starts what may start. The caller runs each of `starts` and reports it to `finish`.
    public mutating func advance(to now: Date) -> (events: [Event], starts: [Run]) {
        var events: [Event] = []
        if !draining {
            for i in entries.indices {
                guard let slot = entries[i].nextSlot, slot <= now else { continue }
                let schedule = entries[i].schedule
                // After a long sleep (a suspended host) several instants may have passed: one run.
                entries[i].nextSlot = schedule.cron.next(after: now, in: schedule.zone)
                if running[schedule.job] != nil || queue.contains(where: { $0.run.job == schedule.job }) {
                    events.append(.coalesced(schedule.job, slot: slot))
                    continue
                }
                let run = Run(job: schedule.job, slot: slot)
                // Ready after the jitter, and never before now: a slot passed during a long
                // sleep is ready at once rather than already past its bound.
                queue.append(Pending(run: run, readyAt: max(slot.addingTimeInterval(jitter(schedule.job, settings.jitter)), now)))
                events.append(.queued(run))
            }
        }
        var starts: [Run] = []
        guard !draining else { return (events, starts) }
        var index = 0
        while index < queue.count {
            let pending = queue[index]
            guard pending.readyAt <= now else { index += 1; continue }
            let busy = running.keys.first { $0.shard == pending.run.job.shard }
            if busy != nil || running.count >= settings.maxConcurrentJobs {
                if !pending.announced {
                    queue[index].announced = true
                    events.append(.waiting(pending.run, behind: busy))
                }
                index += 1
                continue
            }
            queue.remove(at: index)
            running[pending.run.job] = pending.run
            starts.append(pending.run)
            events.append(.started(pending.run))
        }
        // Only what could not start now is given up: a run is never dropped for a wait that
        // ends this very moment.
        queue.removeAll { pending in
            let waited = now.timeIntervalSince(pending.readyAt)
            guard waited > Double(settings.maxWait) else { return false }
            events.append(.gaveUp(pending.run, waitedSeconds: Int(waited)))
            return true
        }
        return (events, starts)
    }

    /// Records how a started run ended; a retryable failure queues the next attempt.
    public mutating func finish(_ run: Run, _ outcome: Outcome, now: Date) -> [Event] {
        running[run.job] = nil
        guard case .failed(_, true) = outcome, run.attempt <= settings.retries, !draining else { return [] }
        let delay = min(Double(settings.retryBackoff) * pow(2, Double(run.attempt - 1)), 3600)
        let retry = Run(job: run.job, slot: run.slot, attempt: run.attempt + 1, reason: .retry)
        let at = now.addingTimeInterval(delay)
        queue.append(Pending(run: retry, readyAt: at))
        return [.retryScheduled(retry, at: at)]
    }

    /// When something next happens with no outside event: a slot, a run becoming ready, or a
    /// waiting run reaching its bound.
    public func nextWake(after now: Date) -> Date? {
        var times: [Date] = draining ? [] : entries.compactMap(\.nextSlot)
        for pending in queue {
            times.append(pending.readyAt > now ? pending.readyAt : pending.readyAt.addingTimeInterval(Double(settings.maxWait) + 1))
        }
        return times.min()
    }

    /// The next instant of each job, for the log and tests.
    public var nextSlots: [ScheduledJob: Date] {
        Dictionary(entries.compactMap { e in e.nextSlot.map { (e.schedule.job, $0) } }, uniquingKeysWith: { a, _ in a })
    }

    /// A reloaded policy: new schedules and settings. A job whose expression and zone did not
    /// change keeps its next instant; waiting runs of jobs no longer scheduled are dropped;
    /// running ones finish.
    public mutating func reload(schedules: [JobSchedule], settings: SchedulerSettings, now: Date) -> [Event] {
        self.settings = settings
        let old = entries
        entries = schedules.map { schedule in
            if let same = old.first(where: { $0.schedule.job == schedule.job && $0.schedule.cron == schedule.cron && $0.schedule.zone == schedule.zone }) {
                return same
            }
            return Entry(schedule: schedule, nextSlot: schedule.cron.next(after: now, in: schedule.zone))
        }
        let kept = Set(schedules.map(\.job))
        var events: [Event] = []
        queue.removeAll { pending in
            guard !kept.contains(pending.run.job) else { return false }
            events.append(.dropped(pending.run, why: "the reloaded policy no longer schedules it"))
            return true
        }
        return events
    }

    /// SIGTERM: nothing more starts; waiting runs are dropped.
    public mutating func drain() -> [Event] {
        draining = true
        let events = queue.map { Event.dropped($0.run, why: "the scheduler is stopping") }
        queue.removeAll()
        return events
    }
}
