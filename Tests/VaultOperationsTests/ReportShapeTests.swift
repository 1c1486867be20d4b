import Foundation
import Testing
@testable import VaultFormat
@testable import VaultOperations
@testable import VaultPolicy
@testable import VaultPostgres
import VaultSupport

/// The `--json` output of every reporting command is a contract with operators' scripts and
/// monitoring. These tests pin each shape as the set of key paths it encodes (every optional
/// filled), so renaming or dropping a field fails here before it breaks someone's alerting.
@Suite("JSON output shapes are stable")
struct ReportShapeTests {
    /// Every key path in the encoded JSON: `a`, `a.b`, `list[].c`.
    static func keyPaths(_ value: some Encodable) throws -> Set<String> {
        let object = try JSONSerialization.jsonObject(with: Data(try JSONCoding.encode(value)))
        var out = Set<String>()
        func walk(_ node: Any, _ prefix: String) {
            if let dict = node as? [String: Any] {
                for (key, child) in dict {
                    let path = prefix.isEmpty ? key : prefix + "." + key
                    out.insert(path)
                    walk(child, path)
                }
            } else if let list = node as? [Any] {
                for child in list { walk(child, prefix + "[]") }
            }
        }
        walk(object, "")
        return out
    }

    static let manifest = BackupManifest(
        format: 1, id: "20261202T010000Z-I", kind: .incremental, parent: "20261201T010000Z-F", shard: "main",
        systemIdentifier: "7", versionNumber: 150000, node: "a", startTime: "2026-12-02T01:00:00Z", stopTime: "2026-12-02T01:00:05Z",
        startEpoch: 0, startLSN: LSN(0x100_0028), stopLSN: LSN(0x100_0100), timeline: 1, walStart: "000000010000000000000001",
        walStop: "000000010000000000000001", walComplete: true, backupLabel: "", tablespaces: [], directories: [], files: [], extents: [],
        stats: BackupManifest.Stats(databaseBytes: 1, bytesRead: 1, bytesStoredNew: 1, bytesReferenced: 0, files: 1, seconds: 1),
        checksumFailures: [BackupManifest.ChecksumFailure(path: "base/5/16384", blocks: [2])])

    static let record = VerificationRecord(
        format: 1, shard: "main", backup: "20261202T010000Z-I", finished: "2026-12-02T02:00:00Z", passed: false, repositoryOnly: false,
        target: "immediate", checked: ["repository"], problems: [RepositoryProblem("pack", "missing")],
        timings: VerificationRecord.Timings(repositorySeconds: 1, restoreSeconds: 1, recoverySeconds: 1, checksSeconds: 1, totalSeconds: 4),
        reachedLSN: "0/1000100", reachedTimeline: "1")

    static let verificationKeys: Set<String> = ["backup", "finished", "passed", "repositoryOnly", "recoverySeconds", "firstProblem"]

    @Test("list and backup: one object per backup")
    func backupSummary() throws {
        let expected = Set<String>([
            "id", "type", "parent", "shard", "node", "startTime", "stopTime", "startLSN", "stopLSN", "timeline", "databaseBytes",
            "bytesRead", "bytesStoredNew", "bytesReferenced", "files", "seconds", "walStart", "walStop", "walComplete",
            "pageChecksumFailures", "lastVerification",
        ]).union(Self.verificationKeys.map { "lastVerification." + $0 })
        #expect(try Self.keyPaths(BackupSummary(Self.manifest.head, verification: Self.record)) == expected)
    }

    static let node = NodeState(
        name: "b", priority: 100, host: "h", port: "5432", reachable: true, error: "e", systemIdentifier: "7", role: .standby, timeline: 1,
        currentLSN: LSN(1), receiveLSN: LSN(1), replayLSN: LSN(1), replayPaused: false, replayDelaySeconds: 0.1,
        upstream: .init(status: "streaming", host: "h", port: "5432", timeline: 1),
        downstream: [.init(applicationName: "c", state: "streaming", syncState: "async", replayLSN: LSN(1))],
        archiver: .init(failedCount: 0, lastFailedWAL: "w", lastArchivedWAL: "w", readyCount: 0), synchronousStandbyNames: "")

    static let nodeKeys: Set<String> = [
        "name", "priority", "host", "port", "reachable", "error", "down", "systemIdentifier", "role", "timeline", "currentLSN", "receiveLSN",
        "replayLSN", "replayPaused", "replayDelaySeconds", "upstream", "upstream.status", "upstream.host", "upstream.port",
        "upstream.timeline", "downstream", "downstream[].applicationName", "downstream[].state", "downstream[].syncState",
        "downstream[].replayLSN", "archiver", "archiver.failedCount", "archiver.lastFailedWAL", "archiver.lastArchivedWAL",
        "archiver.readyCount", "synchronousStandbyNames",
    ]

