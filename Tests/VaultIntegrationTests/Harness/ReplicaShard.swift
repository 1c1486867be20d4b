import Foundation
import Synchronization
import VaultPostgres

/// One primary (`a`) and two streaming standbys (`b`, `c`) on 127.0.0.1, all archiving
/// through vault into one repository, and a policy naming the three with their pgdata.
final class ReplicaShard {
    let f: VaultFixture
    let version: PostgresVersion
    let a: PostgresServer
    let b: PostgresServer
    let c: PostgresServer
    var servers: [String: PostgresServer] { ["a": a, "b": b, "c": c] }

    init(_ name: String, version: PostgresVersion, priorities: [String: Int] = [:], failover: String = "") throws {
        f = try VaultFixture(name)
        self.version = version
        a = try f.startInitialised(version)
        try a.sql("CREATE TABLE log(id bigint PRIMARY KEY, payload text NOT NULL)")
        b = try f.startStandby(of: a, name: "b")
        c = try f.startStandby(of: a, name: "c")
        try writePolicy(priorities: priorities, failover: failover)
    }

    func writePolicy(priorities: [String: Int] = [:], failover: String = "") throws {
        let nodes = [("a", a), ("b", b), ("c", c)].map { name, server in
            "      - {name: \(name), conninfo: \"host=127.0.0.1 port=\(server.port) user=postgres dbname=postgres\", pgdata: \(server.dataDir), priority: \(priorities[name] ?? 100)}"
        }.joined(separator: "\n")
        try f.dir.write("vault.yaml", """
            version: 1
            repository: {path: \(f.repositoryPath)}
            encryption: {passphrase_file: \(f.passphraseFile)}
            compression: {level: 3}
            shards:
              - name: main
                bindir: \(a.bindir)
                nodes:
            \(nodes)
            \(failover.isEmpty ? "" : "    failover: \(failover)")

            """, mode: 0o644)
    }

    /// Kills the node's postmaster with SIGKILL (by the pid in its postmaster.pid) and waits
    /// until it no longer answers. This sandbox's PID 1 does not reap orphans, so the killed
    /// server's processes stay zombies whose pids still look alive to pg_ctl and to
    /// PostgreSQL's lock-file check; on a real host init reaps them and postmaster.pid is
    /// merely stale. The stale lock files (postmaster.pid, the socket's) are removed here to match that.
    ///
    /// This and the other waits here block their thread rather than await: under the full
    /// suite, two cooperative threads serve every test, and a test that suspends at each poll
    /// can be left waiting behind others for minutes at a time.
    func kill(_ server: PostgresServer) throws {
        let pidText = try String(contentsOfFile: server.dataDir + "/postmaster.pid", encoding: .utf8)
        guard let pid = pid_t(pidText.split(separator: "\n").first ?? "") else { throw HarnessError("no pid in \(server.dataDir)/postmaster.pid") }
        Foundation.kill(pid, SIGKILL)
        let deadline = Date().addingTimeInterval(30)
        while (try? PostgresConnection(conninfo: server.conninfo + " connect_timeout=1", label: "killed")) != nil {
            if Date() > deadline { throw HarnessError("node on port \(server.port) still answers after SIGKILL") }
            usleep(100_000)
        }
        try? FileManager.default.removeItem(atPath: server.dataDir + "/postmaster.pid")
        try? FileManager.default.removeItem(atPath: server.socketDir + "/.s.PGSQL.\(server.port).lock")
    }

    /// The ids in `log` on `server`.
    func ids(_ server: PostgresServer) throws -> Set<Int> {
        let text = try server.sql("SELECT coalesce(string_agg(id::text, ','), '') FROM log") ?? ""
        return Set(text.split(separator: ",").compactMap { Int($0) })
    }

    /// `vault status --json` for shard main, as the first shard object.
    func status() throws -> (status: Int32, shard: [String: Any]) {
        let r = try f.vault(["status", "--json"])
        let list = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))) as? [[String: Any]]
        return (r.status, list?.first ?? [:])
    }

    /// Waits until `server` has replayed at least what `primary` has written now.
    func waitCaughtUp(_ server: PostgresServer, with primary: PostgresServer, timeout: TimeInterval = 60) throws {
        let target = try primary.sql("SELECT pg_current_wal_lsn()::text") ?? "0/0"
        let deadline = Date().addingTimeInterval(timeout)
        while try server.sql("SELECT pg_last_wal_replay_lsn() >= '\(target)'::pg_lsn") != "t" {
            if Date() > deadline { throw HarnessError("node on port \(server.port) did not replay to \(target)") }
            usleep(100_000)
        }
    }

    func cleanUp() { f.cleanUp() }
}

/// Inserts numbered rows into whichever node accepts writes, reconnecting across a
/// switchover or failover, and remembers every id whose COMMIT succeeded.
final class ReplicaWriter: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let committed = Mutex<[Int]>([])
    private let finished = DispatchSemaphore(value: 0)

    init(conninfos: [String], startingAt first: Int = 1) {
        let thread = Thread { [self] in
            defer { finished.signal() }
            var next = first
            var conn: PostgresConnection?
            while !stopFlag.load(ordering: .relaxed) {
                do {
                    if conn == nil { conn = try Self.connectPrimary(conninfos) }
                    guard let c = conn else { usleep(50_000); continue }
                    let id = next
                    next += 1
                    try c.query("INSERT INTO log VALUES ($1::bigint, md5($2))", [String(id), String(id)])
                    committed.withLock { $0.append(id) }
                    usleep(5_000)
                } catch {
                    conn = nil
                    usleep(50_000)
                }
            }
        }
        thread.start()
    }

    private static func connectPrimary(_ conninfos: [String]) throws -> PostgresConnection? {
        for info in conninfos {
            guard let c = try? PostgresConnection(conninfo: info + " connect_timeout=1", label: "writer") else { continue }
            if (try? c.scalar("SELECT pg_is_in_recovery()")) == "f" { return c }
        }
        return nil
    }

    var count: Int { committed.withLock { $0.count } }

    func waitFor(_ n: Int, timeout: TimeInterval = 120) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while count < n {
            if Date() > deadline { throw HarnessError("the writer committed only \(count) of \(n) rows") }
            usleep(20_000)
        }
    }

    /// Stops the writer; returns the ids it saw committed.
    func stop() -> Set<Int> {
        stopFlag.store(true, ordering: .relaxed)
        finished.wait()
        return Set(committed.withLock { $0 })
    }
}
