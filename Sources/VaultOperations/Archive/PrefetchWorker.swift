import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VaultSystem
import VaultPolicy

/// The background half of archive-get prefetch: a short-lived process that fetches the next
/// segments into the spool while PostgreSQL replays, so fetching overlaps replay instead of
/// alternating with it. One at a time per spool (an `flock` on `<spool>/.lock`); it fetches at
/// most `get_ahead` segments and exits. archive-get starts it detached (its own session,
/// output to /dev/null): its errors do not matter, because PostgreSQL's own request for a
/// segment that is missing from the spool takes the normal path and reports them.
struct PrefetchWorker {
    let spool: SpoolDirectory

    var lock: SpoolLock { SpoolLock(spool: spool) }

    /// Whether a worker is fetching right now.
    var isRunning: Bool { lock.isHeld }

    /// Waits (up to `timeout`) while a worker runs and `name` has not arrived; true when it has.
    func waitFor(_ name: String, timeout: TimeInterval = 300) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !spool.has(name) && isRunning && Date() < deadline { usleep(5_000) }
        return spool.has(name)
    }

    /// Removes the spool once no worker is writing into it.
    func clearSpool() {
        let deadline = Date().addingTimeInterval(300)
        while isRunning && Date() < deadline { usleep(20_000) }
        spool.clear()
    }

    /// Starts `vault archive-get --prefetch <segment> <spool>` detached, unless a worker runs.
    static func start(policy: Policy, shard: String, after segment: String, spool: SpoolDirectory) {
        SpoolLock(spool: spool).startWorker([RestoreOperation.executablePath(), "--policy", policy.sourcePath, "--shard", shard,
                                             "--log-level", "error", "archive-get", "--prefetch", segment, spool.directory])
    }
}
