/// Whether a node archives its WAL through vault, as backups and `vault check` require:
/// a backup whose WAL never reaches the repository cannot be restored.
enum ArchivingProblem {
    /// What is wrong with the node's archiving settings, or nil when they call vault.
    static func of(_ conn: PostgresConnection, node: String) throws -> String? {
        let mode = try conn.scalar("SHOW archive_mode")
        guard mode == "on" || mode == "always" else {
            return "node \(node): archive_mode is '\(mode)'; set archive_mode = on and restart PostgreSQL"
        }
        let command = try conn.scalar("SHOW archive_command")
        guard command.contains("archive-push") else {
            return "node \(node): archive_command is '\(command)', which does not call 'vault archive-push'"
        }
        return nil
    }

    /// The archiver's last success and failure (`pg_stat_archiver`), for a message about WAL
    /// that did not arrive.
    static func archiverState(_ conn: PostgresConnection) -> String? {
        guard let row = try? conn.query("""
            SELECT coalesce(last_archived_wal, 'none'), coalesce(last_failed_wal, ''), coalesce(to_char(last_failed_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), ''), failed_count::text
            FROM pg_stat_archiver
            """).first, row.count == 4 else { return nil }
        let archived = row[0] ?? "none", failed = row[1] ?? "", when = row[2] ?? "", count = row[3] ?? "0"
        if failed.isEmpty { return "PostgreSQL's archiver last archived \(archived) and has not failed" }
        return "PostgreSQL's archiver last archived \(archived); it last failed on \(failed) at \(when) (\(count) failures since its statistics were reset; the PostgreSQL log says why)"
    }
}
