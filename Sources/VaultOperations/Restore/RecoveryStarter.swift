import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VaultSupport
import VaultSystem
import VaultPostgres
import VaultPolicy

/// `vault restore --start`: starts PostgreSQL on a restored directory, waits until recovery
/// has reached its target, and reports where it stopped.
public struct RecoveryStarter {
    public struct Reached: Sendable, Codable {
        public var lsn: String
        public var timeline: String
        public var lastCommit: String?
        public var state: String
        public var seconds: Double
    }

    let dataDir: String
    let bindir: String
    let action: String
    let timeout: Double

    public init(dataDir: String, bindir: String, action: String, timeout: Double) {
        self.dataDir = dataDir
        self.bindir = bindir
        self.action = action
        self.timeout = timeout
    }

    /// The server binaries: the shard's `bindir`, else Debian's layout for the backup's version.
    static func bindir(shard: ShardPolicy, majorVersion: Int) throws -> String {
        if let b = shard.bindir {
            guard FileIO.exists(b + "/pg_ctl") else { throw OperationError(.usage, "bindir \(b) of shard \(shard.name) has no pg_ctl") }
            return b
        }
        let debian = "/usr/lib/postgresql/\(majorVersion)/bin"
        guard FileIO.exists(debian + "/pg_ctl") else {
            throw OperationError(.usage, "cannot find PostgreSQL \(majorVersion)'s pg_ctl: set bindir for shard \(shard.name) in the policy")
        }
        return debian
    }

    public func run() async throws -> Reached {
        let started = Date()
        try handOverIfRoot()
        let owner = Subprocess.owner(of: dataDir)
        let log = dataDir + "/vault-recovery.log"
        let status = try Subprocess.run([bindir + "/pg_ctl", "-D", dataDir, "-l", log, "-w", "-t", "3600", "start"], asUser: owner, output: dataDir + "/vault-pg_ctl.out",
                                        secrets: .passed) // its restore_command is vault archive-get
        if action == "shutdown" {
            while FileIO.exists(dataDir + "/postmaster.pid") && Date().timeIntervalSince(started) < timeout {
                try await Task.sleep(nanoseconds: 200_000_000)
            }
            guard !FileIO.exists(dataDir + "/postmaster.pid") else { throw OperationError(.database, "recovery in \(dataDir) did not shut down within \(Int(timeout)) s") }
            return Reached(lsn: "-", timeline: "-", lastCommit: nil, state: "reached the target and shut down", seconds: Date().timeIntervalSince(started))
        }
        guard status == 0, let conn = try await connect(owner: owner) else {
            throw OperationError(.database, "PostgreSQL did not start on \(dataDir) (exit \(status)); see \(log)")
        }
        while Date().timeIntervalSince(started) < timeout {
            let done: String
            if action == "standby" {
                // A hot standby accepts connections once consistent; report whether it streams.
                return try reached(conn, since: started, also: "(SELECT status FROM pg_stat_wal_receiver)") {
                    "running as a standby (WAL receiver: \($0 ?? "not connected yet"))"
                }
            } else if action == "pause" {
                done = try conn.scalar("SELECT pg_get_wal_replay_pause_state() = 'paused' OR NOT pg_is_in_recovery()")
            } else {
                done = try conn.scalar("SELECT NOT pg_is_in_recovery()")
            }
            if done == "t" {
                return try reached(conn, since: started, also: "pg_is_in_recovery()") { $0 == "t" ? "paused at the target" : "promoted" }
            }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        throw OperationError(.database, "recovery in \(dataDir) did not reach its target within \(Int(timeout)) s; see \(log)")
    }

    /// PostgreSQL refuses to run as root: a directory root restored (root-owned) is handed to
    /// the postgres user first, with the tablespace directories it links to.
    func handOverIfRoot() throws {
        guard geteuid() == 0, Subprocess.owner(of: dataDir) == "root" else { return }
        try FileTree.chown(dataDir, to: "postgres")
        for oid in (try? FileIO.list(dataDir + "/pg_tblspc")) ?? [] {
            if let target = try? FileIO.readLink(dataDir + "/pg_tblspc/" + oid) { try FileTree.chown(target, to: "postgres") }
        }
    }

    /// Where replay stands, with one more column (`also`) that names the state.
    private func reached(_ conn: PostgresConnection, since started: Date, also: String, state: (String?) -> String) throws -> Reached {
        let r = try conn.query("SELECT pg_last_wal_replay_lsn()::text, (SELECT timeline_id::text FROM pg_control_checkpoint()), pg_last_xact_replay_timestamp()::text, \(also)").first ?? []
        func column(_ i: Int) -> String? { r.count > i ? r[i] : nil }
        return Reached(lsn: column(0) ?? "-", timeline: column(1) ?? "-", lastCommit: column(2), state: state(column(3)), seconds: Date().timeIntervalSince(started))
    }

    /// Connects through the socket and port the server wrote in postmaster.pid.
    private func connect(owner: String?) async throws -> PostgresConnection? {
        guard let pid = try FileIO.readIfExists(dataDir + "/postmaster.pid") else { return nil }
        let lines = String(decoding: pid, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count > 4, let port = Int(lines[3]) else { return nil }
        let socket = lines[4].trimmingSpaces()
        return try Self.connectLocal(host: socket.isEmpty ? "127.0.0.1" : socket, port: port, database: "postgres",
                                     owner: owner, label: "restored server in \(dataDir)")
    }

    /// Connects to a server vault started, as `$PGUSER`, else the data directory's owner, else
    /// `postgres` (a cluster made with `initdb -U` may have no role named after its OS user).
    static func connectLocal(host: String, port: Int, database: String, owner: String?, label: String) throws -> PostgresConnection {
        let base = "host='\(host)' port=\(port) dbname='\(database)'"
        if ProcessInfo.processInfo.environment["PGUSER"] != nil { return try PostgresConnection(conninfo: base, label: label) }
        var lastError: (any Error)?
        var users = owner.map { [$0] } ?? []
        if !users.contains("postgres") { users.append("postgres") }
        for user in users {
            do {
                return try PostgresConnection(conninfo: base + " user='\(user)'", label: label)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? OperationError(.database, "cannot connect to \(label)")
    }
}
