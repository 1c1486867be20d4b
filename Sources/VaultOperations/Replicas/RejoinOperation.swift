import Foundation
import VaultSupport
import VaultSystem
import VaultPostgres
import VaultPolicy
import VaultFormat

/// `vault rejoin --node N`: brings an old primary (or any node off the current timeline) back
/// as a standby of the shard's primary.
///
/// The node is stopped first (a node that still accepts writes is fenced that way). Its WAL
/// that PostgreSQL marked ready but never archived is archived before anything else, because
/// pg_rewind would delete it. Then `pg_rewind --restore-target-wal` (restore_command =
/// vault archive-get) winds it back to where its history left the primary's; when the
/// rewind fails, the node is restored from the repository as a standby with a delta restore.
/// standby.signal and primary_conninfo are written before it starts, so it never starts as a
/// primary. A node ahead of the primary on the primary's own timeline cannot follow it and is
/// refused.
public struct RejoinOperation {
    public struct Options: Sendable {
        public var node: String
        public var dryRun: Bool
        public var timeoutSeconds: Double
        public var command: String

        public init(node: String, dryRun: Bool, timeoutSeconds: Double = 120, command: String) {
            self.node = node
            self.dryRun = dryRun
            self.timeoutSeconds = timeoutSeconds
            self.command = command
        }
    }

    /// Also the stable JSON of `vault rejoin --json`.
    public struct Result: Sendable, Encodable {
        public var shard: String
        public var dryRun: Bool
        public var node: String
        public var primary: String?
        public var checks: [ReplicaCheck]
        /// `pg_rewind`, `none needed`, or `delta restore` (after a failed rewind).
        public var method: String?
        public var outcome: String
        public var steps: [String]
    }

    public let policy: Policy
    public let shard: ShardPolicy

    public init(policy: Policy, shard: ShardPolicy) {
        self.policy = policy
        self.shard = shard
    }