    static let event = TopologyEvent(shard: "main", kind: .failover, started: "t", finished: "t", user: "u", host: "h", command: "vault failover",
                                     from: "a", to: "b", lsn: "0/1", timeline: 2, outcome: "completed", steps: ["s"])
    static let eventKeys: Set<String> = ["format", "shard", "kind", "started", "finished", "user", "host", "command", "from", "to", "lsn",
                                         "timeline", "outcome", "steps"]

    @Test("status: one object per shard, with the topology, the last topology change and fenced nodes")
    func shardStatus() throws {
        let summary = VerificationSummary(Self.record)
        var topology = Topology(shard: "main", nodes: [Self.node])
        topology.primary = "a"
        let status = ShardStatus(shard: "main", backups: 2, newestBackup: "x", newestBackupStopTime: "t", newestBackupAgeSeconds: 1,
                                 newestWAL: "w", newestWALArchivedAt: "t", newestWALAgeSeconds: 1,
                                 lastVerification: summary, lastVerifiedRestore: summary, topology: topology,
                                 lastTopologyChange: Self.event, fenced: ["a"])
        let expected = Set<String>([
            "shard", "backups", "newestBackup", "newestBackupStopTime", "newestBackupAgeSeconds", "newestWAL", "newestWALArchivedAt",
            "newestWALAgeSeconds", "lastVerification", "lastVerifiedRestore", "topology", "topology.shard", "topology.nodes",
            "topology.primary", "topology.drift", "topology.warnings", "lastTopologyChange", "fenced",
        ]).union(Self.verificationKeys.map { "lastVerification." + $0 }).union(Self.verificationKeys.map { "lastVerifiedRestore." + $0 })
            .union(Self.nodeKeys.map { "topology.nodes[]." + $0 }).union(Self.eventKeys.map { "lastTopologyChange." + $0 })
        #expect(try Self.keyPaths(status) == expected)
    }

    @Test("switchover, failover and rejoin")
    func replicaCommands() throws {
        let check = ReplicaCheck("lag", true, "0 bytes")
        let checkKeys: Set<String> = ["checks", "checks[].name", "checks[].passed", "checks[].detail"]
        let switchover = SwitchoverOperation.Result(shard: "main", dryRun: false, checks: [check], from: "a", to: "b", shutdownCheckpoint: "0/1",
                                                    timeline: 2, outcome: "completed", steps: ["s"])
        #expect(try Self.keyPaths(switchover) == checkKeys.union(["shard", "dryRun", "from", "to", "shutdownCheckpoint", "timeline", "outcome", "steps"]))
        let failover = FailoverOperation.Result(shard: "main", dryRun: false, checks: [check], ranking: ["b"], from: "a", to: "b", promotedAt: "0/1",
                                                lagBytes: 0, timeline: 2, outcome: "completed", steps: ["s"])
        #expect(try Self.keyPaths(failover) == checkKeys.union(["shard", "dryRun", "ranking", "from", "to", "promotedAt", "lagBytes", "timeline", "outcome", "steps"]))
        let rejoin = RejoinOperation.Result(shard: "main", dryRun: false, node: "a", primary: "b", checks: [check], method: "pg_rewind",
                                            outcome: "completed", steps: ["s"])
        #expect(try Self.keyPaths(rejoin) == checkKeys.union(["shard", "dryRun", "node", "primary", "method", "outcome", "steps"]))
    }

    @Test("verify: the stored record")
    func verification() throws {
        let expected: Set<String> = [
            "format", "shard", "backup", "finished", "passed", "repositoryOnly", "target", "checked", "problems", "problems[].object",
            "problems[].problem", "timings", "timings.repositorySeconds", "timings.restoreSeconds", "timings.recoverySeconds",
            "timings.checksSeconds", "timings.totalSeconds", "reachedLSN", "reachedTimeline",
        ]
        #expect(try Self.keyPaths(Self.record) == expected)
    }

    @Test("restore")
    func restore() throws {
        let reached = RecoveryStarter.Reached(lsn: "0/1", timeline: "1", lastCommit: "t", state: "promoted", seconds: 1)
        let result = RestoreOperation.Result(backup: "b", files: 1, bytesWritten: 1, bytesUnchanged: 0, extentsRead: 1, removed: 0,
                                             removedSettings: ["postgresql.auto.conf: restore_command"], reached: reached)
        let expected: Set<String> = [
            "backup", "files", "bytesWritten", "bytesUnchanged", "extentsRead", "removed", "removedSettings", "reached",
            "reached.lsn", "reached.timeline", "reached.lastCommit", "reached.state", "reached.seconds",
        ]
        #expect(try Self.keyPaths(result) == expected)
    }

