import Foundation
import Synchronization
import Testing
import VaultPolicy
@testable import VaultOperations

/// A clock the test moves: sleepers wake when it passes their deadline.
final class ManualClock: SchedulerClock {
    private struct State {
        var now: Date
        var sleepers: [Int: (deadline: Date, continuation: CheckedContinuation<Void, any Error>)] = [:]
        var nextID = 0
    }
    private let state: Mutex<State>

    init(_ start: Date) { state = Mutex(State(now: start)) }

    var now: Date { state.withLock { $0.now } }

    func sleep(until deadline: Date) async throws {
        let id = state.withLock { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let resume = state.withLock { s -> Bool in
                    if deadline <= s.now || Task.isCancelled { return true }
                    s.sleepers[id] = (deadline, c)
                    return false
                }
                if resume { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
    }

    func advance(to date: Date) {
        let due = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.now = date
            let ready = s.sleepers.filter { $0.value.deadline <= date }
            for key in ready.keys { s.sleepers[key] = nil }
            return ready.values.map(\.continuation)
        }
        for c in due { c.resume() }
    }
}

/// A runner whose jobs succeed at once, or (`blocking`) run until cancelled.
final class FakeRunner: ScheduledJobRunner {
    let blocking: Bool
    let started = Mutex<[SchedulerCore.Run]>([])

    init(blocking: Bool) { self.blocking = blocking }

    func run(_ run: SchedulerCore.Run, policy: Policy) async throws -> JobReport {
        started.withLock { $0.append(run) }
        if blocking {
            while true { try await Task.sleep(for: .milliseconds(5)) }
        }
        return JobReport(bytes: 42, detail: "done")
    }

    func lastRuns(policy: Policy) async throws -> [ScheduledJob: Date?] { [:] }
}

/// Collected log lines.
final class LogLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [[String: Any]] = []
    func append(_ text: String) {
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        lock.withLock { lines.append(object) }
    }
    var all: [[String: Any]] { lock.withLock { lines } }
    func events() -> [String] { all.compactMap { $0["event"] as? String } }
}

@Suite("scheduler daemon: reload and drain with an injected clock")
struct SchedulerDaemonTests {
    static func policyText(_ scheduler: String) -> String {
        """
        version: 1
        repository: {path: /nonexistent/vault-test-repo}
        encryption: none
        \(scheduler)
        defaults:
          schedule: {full: "0 2 * * *"}
        shards:
          - name: main
            nodes: [{name: a, conninfo: "host=127.0.0.1 port=1"}]
        """
    }

    static func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "vault-daemon-\(UUID().uuidString).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func until(_ condition: () async -> Bool) async throws {
        for _ in 0..<2000 {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("condition not reached within 10 s")
    }

    @Test("SIGHUP: a good policy replaces the schedules and settings; a bad one is refused, logged, and the old one kept")
    func reload() async throws {
        let path = try Self.write(Self.policyText("scheduler: {max_concurrent_jobs: 3, jitter: 0s}"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = LogLines()
        let daemon = await SchedulerDaemon(policy: try PolicyLoader.load(path: path), loadPolicy: { try PolicyLoader.load(path: path) },
                                           runner: FakeRunner(blocking: false), classify: { _ in .failed(reason: "x", retryable: false) },
                                           clock: ManualClock(SchedulerCoreTests.at("2026-12-01T00:00:00Z")), log: SchedulerLog(write: log.append))
        try Self.policyText("scheduler: {max_concurrent_jobs: 3, jitter: soon}").write(toFile: path, atomically: true, encoding: .utf8)
        await daemon.reload()
        #expect(await daemon.currentSettings.maxConcurrentJobs == 3)
        let refused = try #require(log.all.last)
        #expect(refused["event"] as? String == "reload-refused")
        #expect((refused["message"] as? String)?.contains("scheduler.jitter 'soon'") == true)
        #expect((refused["message"] as? String)?.contains(":4") == true)

        try Self.policyText("scheduler: {max_concurrent_jobs: 5, jitter: 0s}").write(toFile: path, atomically: true, encoding: .utf8)
        await daemon.reload()
        #expect(await daemon.currentSettings.maxConcurrentJobs == 5)
        #expect(log.events().last == "reloaded")
    }

    @Test("SIGTERM: nothing new starts; a running job gets drain_timeout, is then cancelled, and the daemon stops")
    func drain() async throws {
        let path = try Self.write(Self.policyText("scheduler: {jitter: 0s, drain_timeout: 30s}"))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let clock = ManualClock(SchedulerCoreTests.at("2026-12-01T01:59:00Z"))
        let runner = FakeRunner(blocking: true)
        let log = LogLines()
        let daemon = await SchedulerDaemon(policy: try PolicyLoader.load(path: path), loadPolicy: { try PolicyLoader.load(path: path) },
                                           runner: runner, classify: { _ in .failed(reason: "other", retryable: true) },
                                           clock: clock, log: SchedulerLog(write: log.append))
        let running = Task { try await daemon.run() }
        try await Self.until { log.events().contains("scheduled") }
        clock.advance(to: SchedulerCoreTests.at("2026-12-01T02:00:00Z"))
        try await Self.until { runner.started.withLock { $0.count } == 1 }

        await daemon.stop()
        clock.advance(to: SchedulerCoreTests.at("2026-12-01T02:00:20Z"))
        try await Task.sleep(for: .milliseconds(100))
        #expect(!log.events().contains("abandoned"), "cancelled before drain_timeout")
        clock.advance(to: SchedulerCoreTests.at("2026-12-01T02:00:31Z"))
        try await running.value

        let finished = try #require(log.all.first { $0["event"] as? String == "finished" })
        #expect(finished["outcome"] as? String == "failed")
        #expect((finished["message"] as? String)?.hasPrefix("cancelled") == true)
        #expect(log.events().suffix(3) == ["abandoned", "finished", "stopped"])
        // A cancelled run is not retried, and no later instant starts.
        clock.advance(to: SchedulerCoreTests.at("2026-12-02T03:00:00Z"))
        #expect(runner.started.withLock { $0.count } == 1)
    }
}
