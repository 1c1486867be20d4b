import ArgumentParser
import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat
import VaultOperations

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup and prepare recovery (to a target, to the end of archived WAL, or as a streaming standby).",
        discussion: """
            Without --backup, picks the newest backup that ended before the target. A target before the oldest \
            backup, or beyond the archived WAL, is refused before anything is written. The target directory \
            must be empty unless --delta is given.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Directory to restore into (must be empty or missing).")
    var targetDir: String?

    @Flag(name: .long, help: "Restore every shard to the fleet restore point --target-name, each into --target-root/<shard>.")
    var allShards = false

    @Option(name: .long, help: "With --all-shards: the directory that gets one directory per shard.")
    var targetRoot: String?

    @Option(name: .long, help: "With --all-shards and --start: shard i (policy order) listens on this port + i.")
    var portBase: Int?

    @Option(name: .long, help: "Backup id (default: the newest one that reaches the target).")
    var backup: String?

    @Option(name: .long, help: "Recover to this time (e.g. '2026-11-26 03:15:00+00'; UTC when no zone).")
    var pointInTime: String?

    @Option(name: .long, help: "Recover to this LSN (e.g. 0/3000060).")
    var targetLsn: String?

    @Option(name: .long, help: "Recover to this named restore point.")
    var targetName: String?

    @Flag(name: .long, help: "Recover only to the backup's consistent end point.")
    var immediate = false

    @Option(name: .long, help: "promote, pause or shutdown when the target is reached.")
    var targetAction: String = "promote"

    @Option(name: .long, help: "latest, current or a timeline number.")
    var targetTimeline: String?

    @Flag(name: .long, help: "Start PostgreSQL on the restored directory and wait until the target is reached.")
    var start = false

    @Option(name: .long, help: "Port for the restored server (written to postgresql.auto.conf).")
    var port: Int?

    @Flag(name: .long, help: "Print the result as JSON (fields documented in the README).")
    var json = false

    @Flag(name: .long, help: "Update an existing copy: remove what the backup lacks, rewrite only pages that differ.")
    var delta = false

    @Flag(name: .long, help: "Make a streaming standby of the shard's primary (standby.signal and primary_conninfo).")
    var standby = false

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Restore tablespace OID into DIR instead of its original location (repeatable).", valueName: "OID=DIR"))
    var tablespaceMap: [String] = []

    func validate() throws {
        guard ["promote", "pause", "shutdown"].contains(targetAction) else { throw ValidationError("--target-action must be promote, pause or shutdown") }
        if allShards {
            try GlobalOptions.checkAllShards(allShards, shard: global.shard)
            guard let name = targetName, targetRoot != nil else { throw ValidationError("--all-shards restores to a fleet restore point: give --target-name NAME and --target-root DIR") }
            guard FleetRestorePoint.isValidName(name) else { throw ValidationError("'\(name)' is not a fleet restore point name (vault restore-point list)") }
            if let base = portBase {
                guard start else { throw ValidationError("--port-base sets the ports of the servers --start starts") }
                guard (1...65000).contains(base) else { throw ValidationError("--port-base must be between 1 and 65000") }
            }
            guard targetDir == nil, backup == nil, pointInTime == nil, targetLsn == nil, !immediate, targetTimeline == nil, port == nil, !delta, !standby, tablespaceMap.isEmpty else {
                throw ValidationError("--all-shards takes --target-name, --target-root, --start, --port-base, --target-action and --json only")
            }
            return
        }
        guard targetDir != nil else { throw ValidationError("give --target-dir (or --all-shards with --target-root)") }
        if targetRoot != nil || portBase != nil { throw ValidationError("--target-root and --port-base go with --all-shards") }
        let given = [pointInTime != nil, targetLsn != nil, targetName != nil, immediate].filter { $0 }.count
        guard given <= 1 else { throw ValidationError("give at most one of --point-in-time, --target-lsn, --target-name, --immediate") }
        if let t = pointInTime, RecoveryTarget.parseTime(t) == nil { throw ValidationError("--point-in-time '\(t)' is not a time like '2026-11-26 03:15:00+00'") }
        if let l = targetLsn, LSN(l) == nil { throw ValidationError("--target-lsn '\(l)' is not an LSN like 0/3000060") }
        if standby && (given > 0 || targetTimeline != nil) {
            throw ValidationError("--standby follows the primary; it takes no recovery target or timeline")
        }
        _ = try tablespaceDirectories()
        if let tl = targetTimeline, !(tl == "latest" || tl == "current" || UInt32(tl) != nil) {
            throw ValidationError("--target-timeline must be latest, current or a number")
        }
    }

    /// `--tablespace-map` as tablespace OID → directory.
    func tablespaceDirectories() throws -> [String: String] {
        var map: [String: String] = [:]
        for m in tablespaceMap {
            let parts = m.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, UInt32(parts[0]) != nil, !parts[1].isEmpty else {
                throw ValidationError("--tablespace-map '\(m)' is not OID=DIR")
            }
            map[parts[0]] = parts[1]
        }
        return map
    }

    var target: RecoveryTarget {
        if let t = pointInTime, let time = RecoveryTarget.time(t) { return time }
        if let l = targetLsn, let lsn = LSN(l) { return .lsn(lsn) }
        if let n = targetName { return .name(n) }
        return immediate ? .immediate : .endOfWAL
    }

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("restore")
            let policy = try global.loadPolicy()
            if allShards, let name = targetName, let root = targetRoot {
                let fleet = FleetRestoreOperation(policy: policy)
                let options = FleetRestoreOperation.Options(name: name, targetRoot: root, start: start, portBase: portBase, targetAction: targetAction)
                // Every shard checked before any is written.
                let plans = try await fleet.plan(options)
                try await FleetOutput.run("restore", policy: policy, json: json, text: { [Self.line($0)] }) { shard, _ in
                    try await fleet.restore(shard, plans: plans, options)
                }
                return
            }
            let shard = try policy.resolveShard(global.shard)
            let targetDir = self.targetDir ?? ""
            var options = RestoreOperation.Options(targetDir: targetDir, backupID: backup, target: target, targetAction: targetAction, targetTimeline: targetTimeline)
            options.port = port
            options.start = start
            options.delta = delta
            options.standby = standby
            options.tablespaceMap = try tablespaceDirectories()
            let r = try await RestoreOperation(policy: policy, shard: shard).run(options)
            if json {
                try printJSON(r)
                return
            }
            let what = standby ? "standby of the shard's primary" : "recovery target: \(target)"
            let deltaNote = delta ? " (delta: \(ByteCount.text(r.bytesUnchanged)) already matched, \(r.removed) extra entries removed)" : ""
            print("restored backup \(r.backup) of shard \(shard.name) into \(targetDir): \(r.files) files, \(ByteCount.text(r.bytesWritten)) written from \(r.extentsRead) extents\(deltaNote); \(what)\(start ? "" : "; start PostgreSQL on it to recover")")
            if !r.removedSettings.isEmpty {
                print("removed recovery settings inherited from the backup's source: \(r.removedSettings.joined(separator: ", "))")
            }
            if let reached = r.reached {
                print("\(standby ? "server" : "recovery") \(reached.state) in \(String(format: "%.1f", reached.seconds)) s: replayed to \(reached.lsn) on timeline \(reached.timeline)\(reached.lastCommit.map { ", last commit at \($0)" } ?? "")")
            }
        }
    }

    static func line(_ s: FleetRestoreOperation.ShardResult) -> String {
        let reached = s.restore.reached.map { "; recovery \($0.state) at \($0.lsn) on timeline \($0.timeline)" } ?? "; start PostgreSQL on it to recover"
        return "shard \(s.shard): backup \(s.restore.backup) restored into \(s.targetDir)\(s.port.map { " (port \($0))" } ?? "")\(reached)"
    }
}
