import Synchronization

/// Bytes done out of bytes to do, updated by workers and read by whoever shows progress.
public final class ProgressCounter: Sendable {
    private let totalBytes = Atomic<Int64>(0)
    private let doneBytes = Atomic<Int64>(0)

    public init() {}

    public var total: Int64 { totalBytes.load(ordering: .relaxed) }
    public var done: Int64 { doneBytes.load(ordering: .relaxed) }

    public func setTotal(_ bytes: Int64) { totalBytes.store(bytes, ordering: .relaxed) }
    public func add(_ bytes: Int64) { doneBytes.add(bytes, ordering: .relaxed) }
}
