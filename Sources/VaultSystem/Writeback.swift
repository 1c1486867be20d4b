#if canImport(Glibc)
import Glibc
#endif
internal import CLinux

/// Control over when written data reaches the disk, for writers of many files (restore):
/// start the disk's work early so it overlaps the CPU's, then make it all durable with one
/// call per file system instead of one fsync per file.
public enum Writeback {
    /// Asks the kernel to start writing this range of `fd` to disk now, without waiting for
    /// it. Only a hint for overlap: a failure is ignored, since `FileSystemSync` afterwards
    /// is what makes the data durable and reports any write error.
    public static func start(_ fd: Int32, offset: Int, length: Int) {
        // A length of 0 means "to the end of the file" to sync_file_range: never that here.
        guard length > 0 else { return }
        _ = vault_start_writeback(fd, Int64(offset), Int64(length))
    }
}

/// The file systems a writer is about to fill, opened before it writes. `syncAndClose`
/// flushes each with syncfs, which on Linux 5.8 and later fails if a write-back on that file
/// system failed since its descriptor was opened (or earlier, if no other syncfs caller saw the
/// error first): opening first is what lets an error during early write-back
/// (`Writeback.start`), after the files were closed, still be reported. Older kernels report
/// nothing, as the global `sync` never does.
public final class FileSystemSync {
    private var descriptors: [(fd: Int32, path: String)] = []

    /// Opens one descriptor per distinct file system among the directories `paths` (which
    /// must exist; links are followed, so a linked pg_wal counts where it points).
    public init(_ paths: [String]) throws {
        var devices = Set<UInt64>()
        do {
            for path in paths {
                let fd = try Syscall.call("open directory \(path)") { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
                var st = stat()
                if fstat(fd, &st) == 0, !devices.insert(UInt64(st.st_dev)).inserted {
                    close(fd)
                    continue
                }
                descriptors.append((fd, path))
            }
        } catch {
            closeAll()
            throw error
        }
    }

    /// How many distinct file systems the descriptors stand for.
    public var count: Int { descriptors.count }

    /// Makes everything written to these file systems durable, then closes the descriptors
    /// (so none holds a volume busy afterwards); throws naming the first file system whose
    /// write-back failed.
    public func syncAndClose() throws {
        defer { closeAll() }
        for (fd, path) in descriptors where vault_syncfs(fd) != 0 {
            let code = errno
            throw SystemError(SystemError.Kind(errno: code),
                              "the file system holding \(path) reported a failed write to disk (\(String(cString: strerror(code)))), possibly another program's",
                              code: code)
        }
    }

    deinit { closeAll() }

    private func closeAll() {
        for (fd, _) in descriptors { close(fd) }
        descriptors = []
    }
}
