#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VaultSupport
import VaultSystem

/// An `flock` on a file in the repository directory. The kernel drops it when the process
/// dies, so a killed backup never leaves a stale lock behind.
final class PosixLock: StorageLock {
    private let fd: Mutex<Int32>

    init(path: String, owner: String) throws {
        try FileIO.makeDirectories(FileIO.parentDirectory(of: path))
        let fd = try Syscall.call("open lock \(path)") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? FileIO.read(path)).map { String(decoding: $0, as: UTF8.self).trimmingSpaces() } ?? ""
            close(fd)
            throw StorageError(.lockHeld, "\(path) is locked by \(holder.isEmpty ? "another process" : holder); one writer per shard at a time")
        }
        ftruncate(fd, 0)
        let text = Array(owner.utf8)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = Mutex(fd)
    }

    /// An flock lasts as long as its descriptor: held unless released.
    func confirm() async throws {
        if fd.withLock({ $0 }) < 0 { throw StorageError(.lockLost, "the shard lock was released before the work finished") }
    }

    func release() async {
        fd.withLock { fd in
            guard fd >= 0 else { return }
            ftruncate(fd, 0)
            close(fd)
            fd = -1
        }
    }

    deinit {
        fd.withLock { if $0 >= 0 { close($0) } }
    }
}

extension PosixStorage {
    public func lock(_ name: String, owner: String) async throws -> any StorageLock {
        try Self.checkName(name)
        return try storageErrors { try PosixLock(path: path(name), owner: owner) }
    }
}
