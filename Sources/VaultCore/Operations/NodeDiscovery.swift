/// Finds a shard's live primary by asking each node `pg_is_in_recovery()`.
public enum NodeDiscovery {
    /// Connects to the shard's primary. Fails with every node's reason when none answers as
    /// primary, and refuses when two do (split brain is never resolved by guessing).
    public static func connectPrimary(_ shard: ShardPolicy) throws -> (NodePolicy, PostgresConnection) {
        var failures: [String] = []
        var found: [(NodePolicy, PostgresConnection)] = []
        for node in shard.nodes {
            do {
                let conn = try PostgresConnection(conninfo: node.conninfo, label: "node \(node.name) of shard \(shard.name)")
                if try conn.scalar("SELECT pg_is_in_recovery()") == "f" {
                    found.append((node, conn))
                } else {
                    failures.append("\(node.name) is a standby")
                }
            } catch let e as VaultError {
                failures.append(e.message)
            }
        }
        if found.count > 1 {
            throw VaultError(.refused, "shard \(shard.name) has \(found.count) primaries (\(found.map(\.0.name).joined(separator: ", "))); resolve that first")
        }
        guard let primary = found.first else {
            throw VaultError(.database, failures.count == 1 ? failures[0] : "no primary found for shard \(shard.name): \(failures.joined(separator: "; "))")
        }
        return primary
    }
}
