import Foundation
internal import CLinux

/// Process-wide settings made once at start, before any other thread allocates.
public enum ProcessHardening {
    /// Caps glibc's malloc arenas and makes the process non-dumpable.
    public static func apply() {
        capMallocArenas()
        // A core file of vault would hold the data key and the passphrase it read; so would
        // another process of the same user reading its memory through ptrace or /proc.
        _ = vault_set_not_dumpable()
    }

    /// glibc gives each thread that contends for the heap an arena of its own, up to eight
    /// per core, and memory freed into one arena is not reused by another. A backup's
    /// workers, NIO's threads and the cooperative pool allocate and free large buffers on
    /// different threads, so its peak resident memory grew with the arenas rather than with
    /// the work: at 400,000 files a full backup peaked at 233 MiB with glibc's default and at
    /// 171 MiB with two arenas, at the same speed (docs/BENCHMARKS.md, "Memory as a shard
    /// grows"). Capped at one per core (at least two) unless the operator chose a number with
    /// `MALLOC_ARENA_MAX`, which glibc then reads itself.
    static func capMallocArenas(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard environment["MALLOC_ARENA_MAX"] == nil else { return }
        _ = mallopt(M_ARENA_MAX, Int32(max(2, min(ProcessInfo.processInfo.activeProcessorCount, 64))))
    }
}
