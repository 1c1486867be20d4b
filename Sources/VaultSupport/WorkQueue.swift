import Synchronization

/// Hands out items to a fixed number of workers, one at a time, so parallelism stays bounded
/// whatever the number of files.
///
/// A lock, not an actor: workers take an item for every file or extent, and an actor would
/// cost each of them two executor hops (to the actor and back), which on a busy host is
/// measurable in a backup's wall time.
public final class WorkQueue<Item: Sendable>: Sendable {
    private let state: Mutex<(items: [Item], index: Int)>

    public init(_ items: [Item]) { state = Mutex((items, 0)) }

    /// How many items there were in all.
    public var total: Int { state.withLock { $0.items.count } }

    public func next() -> Item? {
        state.withLock { state in
            guard state.index < state.items.count else { return nil }
            defer { state.index += 1 }
            return state.items[state.index]
        }
    }
}
