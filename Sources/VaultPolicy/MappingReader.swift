import Yams

/// Reads one YAML mapping of the policy, recording a `PolicyIssue` (with its line) for every
/// key that is unknown, missing or of the wrong type instead of stopping at the first one.
final class MappingReader {
    let node: Node
    let path: String
    private let pairs: [(key: String, keyNode: Node, value: Node)]
    private var used = Set<String>()
    let issues: IssueList

    /// Keys that hold secrets and must never be written into the policy.
    static let secretKeys: Set<String> = ["passphrase", "password", "secret", "secret_access_key", "access_key_id", "aws_secret_access_key", "session_token", "aws_session_token"]

    init?(_ node: Node, path: String, issues: IssueList) {
        self.node = node
        self.path = path
        self.issues = issues
        guard case .mapping(let mapping) = node else {
            issues.add(node, "\(path) must be a mapping of keys to values")
            return nil
        }
        var seen = Set<String>()
        var list: [(String, Node, Node)] = []
        for (k, v) in mapping {
            let key = k.string ?? ""
            if !seen.insert(key).inserted {
                issues.add(k, "\(Self.join(path, key)) is given twice")
            }
            list.append((key, k, v))
        }
        pairs = list
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func has(_ key: String) -> Bool { pairs.contains { $0.key == key } }

    func value(_ key: String) -> Node? {
        used.insert(key)
        return pairs.first { $0.key == key }?.value
    }

    func string(_ key: String, required: Bool = false) -> String? {
        guard let v = value(key) else {
            if required { issues.add(node, "\(Self.join(path, key)) is missing") }
            return nil
        }
        guard case .scalar(let s) = v, v.null == nil else {
            issues.add(v, "\(Self.join(path, key)) must be a string")
            return nil
        }
        return s.string
    }

    func int(_ key: String, required: Bool = false, range: ClosedRange<Int64>? = nil) -> Int64? {
        guard let v = value(key) else {
            if required { issues.add(node, "\(Self.join(path, key)) is missing") }
            return nil
        }
        guard case .scalar(let s) = v, let i = Int64(s.string.replacingUnderscores()) else {
            issues.add(v, "\(Self.join(path, key)) must be a whole number, got '\(v.string ?? "a collection")'")
            return nil
        }
        if let range, !range.contains(i) {
            issues.add(v, "\(Self.join(path, key)) must be between \(range.lowerBound) and \(range.upperBound), got \(i)")
            return nil
        }
        return i
    }

    func bool(_ key: String) -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.bool else {
            issues.add(v, "\(Self.join(path, key)) must be true or false")
            return nil
        }
        return b
    }

    func mapping(_ key: String, required: Bool = false) -> MappingReader? {
        guard let v = value(key) else {
            if required { issues.add(node, "\(Self.join(path, key)) is missing") }
            return nil
        }
        return MappingReader(v, path: Self.join(path, key), issues: issues)
    }

    func sequence(_ key: String, required: Bool = false) -> [Node]? {
        guard let v = value(key) else {
            if required { issues.add(node, "\(Self.join(path, key)) is missing") }
            return nil
        }
        guard case .sequence(let seq) = v else {
            issues.add(v, "\(Self.join(path, key)) must be a list")
            return nil
        }
        return Array(seq)
    }

    /// Reports every key that no reader asked for: a typo, or a secret written inline.
    func finish() {
        for (key, keyNode, _) in pairs where !used.contains(key) {
            let full = Self.join(path, key)
            if Self.secretKeys.contains(key.lowercased()) {
                issues.add(keyNode, "\(full): secrets must not be written in the policy; use passphrase_file, passphrase_env or passphrase_command (or credentials_file for S3)")
            } else if let guess = Self.closest(to: key, in: used) {
                issues.add(keyNode, "unknown key \(full) (did you mean '\(guess)'?)")
            } else {
                issues.add(keyNode, "unknown key \(full)")
            }
        }
    }

    /// The known key nearest to a misspelled one, when it is close enough to be a typo.
    static func closest(to key: String, in known: Set<String>) -> String? {
        let scored = known.map { ($0, editDistance(key, $0)) }.filter { $0.1 <= max(2, key.count / 3) }
        return scored.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }?.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        var prev = Array(0...y.count)
        for i in 1...max(x.count, 1) where !x.isEmpty {
            var cur = [i] + Array(repeating: 0, count: y.count)
            for j in 1...max(y.count, 1) where !y.isEmpty {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return x.isEmpty ? y.count : prev[y.count]
    }
}

/// Problems collected while reading one policy file.
final class IssueList {
    private(set) var items: [PolicyIssue] = []

    func add(_ node: Node?, _ message: String) {
        items.append(PolicyIssue(line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, message: message))
    }

    func add(line: Int, _ message: String) {
        items.append(PolicyIssue(line: line, column: 1, message: message))
    }
}

extension String {
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
