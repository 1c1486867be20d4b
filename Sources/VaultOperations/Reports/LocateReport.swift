import VaultPolicy

/// The stable JSON shape of `vault locate KEY --json`: the key, the shard whose range holds
/// it, that range, and the shard's nodes.
public struct LocateReport: Encodable, Sendable {
    public var key: Int64
    public var shard: String
    public var from: Int64
    public var to: Int64
    public var nodes: [String]

    public init(key: Int64, shard: ShardPolicy) {
        let range = shard.keys ?? KeyRange(from: key, to: key)
        self.key = key
        self.shard = shard.name
        self.from = range.from
        self.to = range.to
        self.nodes = shard.nodes.map(\.name)
    }

    public var text: String {
        "\(shard) (keys \(from)-\(to); nodes \(nodes.joined(separator: ", ")))"
    }
}
