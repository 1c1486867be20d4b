import Foundation
import VaultSupport
import VaultSystem
import VaultPostgres
import VaultPolicy

/// Stops, starts, promotes and re-points one node. Queries go over libpq, so they work for
/// remote nodes; stopping and starting use the node's `stop_command`/`start_command` (run as
/// argument vectors, never through a shell) or `pg_ctl` on its `pgdata` when it is local.
struct NodeControl {
    let shard: ShardPolicy
    let node: NodePolicy

    /// How vault can stop and start the node, or nil when it cannot.
    var controllable: String? {
        if node.stopCommand != nil && node.startCommand != nil { return "stop_command and start_command of node \(node.name)" }
        if let pgdata = node.pgdata, FileIO.exists(pgdata + "/PG_VERSION") { return "pg_ctl on \(pgdata)" }
        return nil
    }

    func connect() throws -> PostgresConnection {
        try NodeProbe.connect(node, shard: shard.name)
    }

    /// Stops the server with a clean (fast) shutdown: clients are disconnected, a shutdown
    /// checkpoint is written and, on a primary, streamed to the connected standbys first.
    func stop() throws {
        if let command = node.stopCommand {
            try run(ArgumentVector.split(command), what: "stop_command of node \(node.name)")
        } else {
            let pgdata = try localData()
            try run([try bindir(pgdata) + "/pg_ctl", "-D", pgdata, "-m", "fast", "-w", "-t", "300", "stop"], what: "pg_ctl stop of node \(node.name)",
                    asUser: Subprocess.owner(of: pgdata))
        }
    }

    func start() throws {
        if let command = node.startCommand {
            try run(ArgumentVector.split(command), what: "start_command of node \(node.name)", secrets: .passed)
        } else {
            let pgdata = try localData()
            let log = pgdata + "/vault-server.log"
            do {
                try run([try bindir(pgdata) + "/pg_ctl", "-D", pgdata, "-l", log, "-w", "-t", "300", "start"],
                        what: "pg_ctl start of node \(node.name)", asUser: Subprocess.owner(of: pgdata), secrets: .passed)
            } catch let e as OperationError {
                // The server's own last words say why (a port in use, a bad setting).
                let tail = String(decoding: (try? FileIO.read(log)) ?? [], as: UTF8.self).split(separator: "\n").suffix(2).joined(separator: "; ")
                throw OperationError(e.kind, "\(e.message)\(tail.isEmpty ? "" : " (\(log): \(tail))")")
            }
        }
    }

    /// The pid of the node's postmaster when its postmaster.pid names a live process (local
    /// nodes only); nil when there is no such file or the process is gone (a crash).
    var livePostmaster: Int32? {
        guard let pgdata = node.pgdata, let bytes = try? FileIO.readIfExists(pgdata + "/postmaster.pid"),
              let pid = Int32(String(decoding: bytes, as: UTF8.self).split(separator: "\n").first ?? "") else { return nil }
        return kill(pid, 0) == 0 ? pid : nil
    }

    func localData() throws -> String {
        guard let pgdata = node.pgdata, FileIO.exists(pgdata + "/PG_VERSION") else {
            throw OperationError(.usage, "node \(node.name) has no pgdata on this host and no stop_command/start_command in the policy")
        }
        return pgdata
    }

    func bindir(_ pgdata: String) throws -> String {
        let version = String(decoding: try FileIO.read(pgdata + "/PG_VERSION"), as: UTF8.self).trimmingSpaces()
        return try RecoveryStarter.bindir(shard: shard, majorVersion: Int(version) ?? 0)
    }

    /// The conninfo a standby uses to stream from this node: its policy conninfo with
    /// `application_name` set to the standby's name, so the primary's `pg_stat_replication`
    /// and `synchronous_standby_names` can tell standbys apart.
    func streamingConninfo(for standby: String) -> String {
        ConnInfo.setting("application_name", to: standby, in: node.conninfo)
    }

    /// Points a running standby at `primary`, on the newest timeline, and reloads.
    static func repoint(_ conn: PostgresConnection, to primaryConninfo: String) throws {
        try conn.query("ALTER SYSTEM SET primary_conninfo = \(ConfigValue.sqlLiteral(primaryConninfo))")
        try conn.query("ALTER SYSTEM SET recovery_target_timeline = 'latest'")
        try conn.query("SELECT pg_reload_conf()")
    }

    /// Makes a stopped node start as a standby of `primaryConninfo`: standby.signal and the
    /// settings in postgresql.auto.conf, written before it starts, so it never starts as a
    /// primary. Without `signal` only the settings are written (pg_rewind must find
    /// restore_command, and refuses to run crash recovery on a directory with standby.signal).
    func writeStandbySettings(primaryConninfo: String, restoreCommand: String?, signal: Bool = true) throws {
        let pgdata = try localData()
        let autoConf = pgdata + "/postgresql.auto.conf"
        let replaced: Set<String> = ["primary_conninfo", "primary_slot_name", "recovery_target_timeline", "restore_command"]
        let existing = String(decoding: (try FileIO.readIfExists(autoConf)) ?? [], as: UTF8.self)
        var lines = existing.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { line in
            let key = line.trimmingSpaces().prefix { $0 != "=" && $0 != " " }
            return !replaced.contains(String(key))
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        lines.append("primary_conninfo = \(ConfigValue.quoted(primaryConninfo))")
        lines.append("recovery_target_timeline = 'latest'")
        if let restoreCommand { lines.append("restore_command = \(ConfigValue.quoted(restoreCommand))") }
        try writeOwned(autoConf, Array((lines.joined(separator: "\n") + "\n").utf8))
        if signal { try writeOwned(pgdata + "/standby.signal", []) }
    }

    /// Writes a file of the node's data directory atomically, owned by the directory's owner
    /// (vault may run as root; PostgreSQL must be able to read and rewrite the file).
    func writeOwned(_ path: String, _ bytes: [UInt8]) throws {
        // Owner and mode are set on the temporary file before it takes the name: a kill in
        // between never leaves a file PostgreSQL cannot read.
        try FileIO.replaceDurably(path, bytes, mode: 0o600, sameOwnerAs: try localData() + "/PG_VERSION")
    }

    /// Runs a node command; one that starts a server passes the secrets its restore_command
    /// (vault archive-get) reads.
    private func run(_ argv: [String], what: String, asUser: String? = nil, secrets: ChildEnvironment.Secrets = .withheld) throws {
        guard !argv.isEmpty else { throw OperationError(.usage, "\(what) is empty") }
        let run = try ReplicaOperationContext.runLogged(argv, asUser: asUser, secrets: secrets)
        guard run.status == 0 else {
            let tail = run.tail.joined(separator: "; ")
            throw OperationError(.database, "\(what) exited \(run.status)\(tail.isEmpty ? "" : ": \(tail)")")
        }
    }
}

/// A policy command (`stop_command: "ssh db-b sudo systemctl stop postgresql"`) split into an
/// argument vector the way a shell splits words, without any expansion: spaces separate words,
/// single and double quotes group them. Nothing from data is ever handed to a shell.
enum ArgumentVector {
    static func split(_ command: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        for c in command {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "'" || c == "\"" {
                quote = c
                inWord = true
            } else if c == " " || c == "\t" {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.append(c)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
