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

    var lockPath: String { spool.directory + "/.lock" }

    /// Takes the spool's lock without waiting; nil when a worker holds it.
    func tryLock() -> Int32? {
        try? FileIO.makeDirectories(spool.directory, mode: 0o700)
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            return nil
        }
        return fd
    }

    func unlock(_ fd: Int32) { close(fd) }

    /// Whether a worker is fetching right now.
    var isRunning: Bool {
        guard FileIO.exists(lockPath) else { return false }
        guard let fd = tryLock() else { return true }
        unlock(fd)
        return false
    }

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

    /// The descriptor a started worker finds the spool's lock on, already held.
    static let inheritedLockDescriptor: Int32 = 3

    /// Starts `vault archive-get --prefetch <segment> <spool>` detached, unless a worker runs.
    /// The lock is taken here and handed to the worker as descriptor 3, so there is no moment
    /// when a worker is starting but the spool looks free (and could be cleared under it).
    static func start(policy: Policy, shard: String, after segment: String, spool: SpoolDirectory) {
        let worker = PrefetchWorker(spool: spool)
        guard let fd = worker.tryLock() else { return }
        defer { worker.unlock(fd) }
        let argv = [RestoreOperation.executablePath(), "--policy", policy.sourcePath, "--shard", shard, "--log-level", "error",
                    "archive-get", "--prefetch", segment, spool.directory]
        try? Subprocess.spawnDetached(argv, passing: fd, as: inheritedLockDescriptor)
    }

    /// In the worker: the lock handed over by `start`, or, run by hand, one taken now.
    func acquireAsWorker() -> Int32? {
        let fd = Self.inheritedLockDescriptor
        var inherited = stat(), lockFile = stat()
        if fstat(fd, &inherited) == 0, stat(lockPath, &lockFile) == 0,
           inherited.st_dev == lockFile.st_dev, inherited.st_ino == lockFile.st_ino,
           flock(fd, LOCK_EX | LOCK_NB) == 0 {
            return fd
        }
        return tryLock()
    }
}
