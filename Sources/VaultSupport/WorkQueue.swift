/// Hands out items to a fixed number of workers, one at a time, so parallelism stays bounded
/// whatever the number of files.
public actor WorkQueue<Item: Sendable> {
    private var items: [Item]
    private var index = 0

    public init(_ items: [Item]) { self.items = items }

    /// How many items there were in all.
    var total: Int { items.count }

    public func next() -> Item? {
        guard index < items.count else { return nil }
        defer { index += 1 }
        return items[index]
    }
}
