import VaultPostgres

/// A node's archiving settings, as backups and `vault check` require them: WAL that never
/// reaches the repository makes a backup unrestorable.
struct ArchivingSettings {
    let mode: String
    let command: String

    static func read(_ conn: PostgresConnection) throws -> ArchivingSettings {
        ArchivingSettings(mode: try conn.scalar("SHOW archive_mode"), command: try conn.scalar("SHOW archive_command"))
    }

    /// What is wrong with these settings on `node`, or nil when they archive through vault.
    func problem(node: String) -> String? {
        guard mode == "on" || mode == "always" else {
            return "node \(node): archive_mode is '\(mode)'; set archive_mode = on and restart PostgreSQL"
        }
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
