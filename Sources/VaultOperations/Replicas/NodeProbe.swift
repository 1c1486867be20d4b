import Foundation
import VaultPostgres
import VaultPolicy

/// Asks every node of a shard what it is (`NodeState`), over libpq, with a short connect
/// timeout: a node that does not answer is reported as unreachable, never waited for.
public enum NodeProbe {
    /// Connect timeout for topology questions, unless the node's conninfo sets its own.
    static let connectTimeout = 3

    public static func observe(_ shard: ShardPolicy) -> [NodeState] {
        shard.nodes.map { observe($0, shard: shard.name) }
    }

    public static func observe(_ node: NodePolicy, shard: String) -> NodeState {
        let info = ConnInfo(node.conninfo)
        var state = NodeState(name: node.name, priority: node.priority, host: info?.host, port: info?.port, reachable: false)
        do {
            let conn = try connect(node, shard: shard)
            try read(conn, into: &state)
            state.reachable = true
        } catch {
            state.error = "\(error)"
            state.down = (error as? PostgresError)?.kind == .connection && downSignatures.contains { "\(error)".contains($0) }
        }
        return state
    }

    static func connect(_ node: NodePolicy, shard: String) throws -> PostgresConnection {
        try PostgresConnection(conninfo: node.conninfo, label: "node \(node.name) of shard \(shard)", connectTimeout: connectTimeout)
    }

    /// libpq's words for "no server answers there". Anything else (a refused password, too
    /// many clients, a server starting up) proves a server is running.
    static let downSignatures = ["Connection refused", "timeout expired", "No route to host", "Network is unreachable",
                                 "could not translate host name", "No such file or directory", "Connection timed out"]

    /// Fills `state` from one session. Every query works on PostgreSQL 15 and later.
    static func read(_ conn: PostgresConnection, into state: inout NodeState) throws {
        let base = try conn.query("""
            SELECT pg_is_in_recovery(), (SELECT system_identifier FROM pg_control_system())::text,
                   current_setting('synchronous_standby_names')
            """).first ?? []
        guard base.count == 3 else { throw OperationError(.database, "\(conn.label): unexpected answer to the role query") }
        state.systemIdentifier = base[1]
        state.synchronousStandbyNames = base[2]
        if base[0] == "f" {
            state.role = .primary
            let row = try conn.query("SELECT pg_current_wal_lsn()::text, substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)").first ?? []
            state.currentLSN = row.first.flatMap { $0.flatMap(LSN.init) }
            state.timeline = row.count > 1 ? row[1].flatMap { UInt32($0, radix: 16) } : nil
            state.downstream = try conn.query("""
                SELECT coalesce(application_name, ''), coalesce(state, ''), coalesce(sync_state, ''), replay_lsn::text
                FROM pg_stat_replication
                """).map { r in
                NodeState.Downstream(applicationName: r[0] ?? "", state: r[1] ?? "", syncState: r[2] ?? "", replayLSN: r[3].flatMap { LSN($0) })
            }
        } else {
            state.role = .standby
            let row = try conn.query("""
                SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, (pg_get_wal_replay_pause_state() <> 'not paused')::text,
                       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::text,
                       greatest((SELECT timeline_id FROM pg_control_checkpoint()), (SELECT min_recovery_end_timeline FROM pg_control_recovery()))::text
                """).first ?? []
            if row.count == 5 {
                state.receiveLSN = row[0].flatMap { LSN($0) }
                state.replayLSN = row[1].flatMap { LSN($0) }
                state.replayPaused = row[2] == "true"
                state.replayDelaySeconds = row[3].flatMap { Double($0) }
                state.timeline = row[4].flatMap { UInt32($0) }
            }
            if let r = try conn.query("SELECT status, sender_host, sender_port::text, received_tli::text FROM pg_stat_wal_receiver").first, r.count == 4 {
                let upstream = NodeState.Upstream(status: r[0] ?? "", host: r[1], port: r[2], timeline: r[3].flatMap { UInt32($0) })
                state.upstream = upstream
                if upstream.status == "streaming", let received = upstream.timeline { state.timeline = max(state.timeline ?? 0, received) }
            }
        }
        if let r = try conn.query("SELECT failed_count::text, last_failed_wal, last_archived_wal FROM pg_stat_archiver").first, r.count == 3 {
            // pg_ls_archive_statusdir needs superuser or pg_monitor; without it the backlog is unknown.
            let ready = (try? conn.scalar("SELECT count(*)::text FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'")).flatMap { Int($0) }
            state.archiver = NodeState.Archiver(failedCount: r[0].flatMap { Int($0) } ?? 0, lastFailedWAL: r[1], lastArchivedWAL: r[2], readyCount: ready)
        }
    }
}