    public func run(_ options: Options) async throws -> Result {
        let context = try await ReplicaOperationContext.open(policy: policy, shard: shard, command: options.command)
        let archive = context.archive
        return try await context.withLock("rejoin") { _ in
            let node = try context.control(options.node)
            let states = NodeProbe.observe(shard)
            let others = states.filter { $0.name != options.node && $0.reachable && $0.role == .primary }
            let primary = others.count == 1 ? others[0] : nil
            let own = states.first { $0.name == options.node }
            var checks: [ReplicaCheck] = []
            checks.append(ReplicaCheck("one other primary", primary != nil,
                                       primary.map { "\($0.name) accepts writes on timeline \($0.timeline.map(String.init) ?? "?")" }
                                           ?? "\(others.isEmpty ? "no other node accepts writes" : "\(others.map(\.name).joined(separator: ", ")) accept writes"): nothing to rejoin"))
            let pgdata = node.node.pgdata.flatMap { FileIO.exists($0 + "/PG_VERSION") ? $0 : nil }
            checks.append(ReplicaCheck("node's data directory is here", pgdata != nil,
                                       pgdata.map { "\($0)" } ?? "node \(options.node) has no pgdata on this host: run vault rejoin there"))
            if let own, own.reachable, own.role == .standby, let primary, own.streams(from: primary), own.timeline == primary.timeline {
                checks.append(ReplicaCheck("needs rejoining", false, "\(options.node) already streams from \(primary.name) on timeline \(primary.timeline.map(String.init) ?? "?")"))
            }
            if let primary, let pgdata {
                checks.append(try await Self.historyCheck(node: options.node, own: own, pgdata: pgdata, primary: primary))
            }
            var result = Result(shard: shard.name, dryRun: options.dryRun, node: options.node, primary: primary?.name, checks: checks,
                                method: nil, outcome: "", steps: [])
            if options.dryRun {
                let ok = checks.allSatisfy(\.passed)
                result.outcome = ok ? "would rejoin" : "would be refused"
                if ok, let primary {
                    result.steps = ["stop \(options.node) if it runs\(own?.role == .primary ? " (it accepts writes: this fences it)" : "")",
                                    "archive the WAL \(options.node) marked ready but never archived; keep its other unarchived WAL beside its pgdata",
                                    "pg_rewind onto \(primary.name) with --restore-target-wal (vault archive-get); on failure a delta restore as a standby",
                                    "write standby.signal and primary_conninfo, start it, confirm it streams from \(primary.name)",
                                    "record the rejoin (the node is no longer fenced)"]
                }
                return result
            }
            guard let primary, let pgdata, checks.allSatisfy(\.passed) else {
                throw ReplicaOperationContext.refusal("rejoin of node \(options.node)", checks.first { !$0.passed }, "nothing was changed")
            }
            let primaryControl = try context.control(primary.name)
            var steps: [String] = []
            // pg_rewind reads the source's timeline from its pg_control, which names the new
            // timeline only after a checkpoint: a primary whose promotion was cut short (a
            // switchover or failover killed before its CHECKPOINT) still names the old one, and
            // the rewound node could not start. Checked, and made, before anything changes.
            do {
                let conn = try primaryControl.connect()
                let checkpointTimeline = try conn.scalar("SELECT timeline_id FROM pg_control_checkpoint()")
                if UInt32(checkpointTimeline) != primary.timeline {
                    try conn.query("SET statement_timeout = 0")
                    try conn.query("CHECKPOINT")
                    steps.append("CHECKPOINT on \(primary.name): its pg_control named timeline \(checkpointTimeline), not \(primary.timeline.map(String.init) ?? "?")")
                }
            } catch {
                throw OperationError(.refused, "rejoin of node \(options.node) refused: cannot make sure \(primary.name)'s pg_control names its timeline (\(error)); run CHECKPOINT on it and try again; nothing was changed")
            }
            if own?.reachable == true {
                try node.stop()
                steps.append("stopped \(options.node)\(own?.role == .primary ? " (it accepted writes)" : "")")
            } else if let pid = node.livePostmaster {
                throw OperationError(.refused, "rejoin of node \(options.node) refused: it does not answer, but its postmaster (pid \(pid)) is alive; stop it first; nothing was changed")
            }
            steps.append(try await archiveReady(pgdata: pgdata, archive: archive))

            steps += try await saveUnarchived(pgdata: pgdata, timeline: try await ControlFile.read(dataDirectory: pgdata).timeline, archive: archive)
            let restoreCommand = RecoverySettings.restoreCommand(vaultPath: RestoreOperation.executablePath(), policyPath: policy.sourcePath, shard: shard.name)
            let conninfo = primaryControl.streamingConninfo(for: options.node)
            // pg_rewind reads restore_command from the target's configuration: it must be there
            // before the rewind (standby.signal is written after it, before any start).
            try node.writeStandbySettings(primaryConninfo: conninfo, restoreCommand: restoreCommand, signal: false)
            // pg_rewind copies the source's configuration files, and so does a restore; the node
            // keeps its own (its port, its listen address, its pg_hba.conf).
            let configuration = try Self.configurationFiles.compactMap { name in try FileIO.readIfExists(pgdata + "/" + name).map { (name, $0) } }
            let rewind = try rewindNode(node, pgdata: pgdata, source: primaryControl)
            if rewind.ok {
                result.method = rewind.detail.contains("no rewind required") ? "none needed" : "pg_rewind"
                steps.append("pg_rewind onto \(primary.name): \(rewind.detail)")
            } else {
                steps.append("pg_rewind failed (\(rewind.detail)); restoring \(options.node) from the repository as a standby (delta)")
                var restore = RestoreOperation.Options(targetDir: pgdata)
                restore.delta = true
                restore.standby = true
                _ = try await RestoreOperation(policy: policy, shard: shard).run(restore)
                result.method = "delta restore"
            }
            for (name, bytes) in configuration { try node.writeOwned(pgdata + "/" + name, bytes) }
            try node.writeStandbySettings(primaryConninfo: conninfo, restoreCommand: restoreCommand)
            try node.start()
            steps.append("started \(options.node) as a standby of \(primary.name)")
            let missing = try await ReplicaOperationContext.waitStreaming(shard.nodes.filter { $0.name == options.node }, from: primary.name,
                                                                          shard: shard, seconds: options.timeoutSeconds)
            steps.append(missing.isEmpty ? "\(options.node) streams from \(primary.name)" : "\(options.node) does NOT stream from \(primary.name) after \(Int(options.timeoutSeconds)) s")
            result.outcome = missing.isEmpty ? "completed" : "completed with warnings"
            result.steps = steps
            try await context.record(.rejoin, from: options.node, to: primary.name, lsn: nil, timeline: primary.timeline, outcome: result.outcome, steps: steps)
            return result
        }
    }

    /// The configuration files a data directory may hold, kept across a rewind.
    static let configurationFiles = ["postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf"]

