import Foundation
internal import CMalloc

/// glibc gives each thread that contends for the heap an arena of its own, up to eight per
/// core, and memory freed into one arena is not reused by another. A backup's workers,
/// NIO's threads and the cooperative pool allocate and free large buffers on different
/// threads, so its peak resident memory grew with the arenas rather than with the work:
/// at 400,000 files a full backup peaked at 233 MiB with glibc's default and at 172 MiB with
/// two arenas (docs/BENCHMARKS.md, "Memory as a shard grows").
public enum MallocArenas {
    /// Caps the arenas at one per core (at least two), unless the operator chose a number
    /// with `MALLOC_ARENA_MAX`, which glibc then reads itself. Called once, before any
    /// thread starts.
    public static func cap(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard environment["MALLOC_ARENA_MAX"] == nil else { return }
        _ = mallopt(M_ARENA_MAX, Int32(max(2, min(ProcessInfo.processInfo.activeProcessorCount, 64))))
    }
}
