import Foundation
import VaultSupport
import VaultSystem
import VaultPostgres
import VaultFormat
import VaultPolicy

/// `vault restore-point create NAME`: one restore point on every shard's primary, as close
/// together as the servers allow, recorded in the repository's fleet catalog only once every
/// shard has its point archived.
///
/// The order: connect to every primary and check it (the cluster the shard record names,
/// archiving on), so that nothing starts unless all can take part; run `fleet.pause_command`;
/// make the points, all at once, one session per shard; run `fleet.resume_command` (also when
/// a point failed); switch WAL on each and wait until the segment holding the point is in the
/// repository; write the catalog entry. A failure at any step leaves no catalog entry. A point
/// already in some shards' WAL cannot be taken back: the error names those shards, and the
/// name is not reused, since recovery stops at the first point of a name.
public struct RestorePointOperation {
    let policy: Policy

    public init(policy: Policy) {
        self.policy = policy
    }

    /// One shard's session, opened and checked before the pause.
    private final class Session: @unchecked Sendable {
        let shard: ShardPolicy
        let node: String
        let conn: PostgresConnection
        let archive: WALArchive
        init(shard: ShardPolicy, node: String, conn: PostgresConnection, archive: WALArchive) {
            self.shard = shard
            self.node = node
            self.conn = conn
            self.archive = archive
        }
    }

    public func create(_ name: String) async throws -> FleetRestorePoint {
        guard FleetRestorePoint.isValidName(name) else {
            throw OperationError(.usage, "restore point name '\(name)' may use only letters, digits, '-', '_' and '.', up to 63 characters")
        }
        let started = Date()
        let repository = try await RepositoryOpener.open(policy)
        if try await repository.restorePoint(named: name) != nil {
            throw OperationError(.refused, "a restore point named '\(name)' exists already (vault restore-point list); choose another name")
        }
        let sessions = try await open(repository)
        // The name is taken before any WAL holds it, and kept even if this attempt fails: a
        // second point of one name is never made by vault.
        guard try await repository.reserveRestorePointName(name, by: "vault restore-point create pid \(getpid()) on \(ProcessInfo.processInfo.hostName) at \(Timestamp.format(started))") else {
            throw OperationError(.refused, "the restore point name '\(name)' was used by an earlier attempt (its points may be in some shards' WAL); choose another name")
        }

        var paused = false
        if let pause = policy.fleet.pauseCommand, let resume = policy.fleet.resumeCommand {
            do {
                try runHook(pause, what: "fleet.pause_command")
            } catch {
                // It may have paused part of the application before failing.
                try? runHook(resume, what: "fleet.resume_command")
                throw error
            }
            paused = true
        }
        let made = await FleetRun.each(sessions.map(\.shard), parallel: sessions.count) { shard in
            try Self.makePoint(name, in: try Self.session(shard.name, sessions))
        }
        // Resumed at once, whatever happened: the points are made, or will not be.
        var resumeFailure: (any Error)?
        if paused, let resume = policy.fleet.resumeCommand {
            do { try runHook(resume, what: "fleet.resume_command") } catch { resumeFailure = error }
        }
        let resumeNote = resumeFailure.map { "; and \($0): the application may still be paused" } ?? ""
        let failed = made.filter { if case .failure = $0.result { return true }; return false }
        if !failed.isEmpty {
            let madeOn = made.filter { if case .success = $0.result { return true }; return false }.map(\.shard)
            throw OperationError(.database, "restore point '\(name)' was not made on \(Self.describe(failed))"
                + (madeOn.isEmpty ? "" : "; shards \(madeOn.joined(separator: ", ")) have a point of that name in their WAL, which is not in the catalog and will not be restored to: use another name")
                + resumeNote)
        }
        let points = made.compactMap { try? $0.result.get() }

        // The WAL holding each point, archived: switch, then wait for the point's segment.
        let archived = await FleetRun.each(sessions.map(\.shard), parallel: sessions.count) { shard in
            let session = try Self.session(shard.name, sessions)
            guard let point = points.first(where: { $0.shard == shard.name }) else { return }
            let switchedAt = Date()
            try session.conn.query("SELECT pg_switch_wal()")
            try await WALArrival.wait(for: point.segment, node: session.node, conn: session.conn, archive: session.archive,
                                      since: switchedAt, timeout: Double(shard.settings.archiveTimeout))
        }
        let notArchived = archived.filter { if case .failure = $0.result { return true }; return false }
        if !notArchived.isEmpty {
            throw OperationError(.checkFailed, "restore point '\(name)' was made but its WAL did not reach the repository on \(Self.describe(notArchived)); it is not in the catalog" + resumeNote)
        }

        let times = points.compactMap { Timestamp.parse($0.time) }
        let spread = (times.max() ?? started).timeIntervalSince(times.min() ?? started)
        let point = FleetRestorePoint(name: name, started: Timestamp.format(started), finished: Timestamp.format(Date()), paused: paused,
                                      spreadSeconds: (spread * 1_000_000).rounded() / 1_000_000, shards: points)
        guard try await repository.record(point) else {
            throw OperationError(.refused, "a restore point named '\(name)' was recorded meanwhile by another vault; this one is not in the catalog" + resumeNote)
        }
        if let resumeFailure {
            throw OperationError(.refused, "restore point '\(name)' is recorded, but \(resumeFailure): the application may still be paused")
        }
        return point
    }

