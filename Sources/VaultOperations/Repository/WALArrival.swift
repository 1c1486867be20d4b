import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat

/// Waits for a segment PostgreSQL just switched away from to be in the repository, and reads
/// it back (it must decrypt): what `check` proves and what a fleet restore point waits for.
enum WALArrival {
    /// Returns once `segment` is archived; fails at once when PostgreSQL's archiver reports a
    /// failure for it since `started`, or after `timeout` seconds.
    static func wait(for segment: String, node: String, conn: PostgresConnection, archive: WALArchive, since started: Date, timeout: Double) async throws {
        guard let file = WALFileName(segment) else {
            throw OperationError(.database, "node \(node) returned an unexpected WAL file name '\(segment)'")
        }
        let name = archive.objectName(file)
        while true {
            if try await archive.repository.storage.exists(name) {
                _ = try await archive.get(file)
                return
            }
            let failed = try conn.query("SELECT last_failed_wal, last_failed_time > $1::timestamptz FROM pg_stat_archiver", [Timestamp.format(started.addingTimeInterval(-1))])
            if let row = failed.first, row.count == 2, row[0] == segment, row[1] == "t" {
                throw OperationError(.checkFailed, "node \(node): archive_command failed for \(segment); the PostgreSQL log has vault's error line")
            }
            if Date().timeIntervalSince(started) > timeout {
                throw OperationError(.checkFailed, "node \(node): \(segment) did not reach the repository within \(Int(timeout)) s")
            }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
    }
}
