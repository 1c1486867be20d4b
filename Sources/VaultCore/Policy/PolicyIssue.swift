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

    /// One line for `error:` output: the first problem and how many more there are.
    public var description: String {
        guard let first = issues.first else { return "policy \(path) is invalid" }
        let more = issues.count > 1 ? " (and \(issues.count - 1) more problem\(issues.count > 2 ? "s" : ""); run 'vault policy check')" : ""
        return "\(path):\(first.line): \(first.message)\(more)"
    }

    public var asVaultError: VaultError { VaultError(.policy, description) }
}
