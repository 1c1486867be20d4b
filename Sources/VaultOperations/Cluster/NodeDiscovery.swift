import VaultPostgres
import VaultPolicy

/// Finds a shard's live primary by asking each node `pg_is_in_recovery()`.
public enum NodeDiscovery {
    /// Connects to the shard's primary. Fails with every node's reason when none answers as
    /// primary, and refuses when two do (split brain is never resolved by guessing).
    public static func connectPrimary(_ shard: ShardPolicy) throws -> (NodePolicy, PostgresConnection) {
        try LibPQ.load() // not a node's failure, so not folded into theirs
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
            } catch let e {
                failures.append("\(e)")
            }
        }
        if found.count > 1 {
            throw OperationError(.refused, "shard \(shard.name) has \(found.count) primaries (\(found.map(\.0.name).joined(separator: ", "))); resolve that first")
        }
        guard let primary = found.first else {
            throw OperationError(.database, failures.count == 1 ? failures[0] : "no primary found for shard \(shard.name): \(failures.joined(separator: "; "))")
        }
        return primary
    }

    /// Connects to the node a base backup should read from, following `backup.from`:
    /// the primary, a standby (highest priority first), or a standby when one answers and the
    /// primary otherwise. Returns the primary's connection too when the source is a standby,
    /// because the backup's last WAL segment must be switched out on the primary.
    public static func connectBackupSource(_ shard: ShardPolicy) throws -> (node: NodePolicy, source: PostgresConnection, primary: PostgresConnection?) {
        try LibPQ.load()
        let from = shard.settings.backupFrom
        if from != .primary {
            var reasons: [String] = []
            for node in shard.nodes.sorted(by: { $0.priority > $1.priority }) {
                do {
                    let conn = try PostgresConnection(conninfo: node.conninfo, label: "node \(node.name) of shard \(shard.name)")
                    if try conn.scalar("SELECT pg_is_in_recovery()") == "t" {
                        let (_, primary) = try connectPrimary(shard)
                        return (node, conn, primary)
                    }
                } catch let e {
                    reasons.append("\(e)")
                }
            }
            if from == .standby {
                throw OperationError(.database, "shard \(shard.name) has backup.from: standby but no standby answers\(reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; "))")
            }
        }
        let (node, conn) = try connectPrimary(shard)
        return (node, conn, nil)
    }
}
