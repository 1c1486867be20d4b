import VaultPostgres

/// What `require_tls: true` asks of a node's conninfo, read the way libpq reads it.
enum TLSRequirement {
    /// The sslmode values with which libpq never falls back to a plain connection.
    static let modes: Set<String> = ["require", "verify-ca", "verify-full"]

    /// Why `conninfo` could connect without TLS, or nil when it cannot (or connects through a
    /// Unix socket, which never leaves the host).
    static func problem(conninfo: String) -> String? {
        guard let parsed = ConnInfo(conninfo) else { return LibPQ.loadFailure ?? "conninfo cannot be parsed" }
        let hosts = (parsed.values["host"] ?? "").split(separator: ",").map(String.init)
        if parsed.values["hostaddr"] == nil, !hosts.isEmpty, hosts.allSatisfy({ $0.hasPrefix("/") || $0.hasPrefix("@") }) { return nil }
        let mode = parsed.values["sslmode"] ?? "prefer"
        guard modes.contains(mode) else {
            return "conninfo has sslmode=\(mode), which allows a connection without TLS (use sslmode=verify-full with sslrootcert, or require)"
        }
        return nil
    }
}
