import NIOCore
import NIOPosix

/// The threads vault's work runs on, instead of Swift's cooperative pool.
///
/// Almost everything vault does blocks a thread: libpq waits for the server
/// (`pg_backup_start` waits for a checkpoint), backups `pread` and restores `pwrite` and
/// `fsync`, child processes are waited for with `waitpid`. Swift's cooperative pool has one
/// thread per core (two on a small host), and a task that blocks one of them stalls every
/// other task, including the HTTP client's S3 requests. So the executable runs each command
/// under `run(_:)`: the command's task and every child task it starts (task groups, `async
/// let`) prefer this executor, whose threads are made for blocking. Unstructured tasks do not
/// inherit the preference; library code that needs one creates it with
/// `Task(executorPreference: BlockingExecutor.shared)`.
///
/// Actors keep their own executors; only non-isolated async code runs here.
public final class BlockingExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: `pool` is a thread-safe NIOThreadPool, set once in init.
    private let pool: NIOThreadPool

    /// Two threads more than cores, and at least four: a worker blocked in a read or a libpq
    /// wait leaves the cores to the workers that compute. More threads cost time: every
    /// executor hop wakes a thread, and with twice the cores a 600 MB backup took about 0.4 s
    /// longer (docs/BENCHMARKS.md).
    public static let threadCount = max(4, System.coreCount + 2)

    public static let shared = BlockingExecutor(threads: threadCount)

    public init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        pool.submit { _ in job.runSynchronously(on: executor) }
    }

    /// Runs `body` with this executor preferred for it and all of its child tasks. `body`
    /// stays in the caller's isolation; the non-isolated async work it calls runs here.
    public static func run<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async throws -> T {
        try await withTaskExecutorPreference(shared, isolation: isolation) { try await body() }
    }
}