    /// Connects to every shard's primary and checks it, all shards at once.
    private func open(_ repository: Repository) async throws -> [Session] {
        let opened = await FleetRun.each(policy.shards, parallel: policy.shards.count) { shard in
            let record = try await repository.shardRecord(shard.name)
            let (node, conn) = try NodeDiscovery.connectPrimary(shard)
            try record.requireSameCluster(try ClusterIdentity.read(from: conn), node: "node \(node.name) of shard \(shard.name)")
            if let problem = try ArchivingSettings.read(conn).problem(node: node.name) { throw OperationError(.checkFailed, problem) }
            // A primary that stops answering must not keep the application paused.
            try conn.query("SET statement_timeout = '30s'")
            return Session(shard: shard, node: node.name, conn: conn, archive: WALArchive(repository: repository, record: record))
        }
        let failed = opened.filter { if case .failure = $0.result { return true }; return false }
        if !failed.isEmpty {
            throw OperationError(.database, "no restore point was made: \(Self.describe(failed))")
        }
        return opened.compactMap { try? $0.result.get() }
    }

    private static func session(_ shard: String, _ sessions: [Session]) throws -> Session {
        guard let s = sessions.first(where: { $0.shard.name == shard }) else { throw OperationError(.usage, "no session for shard \(shard)") }
        return s
    }

    /// `pg_create_restore_point` and where it landed, in one round trip.
    private static func makePoint(_ name: String, in session: Session) throws -> FleetRestorePoint.Shard {
        let row = try session.conn.query("""
            SELECT lsn::text, pg_walfile_name(lsn),
                   to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
            FROM (SELECT pg_create_restore_point($1) AS lsn) p
            """, [name]).first ?? []
        guard row.count == 3, let lsn = row[0], LSN(lsn) != nil, let segment = row[1], let file = WALFileName(segment), let time = row[2] else {
            throw OperationError(.database, "node \(session.node) of shard \(session.shard.name) gave an unexpected answer to pg_create_restore_point")
        }
        return FleetRestorePoint.Shard(shard: session.shard.name, node: session.node, lsn: lsn, timeline: file.timeline, time: time, segment: segment)
    }

    /// Runs a policy hook as an argument vector (no shell); a non-zero exit is an error with
    /// the command's last lines.
    private func runHook(_ command: String, what: String) throws {
        let argv = ArgumentVector.split(command)
        guard !argv.isEmpty else { throw OperationError(.usage, "\(what) is empty") }
        let run = try ReplicaOperationContext.runLogged(argv, timeout: Double(policy.fleet.hookTimeout))
        if run.status == Subprocess.timedOut {
            throw OperationError(.refused, "\(what) (\(argv[0])) did not finish within fleet.hook_timeout (\(policy.fleet.hookTimeout) s) and was killed")
        }
        guard run.status == 0 else {
            let tail = run.tail.joined(separator: " / ")
            throw OperationError(.refused, "\(what) (\(argv[0])) exited \(run.status)\(tail.isEmpty ? "" : ": \(tail)")")
        }
    }

    /// `shard a (error), shard b (error)`.
    static func describe<R>(_ failed: [FleetRun.Outcome<R>]) -> String {
        failed.map { outcome -> String in
            if case .failure(let e) = outcome.result { return "shard \(outcome.shard) (\(e))" }
            return "shard \(outcome.shard)"
        }.joined(separator: ", ")
    }
}