    /// Whether the node's history lets it follow `primary`: a node on a newer timeline than
    /// the primary (it is the newer primary), or one that still accepts writes on the
    /// primary's timeline or a newer one, must not be wound back onto it; a node ahead of the
    /// primary on the primary's own timeline cannot follow it.
    static func historyCheck(node: String, own: NodeState?, pgdata: String, primary: NodeState) async throws -> ReplicaCheck {
        let control = try? await ControlFile.read(dataDirectory: pgdata)
        let timeline = (own?.reachable == true ? own?.timeline : nil) ?? control?.timeline ?? 0
        let end = (own?.reachable == true ? own?.position : nil) ?? control?.checkpoint
        let primaryTimeline = primary.timeline ?? 0
        if timeline > primaryTimeline || (own?.reachable == true && own?.role == .primary && timeline >= primaryTimeline) {
            return ReplicaCheck("history", false, "\(node) is on timeline \(timeline), \(primary.name) on \(primaryTimeline): \(node) is not the old primary; rewinding it would discard its writes. Fence the right node and run vault status")
        }
        if timeline == primaryTimeline, let end, let head = primary.currentLSN, end > head {
            return ReplicaCheck("history", false, "\(node) is ahead of \(primary.name) on timeline \(timeline) (\(end) > \(head)): it cannot follow; restore it as a standby (vault restore --standby --delta)")
        }
        return ReplicaCheck("history", true, "\(node) on timeline \(timeline), \(primary.name) on \(primaryTimeline)")
    }

    /// Keeps, beside the data directory, the node's WAL on its own last timeline that neither
    /// the archive nor its `.ready` list has (the segment being written when it died): the only
    /// copy of what a failover lost, which pg_rewind would delete.
    private func saveUnarchived(pgdata: String, timeline: UInt32, archive: WALArchive) async throws -> [String] {
        let inventory = try await WALInventory.load(archive)
        var saved: [String] = []
        let target = pgdata + ".vault-saved-wal-" + Timestamp.now().filter { $0.isNumber || $0 == "T" }
        for name in ((try? FileIO.list(pgdata + "/pg_wal")) ?? []).sorted() {
            guard let file = WALFileName(name), file.kind == .segment, file.timeline == timeline,
                  let number = file.segmentNumber(segmentSize: inventory.segmentSize),
                  !(inventory.segments[file.timeline]?.contains(number) ?? false),
                  number > (inventory.segments[file.timeline]?.max() ?? 0) else { continue }
            // A recycled file waits under a future name with old contents: its first page
            // names another position. Only segments written for their own position are WAL.
            let bytes = try FileIO.read(pgdata + "/pg_wal/" + name)
            guard let header = WALLongPageHeader(bytes), header.pageAddress == number * inventory.segmentSize else { continue }
            try FileIO.makeDirectories(target, mode: 0o700)
            try FileIO.writeDurably(target + "/" + name, bytes, mode: 0o600)
            saved.append(name)
        }
        return saved.isEmpty ? [] : ["kept \(saved.count) WAL file(s) the archive does not have in \(target) (\(saved.joined(separator: ", "))): they hold what the failover lost"]
    }

    /// Archives every segment the node's archiver left `.ready`: pg_rewind would remove it.
    private func archiveReady(pgdata: String, archive: WALArchive) async throws -> String {
        var pushed: [String] = []
        for file in ArchivePushOperation.readyFiles(in: pgdata + "/pg_wal") {
            _ = try await archive.push(file, contents: try FileIO.read(pgdata + "/pg_wal/" + file.text))
            pushed.append(file.text)
        }
        return pushed.isEmpty ? "no unarchived WAL on the node" : "archived \(pushed.count) WAL file(s) the node had not: \(pushed.joined(separator: ", "))"
    }

    /// Runs pg_rewind as the data directory's owner; (true, its last line) on success.
    private func rewindNode(_ node: NodeControl, pgdata: String, source: NodeControl) throws -> (ok: Bool, detail: String) {
        // -R writes standby.signal as the rewind finishes: from then on the node can only start
        // as a standby, even if vault stops before it writes its own settings.
        let argv = [try node.bindir(pgdata) + "/pg_rewind", "--target-pgdata", pgdata, "--source-server", source.node.conninfo,
                    "--restore-target-wal", "--write-recovery-conf"]
        // --restore-target-wal runs restore_command, vault archive-get, which reads the secrets.
        let run = try ReplicaOperationContext.runLogged(argv, asUser: Subprocess.owner(of: pgdata), lines: 40, secrets: .passed)
        let detail = run.tail.last { $0.contains("no rewind required") } ?? run.tail.last ?? "no output"
        return (run.status == 0, run.status == 0 ? detail : "exit \(run.status): \(run.tail.suffix(2).joined(separator: "; "))")
    }
}
