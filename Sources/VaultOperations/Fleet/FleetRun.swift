import Foundation
import Synchronization
import VaultPolicy
import VaultSupport

/// Runs one piece of work on every shard, at most `fleet.parallel` at once. A shard's failure
/// is that shard's result: the others go on.
public enum FleetRun {
    /// One shard's result, in the order of the shards given.
    public struct Outcome<R: Sendable>: Sendable {
        public var shard: String
        public var result: Result<R, any Error>
    }

    /// Shards finished and failed so far, for a progress display.
    public final class Progress: Sendable {
        private let state = Mutex<(done: Int, failed: Int)>((0, 0))
        private let counters = Mutex<[ProgressCounter]>([])
        public let total: Int

        public init(total: Int) { self.total = total }

        public var done: Int { state.withLock { $0.done } }
        public var failed: Int { state.withLock { $0.failed } }

        /// A byte counter for one shard's work; `bytes` sums them all.
        public func counter() -> ProgressCounter {
            let c = ProgressCounter()
            counters.withLock { $0.append(c) }
            return c
        }

        public var bytes: Int64 { counters.withLock { $0.reduce(0) { $0 + $1.done } } }

        func finished(ok: Bool) {
            state.withLock {
                $0.done += 1
                if !ok { $0.failed += 1 }
            }
        }
    }

    public static func each<R: Sendable>(_ shards: [ShardPolicy], parallel: Int, progress: Progress? = nil,
                                         _ body: @escaping @Sendable (ShardPolicy) async throws -> R) async -> [Outcome<R>] {
        var results = [Result<R, any Error>?](repeating: nil, count: shards.count)
        await withTaskGroup(of: (Int, Result<R, any Error>).self) { group in
            var next = 0
            func start() {
                guard next < shards.count else { return }
                let index = next
                let shard = shards[index]
                next += 1
                group.addTask {
                    do {
                        return (index, .success(try await body(shard)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            for _ in 0..<max(1, parallel) { start() }
            while let (index, result) = await group.next() {
                results[index] = result
                if case .success = result { progress?.finished(ok: true) } else { progress?.finished(ok: false) }
                start()
            }
        }
        return zip(shards, results).map { shard, result in
            Outcome(shard: shard.name, result: result ?? .failure(OperationError(.io, "shard \(shard.name) was not run")))
        }
    }
}
