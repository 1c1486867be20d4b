#if canImport(Glibc)
import Glibc
#endif
import VaultSystem

/// The `flock` on `<spool>/.lock` that lets one background worker at a time fill or serve a
/// spool (archive-get's prefetch, archive-push's push-ahead). The command that starts a worker
/// takes the lock first and hands it over as descriptor 3, so there is no moment when a worker
/// is starting but the spool looks free.
struct SpoolLock: Sendable {
    let spool: SpoolDirectory

    var path: String { spool.directory + "/.lock" }

    /// The descriptor a started worker finds the lock on, already held.
    static let inheritedDescriptor: Int32 = 3

    /// Takes the lock without waiting; nil when a worker holds it.
    func tryLock() -> Int32? {
        try? FileIO.makeDirectories(spool.directory, mode: 0o700)
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            return nil
        }
        return fd
    }

    func unlock(_ fd: Int32) { close(fd) }

    /// Whether a worker holds the lock right now.
    var isHeld: Bool {
        guard FileIO.exists(path) else { return false }
        guard let fd = tryLock() else { return true }
        unlock(fd)
        return false
    }

    /// Starts `argv` detached with the lock handed over, unless a worker holds it already.
    func startWorker(_ argv: [String]) {
        guard let fd = tryLock() else { return }
        defer { unlock(fd) }
        try? Subprocess.spawnDetached(argv, passing: fd, as: Self.inheritedDescriptor)
    }

    /// In the worker: the lock handed over by `startWorker`, or, run by hand, one taken now.
    func acquireAsWorker() -> Int32? {
        let fd = Self.inheritedDescriptor
        var inherited = stat(), lockFile = stat()
        if fstat(fd, &inherited) == 0, stat(path, &lockFile) == 0,
           inherited.st_dev == lockFile.st_dev, inherited.st_ino == lockFile.st_ino,
           flock(fd, LOCK_EX | LOCK_NB) == 0 {
            return fd
        }
        return tryLock()
    }
}
