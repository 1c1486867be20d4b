import Foundation
import Testing
import VaultPolicy
@testable import VaultOperations

/// The scheduler's decisions, driven with made-up instants: no test waits for the wall clock.
@Suite("scheduler decisions with an injected clock")
struct SchedulerCoreTests {
    typealias Run = SchedulerCore.Run

    static func at(_ text: String) -> Date {
        guard let d = ISO8601DateFormatter().date(from: text) else { fatalError("bad date \(text)") }
        return d
    }

    static func schedule(_ shard: String, _ kind: JobKind, _ cron: String, zone: String = "UTC") throws -> JobSchedule {
        JobSchedule(job: ScheduledJob(shard: shard, kind: kind), cron: try CronExpression(cron), zone: try #require(TimeZone(identifier: zone)))
    }

    static func settings(max: Int = 2, maxWait: Int = 3600, retries: Int = 3, backoff: Int = 60, jitter: Int = 0) -> SchedulerSettings {
        SchedulerSettings(maxConcurrentJobs: max, jitter: jitter, maxWait: maxWait, retries: retries, retryBackoff: backoff, drainTimeout: 60)
    }

    /// Runs the core as the daemon does, from `start` to `end`: each started run finishes
    /// `duration` seconds later with `outcome(run)`. Returns each start with its instant,
    /// and every event.
    static func simulate(_ core: inout SchedulerCore, from start: Date, until end: Date, duration: TimeInterval = 10,
                         outcome: (Run) -> SchedulerCore.Outcome = { _ in .succeeded }) -> (starts: [(Date, Run)], events: [SchedulerCore.Event]) {
        var now = start
        var running: [(end: Date, run: Run)] = []
        var starts: [(Date, Run)] = []
        var events: [SchedulerCore.Event] = []
        while now <= end {
            for done in running.filter({ $0.end <= now }).sorted(by: { $0.end < $1.end }) {
                events += core.finish(done.run, outcome(done.run), now: done.end)
            }
            running.removeAll { $0.end <= now }
            let step = core.advance(to: now)
            events += step.events
            for run in step.starts {
                starts.append((now, run))
                running.append((now.addingTimeInterval(duration), run))
            }
            let next = ([core.nextWake(after: now)].compactMap { $0 } + running.map(\.end)).min()
            guard let next, next > now else { break }
            now = next
        }
        return (starts, events)
    }

    @Test("a daily job in America/New_York fires at the cron instants across both daylight-saving changes, after its jitter")
    func daylightSaving() throws {
        let spring = try Self.schedule("main", .full, "30 2 * * *", zone: "America/New_York")
        var core = SchedulerCore(schedules: [spring], settings: Self.settings(jitter: 7), now: Self.at("2026-03-06T00:00:00Z"),
                                 lastRuns: [:], jitter: { _, bound in TimeInterval(bound) })
        let springStarts = Self.simulate(&core, from: Self.at("2026-03-06T00:00:00Z"), until: Self.at("2026-03-10T00:00:00Z")).starts
        // 02:30 EST is 07:30Z; on 8 March 02:30 does not exist and runs at 03:30 EDT (07:30Z);
        // from then on 02:30 EDT is 06:30Z.
        #expect(springStarts.map(\.1.slot) == ["2026-03-06T07:30:00Z", "2026-03-07T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z"].map(Self.at))
        #expect(springStarts.map(\.0) == springStarts.map { $0.1.slot.addingTimeInterval(7) })

        let autumn = try Self.schedule("main", .full, "30 1 * * *", zone: "America/New_York")
        core = SchedulerCore(schedules: [autumn], settings: Self.settings(), now: Self.at("2026-10-31T00:00:00Z"), lastRuns: [:], jitter: { _, _ in 0 })
        let autumnStarts = Self.simulate(&core, from: Self.at("2026-10-31T00:00:00Z"), until: Self.at("2026-11-03T00:00:00Z")).starts
        // 1 November has 01:30 twice (EDT, then EST): it runs once, the first time.
        #expect(autumnStarts.map(\.1.slot) == ["2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"].map(Self.at))
    }

    @Test("one job per shard at a time: a due job waits behind its shard's running job, says so, and starts when it ends")
    func perShardSerialization() throws {
        let full = try Self.schedule("a", .full, "0 2 * * *")
        let verify = try Self.schedule("a", .verify, "0 2 * * *")
        let other = try Self.schedule("b", .full, "0 2 * * *")
        var core = SchedulerCore(schedules: [full, verify, other], settings: Self.settings(max: 4), now: Self.at("2026-12-01T01:00:00Z"),
                                 lastRuns: [:], jitter: { _, _ in 0 })
        let (starts, events) = Self.simulate(&core, from: Self.at("2026-12-01T01:00:00Z"), until: Self.at("2026-12-01T03:00:00Z"), duration: 600)
        let two = Self.at("2026-12-01T02:00:00Z")
        #expect(starts.map { "\($0.1.job.shard)/\($0.1.job.kind.rawValue)@\(Int($0.0.timeIntervalSince(two)))" } == ["a/full@0", "b/full@0", "a/verify@600"])
        #expect(events.contains(.waiting(Run(job: verify.job, slot: two), behind: full.job)))
    }

    @Test("the global limit: at most max_concurrent_jobs run across shards; the rest wait for a free place")
    func globalLimit() throws {
        let schedules = try ["a", "b", "c"].map { try Self.schedule($0, .full, "0 2 * * *") }
        var core = SchedulerCore(schedules: schedules, settings: Self.settings(max: 2), now: Self.at("2026-12-01T01:00:00Z"),
                                 lastRuns: [:], jitter: { _, _ in 0 })
        let (starts, events) = Self.simulate(&core, from: Self.at("2026-12-01T01:00:00Z"), until: Self.at("2026-12-01T03:00:00Z"), duration: 300)
        let offsets = starts.map { Int($0.0.timeIntervalSince(Self.at("2026-12-01T02:00:00Z"))) }
        #expect(offsets == [0, 0, 300])
        #expect(events.contains(.waiting(Run(job: schedules[2].job, slot: Self.at("2026-12-01T02:00:00Z")), behind: nil)))
    }

    @Test("a run that cannot start within max_wait is given up and logged, not run late")
    func boundedWait() throws {
        let full = try Self.schedule("a", .full, "0 2 * * *")
        let expire = try Self.schedule("a", .expire, "5 2 * * *")
        var core = SchedulerCore(schedules: [full, expire], settings: Self.settings(maxWait: 600), now: Self.at("2026-12-01T01:00:00Z"),
                                 lastRuns: [:], jitter: { _, _ in 0 })
        let (starts, events) = Self.simulate(&core, from: Self.at("2026-12-01T01:00:00Z"), until: Self.at("2026-12-01T04:00:00Z"), duration: 3600)
        #expect(starts.map(\.1.job.kind) == [.full])
        #expect(events.contains { if case .gaveUp(let run, let waited) = $0 { return run.job == expire.job && waited > 600 && waited < 700 }; return false })
    }

    @Test("a job still running when its next instant comes is not queued again")
    func coalescing() throws {
        let incremental = try Self.schedule("a", .incremental, "* * * * *")
        var core = SchedulerCore(schedules: [incremental], settings: Self.settings(), now: Self.at("2026-12-01T01:59:30Z"),
                                 lastRuns: [:], jitter: { _, _ in 0 })
        let (starts, events) = Self.simulate(&core, from: Self.at("2026-12-01T01:59:30Z"), until: Self.at("2026-12-01T02:05:30Z"), duration: 150)
        // Starts at 02:00, runs to 02:02:30 (02:01 and 02:02 coalesce), 02:03 starts, runs to
        // 02:05:30 (02:04 and 02:05 coalesce).
        #expect(starts.map(\.1.slot) == [Self.at("2026-12-01T02:00:00Z"), Self.at("2026-12-01T02:03:00Z")])
        #expect(events.filter { if case .coalesced = $0 { return true }; return false }.count == 4)
    }

    @Test("runs missed while stopped run once at start-up, not once per missed instant; a missed full stands in for the incremental")
    func missedRuns() throws {
        let now = Self.at("2026-12-05T12:00:00Z")
        let schedules = try [
            Self.schedule("a", .full, "0 2 * * *"), Self.schedule("a", .incremental, "0 * * * *"),
            Self.schedule("b", .incremental, "0 * * * *"), Self.schedule("b", .verify, "30 4 * * *"),
            Self.schedule("c", .expire, "0 5 * * *"),
        ]
        let lastRuns: [ScheduledJob: Date?] = [
            schedules[0].job: Self.at("2026-12-01T02:00:10Z"),      // four daily instants missed
            schedules[1].job: Self.at("2026-12-05T11:00:05Z"),      // missed 12:00 too, but the full covers it
            schedules[2].job: nil,                                  // never ran
            schedules[3].job: Self.at("2026-12-05T04:31:00Z"),      // ran after today's 04:30: not missed
            // c/expire: nothing known, not checked
        ]
        let core = SchedulerCore(schedules: schedules, settings: Self.settings(), now: now, lastRuns: lastRuns, jitter: { _, _ in 0 })
        #expect(core.missedAtStart == [
            Run(job: schedules[0].job, slot: Self.at("2026-12-05T02:00:00Z"), reason: .missed),
            Run(job: schedules[2].job, slot: Self.at("2026-12-05T12:00:00Z"), reason: .missed),
        ])
        var started = core
        let (starts, _) = Self.simulate(&started, from: now, until: now.addingTimeInterval(60))
        #expect(starts.map(\.1) == core.missedAtStart)
    }

    @Test("failures that can pass are retried with doubling backoff up to the limit; others, and skips, are not")
    func retries() throws {
        let full = try Self.schedule("a", .full, "0 2 * * *")
        let slot = Self.at("2026-12-01T02:00:00Z")
        var core = SchedulerCore(schedules: [full], settings: Self.settings(retries: 3, backoff: 60), now: Self.at("2026-12-01T01:00:00Z"),
                                 lastRuns: [:], jitter: { _, _ in 0 })
        let retried = Self.simulate(&core, from: Self.at("2026-12-01T01:00:00Z"), until: Self.at("2026-12-01T03:00:00Z"), duration: 10) { _ in
            .failed(reason: "database", retryable: true)
        }
        // Attempts at 0 s, then 10 + 60, 80 + 120, 210 + 240: four in all.
        #expect(retried.starts.map { Int($0.0.timeIntervalSince(slot)) } == [0, 70, 200, 450])
        #expect(retried.starts.map(\.1.attempt) == [1, 2, 3, 4])
        #expect(retried.starts.allSatisfy { $0.1.slot == slot })

        for outcome in [SchedulerCore.Outcome.failed(reason: "key", retryable: false), .skipped("lock held"), .succeeded] {
            core = SchedulerCore(schedules: [full], settings: Self.settings(), now: Self.at("2026-12-01T01:00:00Z"), lastRuns: [:], jitter: { _, _ in 0 })
            let once = Self.simulate(&core, from: Self.at("2026-12-01T01:00:00Z"), until: Self.at("2026-12-01T03:00:00Z")) { _ in outcome }
            #expect(once.starts.count == 1, "\(outcome)")
        }
    }

    @Test("a reload keeps unchanged jobs' next instants, reschedules changed ones and drops waiting runs of removed jobs")
    func reload() throws {
        let now = Self.at("2026-12-01T01:00:00Z")
        let a = try Self.schedule("a", .full, "0 2 * * *")
        let b = try Self.schedule("b", .full, "0 3 * * *")
        var core = SchedulerCore(schedules: [a, b], settings: Self.settings(), now: now,
                                 lastRuns: [b.job: nil], jitter: { _, _ in 0 })
        #expect(core.queuedRuns.map(\.job) == [b.job])
        let changed = try Self.schedule("a", .full, "15 2 * * *")
        let events = core.reload(schedules: [changed], settings: Self.settings(max: 5), now: now)
        #expect(events.count == 1)
        #expect(core.queuedRuns.isEmpty)
        #expect(core.nextSlots == [a.job: Self.at("2026-12-01T02:15:00Z")])
        #expect(core.settings.maxConcurrentJobs == 5)
    }

    @Test("once draining, nothing starts and waiting runs are dropped")
    func draining() throws {
        let a = try Self.schedule("a", .full, "0 2 * * *")
        var core = SchedulerCore(schedules: [a], settings: Self.settings(), now: Self.at("2026-12-01T01:00:00Z"), lastRuns: [a.job: nil], jitter: { _, _ in 0 })
        let dropped = core.drain()
        #expect(dropped.count == 1)
        let step = core.advance(to: Self.at("2026-12-01T02:00:00Z"))
        #expect(step.starts.isEmpty && step.events.isEmpty)
        #expect(core.nextWake(after: Self.at("2026-12-01T02:00:00Z")) == nil)
    }

    @Test("the newest instant at or before a time, for yearly, weekly and every-minute expressions")
    func previousSlot() throws {
        let now = Self.at("2026-12-02T08:30:30Z")
        #expect(try Self.schedule("a", .full, "0 0 1 1 *").previousSlot(atOrBefore: now) == Self.at("2026-01-01T00:00:00Z"))
        #expect(try Self.schedule("a", .full, "0 2 * * 0").previousSlot(atOrBefore: now) == Self.at("2026-11-29T02:00:00Z"))
        #expect(try Self.schedule("a", .full, "* * * * *").previousSlot(atOrBefore: now) == Self.at("2026-12-02T08:30:00Z"))
        #expect(try Self.schedule("a", .full, "0 0 31 2 *").previousSlot(atOrBefore: now) == nil)
    }

    @Test("max_wait 0 gives up only what cannot start: a wake a moment late still starts; a slot passed during a long sleep runs once, at once")
    func lateWakes() throws {
        let full = try Self.schedule("a", .full, "0 2 * * *")
        var core = SchedulerCore(schedules: [full], settings: Self.settings(maxWait: 0), now: Self.at("2026-12-01T01:00:00Z"), lastRuns: [:], jitter: { _, _ in 0 })
        let late = core.advance(to: Self.at("2026-12-01T02:00:00Z").addingTimeInterval(0.002))
        #expect(late.starts.map(\.slot) == [Self.at("2026-12-01T02:00:00Z")])
        _ = core.finish(late.starts[0], .succeeded, now: Self.at("2026-12-01T02:10:00Z"))
        // Asleep (a suspended host) over three instants, waking far past max_wait.
        let woke = core.advance(to: Self.at("2026-12-04T09:00:00Z"))
        #expect(woke.starts.map(\.slot) == [Self.at("2026-12-02T02:00:00Z")])
        #expect(!woke.events.contains { if case .gaveUp = $0 { return true }; return false })
    }
}
