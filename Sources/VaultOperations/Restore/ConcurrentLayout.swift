import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import VaultSystem
import VaultFormat

/// A fresh restore's files, created on a thread of their own while the workers already write
/// extents into the ones that exist. With the page cache cold, creating a thousand files is
/// tens of milliseconds of metadata reads that the first extent need not wait for. The files
/// are still created exclusively and in manifest order (`RestoreTargetDirectory.layOut`); a
/// writer whose file is not there yet waits for it in `open`.
final class ConcurrentLayout: Sendable {
    private struct State {
        var finished = false
        var failure: (any Error)?
    }

    private let state = Mutex(State())
    private let done = DispatchSemaphore(value: 0)

    /// Starts creating `files` under `directory`.
    init(_ directory: RestoreTargetDirectory, files: [BackupManifest.File]) {
        // A thread, not a task: writers waiting for a file hold executor threads, and with a
        // `parallel` above the executor's width a task creating files might never run.
        Thread { [self] in
            do {
                try directory.layOut(files, delta: false)
            } catch {
                state.withLock { $0.failure = error }
            }
            state.withLock { $0.finished = true }
            done.signal()
        }.start()
    }

    /// Opens `path` with `flags`, waiting while it is still to be created. Once the layout has
    /// finished, a missing file is an error (the layout's own, when it failed).
    func open(_ path: String, flags: Int32) throws -> Int32 {
        while true {
            let finished = state.withLock { $0.finished }
            let fd = Glibc.open(path, flags)
            if fd >= 0 { return fd }
            if errno != ENOENT || finished {
                if let failure = state.withLock({ $0.failure }) { throw failure }
                return try Syscall.call("open \(path)") { Glibc.open(path, flags) }
            }
            usleep(200)
        }
    }

    /// Waits until every file is created; throws why the layout failed.
    func finish() throws {
        done.wait()
        if let failure = state.withLock({ $0.failure }) { throw failure }
    }
}
