/// Checks the shard map as a whole: unique names, and key ranges that neither overlap nor
/// leave gaps (a key that maps to no shard, or to two, is a routing bug waiting to happen).
public enum ShardMapValidator {
    /// The repository keeps fleet-wide objects (restore points) under this prefix.
    public static let reservedName = "_fleet"

    static func isValidName(_ name: String) -> Bool {
        name != reservedName && !name.isEmpty && name.count <= 64 && !name.hasPrefix(".") && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
    }

    static func validate(_ shards: [ShardPolicy], issues: IssueList) {
        var seen = Set<String>()
        for s in shards where !s.name.isEmpty && !seen.insert(s.name).inserted {
            issues.add(line: s.line, "shard name '\(s.name)' is used twice")
        }
        let withKeys = shards.filter { $0.keys != nil }
        guard !withKeys.isEmpty else { return }
        for s in shards where s.keys == nil {
            issues.add(line: s.line, "shard \(s.name) has no keys range while other shards do: every shard of a shard map needs one")
        }
        let sorted = withKeys.sorted { ($0.keys?.from ?? 0) < ($1.keys?.from ?? 0) }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            guard let ka = a.keys, let kb = b.keys else { continue }
            if kb.from <= ka.to {
                issues.add(line: b.line, "key range of shard \(b.name) (\(kb.from)-\(kb.to)) overlaps shard \(a.name) (\(ka.from)-\(ka.to))")
            } else if kb.from > ka.to + 1 {
                issues.add(line: b.line, "keys \(ka.to + 1)-\(kb.from - 1) belong to no shard (gap between \(a.name) and \(b.name))")
            }
        }
    }
}

extension Policy {
    /// The shard whose key range holds `key`.
    public func locate(key: Int64) throws -> ShardPolicy {
        guard shards.contains(where: { $0.keys != nil }) else {
            throw ShardLookupError(.noShardMap, "policy \(sourcePath) has no shard map (no shard has a keys range)")
        }
        guard let s = shards.first(where: { $0.keys?.contains(key) == true }) else {
            let lo = shards.compactMap { $0.keys?.from }.min() ?? 0
            let hi = shards.compactMap { $0.keys?.to }.max() ?? 0
            throw ShardLookupError(.keyOutsideMap, "key \(key) is outside the shard map (\(lo)-\(hi))")
        }
        return s
    }
}