    @Test("expire")
    func expire() throws {
        let result = ExpireOperation.Result(shard: "main", expiredBackups: ["a"], keptBackups: ["b"], removedPacks: 1, removedWAL: 1, bytesFreed: 1,
                                            dryRun: false, keptLeftovers: 2, abandonedWrites: 1, verifiedBackup: "b", unrestorableFulls: ["c"])
        let expected: Set<String> = ["shard", "expiredBackups", "keptBackups", "removedPacks", "removedWAL", "bytesFreed", "dryRun", "keptLeftovers", "abandonedWrites", "verifiedBackup", "unrestorableFulls"]
        #expect(try Self.keyPaths(result) == expected)
    }

    @Test("init, check, policy check and locate")
    func setup() throws {
        let initResult = InitOperation.Result(repositoryCreated: true, location: "/r", encrypted: true, shards: [
            InitOperation.ShardResult(shard: "main", systemIdentifier: "7", majorVersion: 15, created: true),
        ])
        #expect(try Self.keyPaths(initResult) == ["repositoryCreated", "location", "encrypted", "shards", "shards[].shard",
                                                  "shards[].systemIdentifier", "shards[].majorVersion", "shards[].created"])
        let check = CheckOperation.Result(shard: "main", node: "a", archiveMode: "on", segment: "000000010000000000000003", seconds: 0.2)
        #expect(try Self.keyPaths(check) == ["shard", "node", "archiveMode", "segment", "seconds"])

        let policy = try PolicyLoader.parse("""
            version: 1
            repository: {path: /r}
            encryption: none
            shards:
              - name: a
                keys: {from: 0, to: 9}
                nodes: [{name: n1, conninfo: "host=h"}]
              - name: b
                keys: {from: 10, to: 19}
                nodes: [{name: n2, conninfo: "host=h"}]
            """, path: "/p.yaml")
        let valid = PolicyCheckReport(path: "/p.yaml", policy: policy)
        #expect(try Self.keyPaths(valid) == ["path", "valid", "shards", "nodes", "shardMap", "shardMap.from", "shardMap.to", "issues", "schedules"])
        #expect(valid.valid && valid.shards == 2 && valid.nodes == 2 && valid.shardMap?.to == 19)
        let invalid = PolicyCheckReport(path: "/p.yaml", error: PolicyError(path: "/p.yaml", issues: [PolicyIssue(line: 3, column: 1, message: "unknown key")]))
        #expect(try Self.keyPaths(invalid) == ["path", "valid", "shards", "nodes", "issues", "issues[].line", "issues[].column", "issues[].message", "schedules"])

        let located = LocateReport(key: 12, shard: try policy.locate(key: 12))
        #expect(try Self.keyPaths(located) == ["key", "shard", "from", "to", "nodes"])
        #expect(located.shard == "b" && located.nodes == ["n2"])
    }

    @Test("the scheduler's log lines")
    func schedulerLogLine() throws {
        var line = SchedulerLog.Line(time: Date(), event: "finished", run: SchedulerCore.Run(job: ScheduledJob(shard: "main", kind: .full), slot: Date()), message: "m")
        line.start = "s"
        line.end = "e"
        line.seconds = 1
        line.bytes = 2
        line.outcome = "succeeded"
        line.error = "x"
        line.detail = "d"
        #expect(try Self.keyPaths(line) == ["time", "event", "shard", "job", "slot", "attempt", "reason", "start", "end", "seconds", "bytes",
                                            "outcome", "error", "detail", "message"])
    }

    @Test("--all-shards: every shard's outcome, which succeeded and which failed; restore points")
    func fleet() throws {
        let report = FleetReport(command: "expire", shards: [
            .init(shard: "a", ok: true, exit: nil, error: nil, result: ExpireOperation.Result(shard: "a", expiredBackups: [], keptBackups: [], removedPacks: 0, removedWAL: 0, bytesFreed: 0, dryRun: false, keptLeftovers: 0, abandonedWrites: 0, verifiedBackup: nil, unrestorableFulls: [])),
            .init(shard: "b", ok: false, exit: 7, error: "unreachable", result: nil),
        ])
        let paths = try Self.keyPaths(report)
        #expect(paths.isSuperset(of: ["command", "shards", "succeeded", "failed", "shards[].shard", "shards[].ok", "shards[].exit", "shards[].error", "shards[].result", "shards[].result.removedWAL"]))
        #expect(report.succeeded == ["a"] && report.failed == ["b"])
        let point = FleetRestorePoint(name: "n", started: "s", finished: "f", paused: true, spreadSeconds: 0.1, shards: [
            .init(shard: "a", node: "p", lsn: "0/1", timeline: 1, time: "t", segment: "000000010000000000000001"),
        ])
        #expect(try Self.keyPaths(point) == ["format", "name", "started", "finished", "paused", "spreadSeconds", "shards", "shards[].shard", "shards[].node",
                                             "shards[].lsn", "shards[].timeline", "shards[].time", "shards[].segment"])
    }
}
