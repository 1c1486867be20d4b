import VaultSupport

/// One problem found in a policy file, with the line and column where it is.
public struct PolicyIssue: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String

    public var description: String { "line \(line): \(message)" }
}

/// A policy file that cannot be used: every problem found, in file order.
public struct PolicyError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var issues: [PolicyIssue]

    /// Why the file could not be read at all, when it could not.
    public var unreadable: String?

    public init(path: String, issues: [PolicyIssue]) {
        self.path = path
        self.issues = issues
    }

    public init(path: String, unreadable reason: String) {
        self.path = path
        self.issues = []
        self.unreadable = reason
    }

    /// One line for `error:` output: the first problem and how many more there are.
    public var description: String {
        if let unreadable { return "cannot read policy: \(unreadable)" }
        guard let first = issues.first else { return "policy \(path) is invalid" }
        let more = issues.count > 1 ? " (and \(issues.count - 1) more problem\(issues.count > 2 ? "s" : ""); run 'vault policy check')" : ""
        return "\(path):\(first.line): \(first.message)\(more)"
    }
}

/// A shard asked for that the policy cannot name: no such shard, several and none chosen, or
/// a key outside the shard map.
public typealias ShardLookupError = LayerError<ShardLookupErrorKind>

/// The kinds of `ShardLookupError`.
public enum ShardLookupErrorKind: Sendable, Equatable {
    case unknownShard
    case shardRequired
    case noShardMap
    case keyOutsideMap
}
