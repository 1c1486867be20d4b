import Foundation
import Testing
import VaultSystem

@Suite("work that blocks runs on threads made for it")
struct BlockingExecutorTests {
    /// As many child tasks as the executor has threads each block their thread until all have
    /// arrived. Swift's cooperative pool has one thread per core, fewer than the executor's,
    /// so this rendezvous can only complete when the tasks run on the blocking executor, as
    /// every command does.
    @Test("as many tasks as the executor has threads, blocked at once, all make progress")
    func rendezvous() async throws {
        #expect(BlockingExecutor.threadCount > ProcessInfo.processInfo.activeProcessorCount)
        let barrier = Barrier(participants: BlockingExecutor.threadCount)
        let results = try await BlockingExecutor.run {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<barrier.participants {
                    group.addTask { barrier.arriveAndWait(seconds: 20) }
                }
                var all: [Bool] = []
                for try await r in group { all.append(r) }
                return all
            }
        }
        #expect(results == Array(repeating: true, count: barrier.participants), "every task saw all participants arrive")
    }
}

/// Blocks each caller until `participants` callers have arrived (or the time is up).
private final class Barrier: @unchecked Sendable {
    // @unchecked: `arrived` is only touched with `condition` locked.
    let participants: Int
    private let condition = NSCondition()
    private var arrived = 0

    init(participants: Int) { self.participants = participants }

    /// True when everyone arrived in time.
    func arriveAndWait(seconds: Double) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        let deadline = Date().addingTimeInterval(seconds)
        while arrived < participants {
            if !condition.wait(until: deadline) { return false }
        }
        return true
    }
}
