internal import CLibPQ
#if canImport(Glibc)
import Glibc
#endif
import VaultSupport
import VaultSystem

/// One libpq connection. Owns its `PGconn` and closes it in exactly one place. Messages name
/// the node and its host and port, never the conninfo string (which might hold secrets).
public final class PostgresConnection {
    private let conn: OpaquePointer
    /// The node name used in messages.
    public let label: String

    /// Connects with `conninfo`; a 10-second connect timeout applies unless the conninfo
    /// sets its own. `replication` opens a physical replication connection (for WAL streaming).
    public init(conninfo: String, label: String, replication: Bool = false, connectTimeout: Int = 10) throws {
        self.label = label
        try LibPQ.load()
        // The conninfo goes in as "dbname" with expand_dbname=1, so libpq parses it. Keywords
        // after it would override it, so only ones it does not set are added.
        var keys = ["dbname", "fallback_application_name"]
        var values = [conninfo, "vault"]
        if !conninfo.contains("connect_timeout") {
            keys.append("connect_timeout")
            values.append(String(connectTimeout))
        }
        if replication {
            keys.append("replication")
            values.append("true")
        }
        let connection: OpaquePointer? = withCStrings(keys) { k in
            withCStrings(values) { v in
                vault_PQconnectdbParams(k, v, 1)
            }
        }
        guard let connection else { throw PostgresError(.connection, "cannot connect to \(label): out of memory") }
        conn = connection
        if vault_PQstatus(conn) != CONNECTION_OK {
            let where_ = Self.endpoint(conn)
            let message = Self.lastError(conn)
            // No PQfinish here: a class whose stored properties are all set runs deinit
            // when its initializer throws, and deinit finishes the connection.
            throw PostgresError(.connection, "cannot connect to \(label) (\(where_)): \(message)")
        }
        silenceNotices()
    }

    deinit { vault_PQfinish(conn) }

    /// Server notices (e.g. "all required WAL segments have been archived") are not errors;
    /// keep them off the operator's terminal.
    private func silenceNotices() {
        vault_PQsetNoticeProcessor(conn, { _, _ in }, nil)
    }

    /// Runs `sql` (with optional text parameters) and returns the rows, each column as text
    /// or nil for SQL NULL.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String] = []) throws -> [[String?]] {
        // Without parameters the simple protocol runs, which also accepts several statements.
        let result: OpaquePointer? = parameters.isEmpty ? vault_PQexec(conn, sql) : withCStrings(parameters) { params in
            vault_PQexecParams(conn, sql, Int32(parameters.count), nil, params, nil, nil, 0)
        }
        guard let result else { throw PostgresError(.query, "\(label): query failed: \(Self.lastError(conn))") }
        defer { vault_PQclear(result) }
        let status = vault_PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let msg = vault_PQresultErrorMessage(result).map { String(cString: $0) } ?? "unknown error"
            throw PostgresError(.query, "\(label): \(Self.firstLine(msg)) (while running: \(Self.firstLine(sql)))")
        }
        var rows: [[String?]] = []
        let nrows = vault_PQntuples(result), ncols = vault_PQnfields(result)
        rows.reserveCapacity(Int(nrows))
        for r in 0..<nrows {
            var row: [String?] = []
            for c in 0..<ncols {
                row.append(vault_PQgetisnull(result, r, c) == 1 ? nil : String(cString: vault_PQgetvalue(result, r, c)))
            }
            rows.append(row)
        }
        return rows
    }

    /// The single value of a one-row, one-column query.
    public func scalar(_ sql: String, _ parameters: [String] = []) throws -> String {
        let rows = try query(sql, parameters)
        guard let first = rows.first, let value = first.first, let value else {
            throw PostgresError(.unexpectedAnswer, "\(label): expected one value from: \(Self.firstLine(sql))")
        }
        return value
    }

    /// The single value of a one-row, one-column query, or nil for SQL NULL (a standby's
    /// `pg_last_wal_replay_lsn()` before it replayed anything).
    public func scalarOrNil(_ sql: String, _ parameters: [String] = []) throws -> String? {
        try query(sql, parameters).first?.first ?? nil
    }

    /// PostgreSQL's version as `server_version_num` (e.g. 150018).
    public var serverVersionNumber: Int { Int(vault_PQserverVersion(conn)) }

    private static func endpoint(_ conn: OpaquePointer) -> String {
        let host = vault_PQhost(conn).map { String(cString: $0) } ?? "?"
        let port = vault_PQport(conn).map { String(cString: $0) } ?? "?"
        return "host=\(host) port=\(port)"
    }

    private static func lastError(_ conn: OpaquePointer) -> String {
        let text = vault_PQerrorMessage(conn).map { String(cString: $0) } ?? "unknown error"
        // libpq messages can span lines (one per address tried); keep them on one line.
        return text.split(separator: "\n").map { $0.trimmingSpacesSub() }.filter { !$0.isEmpty }.joined(separator: "; ")
    }

    private static func firstLine(_ s: String) -> String {
        String(s.split(separator: "\n").first ?? "").trimmingSpaces()
    }
}

extension Substring {
    public func trimmingSpacesSub() -> String { String(self).trimmingSpaces() }
}
