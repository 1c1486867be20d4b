import Foundation
import VaultSupport
import VaultSystem
import VaultPolicy
import VaultFormat
import VaultPostgres

/// `vault verify`: proves a backup restores. Checks every object it needs (step one), then
/// restores it into a scratch PostgreSQL, recovers to consistency or the target, runs
/// pg_amcheck, the smoke queries and pg_checksums (step two), removes the scratch instance
/// whatever happened, and records the result in the repository.
public struct VerifyOperation {
    public struct Options: Sendable {
        public var backupID: String?
        public var all = false
        public var target: RecoveryTarget = .immediate
        public var repositoryOnly = false

        public init() {}
    }

    public let policy: Policy
    public let shard: ShardPolicy

    public init(policy: Policy, shard: ShardPolicy) {
        self.policy = policy
        self.shard = shard
    }

    public func run(_ options: Options) async throws -> [VerificationRecord] {
        let repository = try await RepositoryOpener.open(policy)
        let backups = try await repository.heads(shard: shard.name)
        let chosen: [BackupHead]
        if options.all {
            guard !backups.isEmpty else { throw OperationError(.notFound, "shard \(shard.name) has no backups") }
            chosen = backups
        } else {
            chosen = [try RecoveryTarget.chooseBackup(backups, id: options.backupID, for: options.target, shard: shard.name)]
        }
        let archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name))
        // The shard's earlier verification records are authenticated too: one damaged or
        // copied over another's name is named here, not first by a status at 3 a.m.
        do {
            _ = try await repository.verifications(shard: shard.name)
        } catch let e as FormatError where e.kind == .corrupt {
            throw OperationError(.corrupt, "\(e.message); move the damaged verification record aside (it is only a report) and verify again")
        }
        let inventory = try await WALInventory.load(archive)
        var records: [VerificationRecord] = []
        for manifest in chosen {
            let outcome: Result<VerificationRecord, any Error>
            do {
                outcome = .success(try await verify(manifest, options: options, repository: repository, archive: archive, inventory: inventory))
            } catch {
                outcome = .failure(error)
            }
            // verify does not hold the shard's lock (a long verify must not hold up backups),
            // so an expire may remove the backup meanwhile: its missing objects (found in the
            // repository check, or as a restore or recovery failure) are then no damage, and a
            // record of it would outlive it.
            let failed = (try? outcome.get().passed) != true
            if failed, try await !repository.storage.exists(BackupManifest.objectName(shard: shard.name, id: manifest.id)) {
                if chosen.count == 1 {
                    throw OperationError(.notFound, "backup \(manifest.id) of shard \(shard.name) was removed by vault expire while verify ran; nothing was recorded")
                }
                continue
            }
            let record = try outcome.get()
            try await repository.record(record)
            records.append(record)
        }
        return records
    }

    private func verify(_ head: BackupHead, options: Options, repository: Repository, archive: WALArchive, inventory: WALInventory) async throws -> VerificationRecord {
        let started = Date()
        let target = options.target
        let report = try await RepositoryVerifier(repository: repository, archive: archive, inventory: inventory, parallel: shard.settings.parallel)
            .verify(head, target: target, timeline: nil)
        var checked: [String] = []
        var problems = report.problems
        if problems.isEmpty {
            checked.append("repository: \(Self.count(report.packs, "pack")) (\(Self.count(report.extents, "extent"))) and \(Self.count(report.walFiles, "WAL file")) present, authenticated and checksummed, \(ByteCount.text(report.bytesRead)) read")
        }
        var timings = VerificationRecord.Timings(repositorySeconds: Date().timeIntervalSince(started), totalSeconds: 0)
        var reached: RecoveryStarter.Reached?
        if !options.repositoryOnly && problems.isEmpty {
            let scratch = try await restoreAndCheck(head, from: repository, target: target, timings: &timings)
            checked += scratch.checked
            problems += scratch.problems
            reached = scratch.reached
        }
        timings.totalSeconds = Date().timeIntervalSince(started)
        return VerificationRecord(format: 1, shard: shard.name, backup: head.id, finished: Timestamp.precise(Date()), passed: problems.isEmpty,
                                  repositoryOnly: options.repositoryOnly, target: target.description, checked: checked, problems: problems,
                                  timings: timings, reachedLSN: reached?.lsn, reachedTimeline: reached?.timeline)
    }

    private struct ScratchResult {
        var checked: [String] = []
        var problems: [RepositoryProblem] = []
        var reached: RecoveryStarter.Reached?
    }

    /// Step two, in a scratch instance that is removed before this returns or throws.
    private func restoreAndCheck(_ manifest: BackupHead, from repository: Repository, target: RecoveryTarget,
                                 timings: inout VerificationRecord.Timings) async throws -> ScratchResult {
        let major = manifest.versionNumber / 10000
        let bindir = try RecoveryStarter.bindir(shard: shard, majorVersion: major)
        try LibPQ.load() // the scratch instance is checked over libpq: fail before restoring into it
        let instance = try ScratchInstance(base: policy.verify.scratch, shard: shard.name, bindir: bindir)
        defer { instance.remove() }
        var result = ScratchResult()

        var restore = RestoreOperation.Options(targetDir: instance.dataDir, backupID: manifest.id, target: target, targetAction: "promote")
        for ts in manifest.tablespaces { restore.tablespaceMap[ts.oid] = instance.tablespaceDirectory(ts.oid) }
        let restoreStarted = Date()
        // Step one already chose the backup and checked its WAL: restore it directly.
        let restored = try await RestoreOperation(policy: policy, shard: shard).restore(manifest, from: repository, restore)
        timings.restoreSeconds = Date().timeIntervalSince(restoreStarted)
        result.checked.append("restore: \(restored.files) files, \(ByteCount.text(restored.bytesWritten)) written in \(Self.seconds(timings.restoreSeconds)) into a scratch PostgreSQL \(major) on 127.0.0.1:\(instance.port)")
        try instance.prepare()

        do {
            let reached = try await RecoveryStarter(dataDir: instance.dataDir, bindir: bindir, action: "promote", timeout: 3600).run()
            timings.recoverySeconds = reached.seconds
            result.reached = reached
            result.checked.append("recovery: reached \(target == .immediate ? "consistency" : target.description) in \(Self.seconds(reached.seconds)) at \(reached.lsn) on timeline \(reached.timeline)")
        } catch let e {
            result.problems.append(RepositoryProblem("recovery of backup \(manifest.id)", "\(e)\(Self.logTail(instance.dataDir + "/vault-recovery.log"))", kind: .checkFailed))
            return result
        }

        let checksStarted = Date()
        let checks = ScratchChecks(instance: instance, shard: shard)
        var outcome = ScratchChecks.Outcome()
        try checks.runOnline(into: &outcome)
        guard instance.stopServer() else { throw OperationError(.database, "the scratch instance in \(instance.directory) did not stop") }
        try checks.runOffline(into: &outcome)
        timings.checksSeconds = Date().timeIntervalSince(checksStarted)
        result.checked += outcome.checked
        result.problems += outcome.problems
        return result
    }

    static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    static func seconds(_ s: Double?) -> String { String(format: "%.1f s", s ?? 0) }

    /// The server log's last error lines, for a recovery that failed.
    private static func logTail(_ path: String) -> String {
        guard let bytes = try? FileIO.read(path) else { return "" }
        let errors = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            .filter { $0.contains("FATAL") || $0.contains("PANIC") || $0.contains("error:") }.suffix(2)
        return errors.isEmpty ? "" : "; server log: " + errors.joined(separator: " | ")
    }
}
