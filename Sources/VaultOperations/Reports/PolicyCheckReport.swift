import VaultPolicy

/// The stable JSON shape of `vault policy check --json`: whether the file is valid, what it
/// describes, and every problem with its line and column.
public struct PolicyCheckReport: Encodable, Sendable {
    public struct Issue: Encodable, Sendable {
        public var line: Int
        public var column: Int
        public var message: String
    }

    public struct KeySpace: Encodable, Sendable {
        public var from: Int64
        public var to: Int64
    }

    public var path: String
    public var valid: Bool
    public var shards: Int
    public var nodes: Int
    /// The key space the shard map covers, when the policy has one.
    public var shardMap: KeySpace?
    public var issues: [Issue]

    public init(path: String, policy: Policy) {
        self.path = path
        valid = true
        shards = policy.shards.count
        nodes = policy.shards.reduce(0) { $0 + $1.nodes.count }
        let ranges = policy.shards.compactMap(\.keys)
        if let low = ranges.map(\.from).min(), let high = ranges.map(\.to).max() { shardMap = KeySpace(from: low, to: high) }
        issues = []
    }

    public init(path: String, error: PolicyError) {
        self.path = path
        valid = false
        shards = 0
        nodes = 0
        issues = error.issues.map { Issue(line: $0.line, column: $0.column, message: $0.message) }
        if let unreadable = error.unreadable { issues.append(Issue(line: 0, column: 0, message: "cannot read policy: \(unreadable)")) }
    }

    /// `PATH: ok (2 shards, 4 nodes, shard map covers 0-65535)`.
    public var text: String {
        let plural = { (n: Int, word: String) in "\(n) \(word)\(n == 1 ? "" : "s")" }
        let map = shardMap.map { ", shard map covers \($0.from)-\($0.to)" } ?? ""
        return "\(path): ok (\(plural(shards, "shard")), \(plural(nodes, "node"))\(map))"
    }
}
