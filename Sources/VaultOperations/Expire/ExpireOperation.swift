import Foundation
import VaultStorage
import VaultPostgres
import VaultPolicy
import VaultFormat

/// `vault expire`: applies the retention policy, then collects what no kept backup needs:
/// packs no kept manifest references (leftovers of interrupted backups once older than
/// `retention.orphan_grace`) and WAL older than the oldest kept backup's start.
public struct ExpireOperation {
    public let policy: Policy
    public let shard: ShardPolicy

    /// The least age at which expire takes a write to be abandoned, in seconds.
    static let abandonedWriteFloor: TimeInterval = 3600

    public init(policy: Policy, shard: ShardPolicy) {
        self.policy = policy
        self.shard = shard
    }

    /// Also the stable JSON of `vault expire --json`.
    public struct Result: Sendable, Encodable {
        public var shard: String
        public var expiredBackups: [String]
        public var keptBackups: [String]
        public var removedPacks: Int
        public var removedWAL: Int
        public var bytesFreed: Int64
        public var dryRun: Bool
        /// Packs and manifest chunks no backup names, kept because they are younger than
        /// `retention.orphan_grace`.
        public var keptLeftovers: Int
        /// Temporary files or unfinished multipart uploads of killed writers older than
        /// `retention.orphan_grace`, removed (or, in a dry run, found).
        public var abandonedWrites: Int
        /// The newest backup that passed a restore verification, kept regardless of retention.
        public var verifiedBackup: String?
        /// Full backups that do not count toward `retention.full_backups` because they cannot
        /// be restored (WAL missing from the archive, or bad pages found).
        public var unrestorableFulls: [String]
    }

    public func run(dryRun: Bool, now: Date = Date()) async throws -> Result {
        let repository = try await RepositoryOpener.open(policy)
        let record = try await repository.shardRecord(shard.name)
        return try await repository.storage.withLock(BackupOperation.lockName(shard.name), owner: "vault expire pid \(getpid())") { lock in
            try await expire(repository: repository, record: record, dryRun: dryRun, now: now, lock: lock)
        }
    }

    private func expire(repository: Repository, record: ShardRecord, dryRun: Bool, now: Date, lock: any StorageLock) async throws -> Result {
        let storage = repository.storage

        let backups = try await repository.heads(shard: shard.name)
        // The newest backup proved restorable is kept whatever the retention says.
        let verifications = try await repository.verifications(shard: shard.name)
        let verified = verifications.lastRestoredAndPassed?.backup
        // One listing of the WAL answers both which backups can restore and what WAL can go.
        let walObjects = try await storage.listSizes(prefix: "\(shard.name)/wal")
        let inventory = try await WALInventory.load(WALArchive(repository: repository, record: record), names: walObjects.map(\.name))
        let expired = RetentionPlan.expired(backups, retention: shard.settings.retention, now: now, protected: Set([verified].compactMap { $0 }),
                                            restorable: inventory.canRestore)
        let expiredIDs = Set(expired.map(\.id))
        let kept = backups.filter { !expiredIDs.contains($0.id) }
        var freed: Int64 = 0

        // Manifest heads go first, in their own batch: a crash part-way must never leave a kept
        // manifest pointing at removed chunks or packs.
        var manifests: [String] = []
        let listed = try await storage.listSizes(prefix: "\(shard.name)/backups") + storage.listSizes(prefix: "\(shard.name)/verify")
        let sizes = Dictionary(listed.map { ($0.name, $0.size) }, uniquingKeysWith: { a, _ in a })
        for b in expired {
            manifests.append(BackupManifest.objectName(shard: shard.name, id: b.id))
            manifests += verifications.filter { $0.backup == b.id }.map { VerificationRecord.objectName(shard: $0.shard, backup: $0.backup, finished: $0.finished) }
        }
        // What only expired backups read goes now. Anything else no kept head names is a
        // leftover (chunks and packs of a backup killed before its head was written, a chunk
        // past a head's count) and goes once older than retention.orphan_grace by the store's
        // clock; one the store gave no time for stays.
        let grace = TimeInterval(shard.settings.retention.orphanGrace)
        func leftoverIsOld(_ object: ListedObject) -> Bool {
            object.modified.map { now.timeIntervalSince($0) >= grace } ?? false
        }
        let keptChunks = Dictionary(kept.map { ($0.id, $0.chunks?.count ?? 0) }, uniquingKeysWith: { a, _ in a })
        var keptLeftovers = 0
        let chunks = try await storage.listSizes(prefix: ManifestStore.chunkPrefix(shard.name)).filter { object in
            guard let (id, index) = ManifestStore.chunk(named: object.name), index >= keptChunks[id] ?? 0 else { return false }
            if expiredIDs.contains(id) || leftoverIsOld(object) { return true }
            keptLeftovers += 1
            return false
        }
        freed += manifests.reduce(0) { $0 + (sizes[$1] ?? 0) } + chunks.reduce(0) { $0 + $1.size }

        // Each backup's pack list is read in turn, so only one is decoded at a time.
        var referenced = Set<String>()
        for b in kept { referenced.formUnion(try await repository.packNames(of: b)) }
        var expiredPacks = Set<String>()
        for b in expired { expiredPacks.formUnion(try await repository.packNames(of: b)) }
        let packs = try await storage.listSizes(prefix: "\(shard.name)/packs").filter { object in
            guard !referenced.contains(object.name) else { return false }
            if expiredPacks.contains(object.name) || leftoverIsOld(object) { return true }
            keptLeftovers += 1
            return false
        }
        freed += packs.reduce(0) { $0 + $1.size }

        var wal: [String] = []
        if let oldest = kept.min(by: { $0.id < $1.id }),
           let floor = WALFileName(oldest.walStart)?.segmentNumber(segmentSize: record.walSegmentSize) {
            for object in walObjects {
                guard let file = WALFileName(String(object.name.split(separator: "/").last ?? "")), file.kind != .history,
                      file.timeline <= oldest.timeline,
                      let n = file.segmentNumber(segmentSize: record.walSegmentSize), n < floor else { continue }
                freed += object.size
                wal.append(object.name)
            }
        }
        if !dryRun {
            // Unreferenced packs are a killed backup's leftovers only while no backup runs: the
            // lock must still be ours now, after the listing (confirming renews an S3 lease
            // for lease_seconds, longer than these deletions take).
            try await lock.confirm()
            try await storage.delete(manifests)
            try await storage.delete(chunks.map(\.name) + packs.map(\.name))
            try await storage.delete(wal)
        }
        // Half-written objects of killed writers (never listed): a directory's temporary
        // files, an object store's unfinished multipart uploads. At least an hour old, even
        // with a shorter grace: archive-push, verify and status write without the shard's
        // lock, and one of theirs may be under way.
        let abandoned = try await storage.collectAbandonedWrites(under: shard.name, olderThan: max(grace, Self.abandonedWriteFloor), dryRun: dryRun)
        let removedPacks = packs.count, removedWAL = wal.count
        return Result(shard: shard.name, expiredBackups: expired.map(\.id), keptBackups: kept.map(\.id), removedPacks: removedPacks,
                      removedWAL: removedWAL, bytesFreed: freed, dryRun: dryRun, keptLeftovers: keptLeftovers, abandonedWrites: abandoned, verifiedBackup: verified,
                      unrestorableFulls: backups.filter { $0.kind == .full && !inventory.canRestore($0) }.map(\.id))
    }
}
