import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VaultPolicy
import VaultFormat
import VaultPostgres
import VaultSystem

/// `vault restore`: checks that the archive reaches the target, lays out the directory
/// (fresh, or reshaped for `--delta`), writes the backup's bytes straight from the packs,
/// and prepares recovery through `vault archive-get` (or a streaming standby).
public struct RestoreOperation {
    public struct Options: Sendable {
        public var targetDir: String
        public var backupID: String?
        public var target: RecoveryTarget
        /// What PostgreSQL does on reaching the target: promote, pause or shutdown.
        public var targetAction: String
        /// `latest`, `current` or a timeline number.
        public var targetTimeline: String?
        /// Port the restored server listens on (written to postgresql.auto.conf).
        public var port: Int?
        /// Start PostgreSQL and wait until the target is reached.
        public var start: Bool = false
        /// Update an existing directory, writing only what differs from the backup.
        public var delta: Bool = false
        /// Make a streaming replica of the shard's primary instead of recovering to a target.
        public var standby: Bool = false
        /// Tablespace OID → directory, for tablespaces restored somewhere else.
        public var tablespaceMap: [String: String] = [:]

        public init(targetDir: String, backupID: String? = nil, target: RecoveryTarget = .endOfWAL, targetAction: String = "promote", targetTimeline: String? = nil) {
            self.targetDir = targetDir
            self.backupID = backupID
            self.target = target
            self.targetAction = targetAction
            self.targetTimeline = targetTimeline
        }
    }

    public struct Result: Sendable, Codable {
        public var backup: String
        public var files: Int
        public var bytesWritten: Int64
        /// Bytes a delta restore found already correct.
        public var bytesUnchanged: Int64
        public var extentsRead: Int
        /// Entries a delta restore removed because the backup does not have them.
        public var removed: Int
        /// Recovery and standby settings (`file: name`) and signal files the backup carried from
        /// an earlier recovery, removed before vault wrote its own.
        public var removedSettings: [String]
        /// Where recovery stopped, with `start`.
        public var reached: RecoveryStarter.Reached?
    }

    public let policy: Policy
    public let shard: ShardPolicy

    public init(policy: Policy, shard: ShardPolicy) {
        self.policy = policy
        self.shard = shard
    }

    public func run(_ options: Options) async throws -> Result {
        let repository = try await RepositoryOpener.open(policy)
        let backups = try await repository.heads(shard: shard.name)
        let head = try RecoveryTarget.chooseBackup(backups, id: options.backupID, for: options.target, shard: shard.name)
        let archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name))
        _ = try await RecoveryReach(inventory: try await WALInventory.load(archive), archive: archive)
            .check(head, target: options.target, timeline: options.targetTimeline)
        return try await restore(head, from: repository, options)
    }

    /// Writes `head`'s backup and the recovery settings, once the backup is chosen and the
    /// archive checked (by `run`, or by verify, which has done both already). The body is read
    /// one chunk at a time, twice: every chunk is validated before anything is written, then
    /// each is laid out and written in turn. A body of one chunk (a cluster of up to some
    /// 16 GiB) is read once and kept between the two passes.
    func restore(_ head: BackupHead, from repository: Repository, _ options: Options) async throws -> Result {
        let settings = RecoverySettings(
            vaultPath: Self.executablePath(), policyPath: policy.sourcePath, shard: shard.name, target: options.target,
            targetAction: options.targetAction, targetTimeline: options.targetTimeline, port: options.port,
            primaryConninfo: options.standby ? try NodeDiscovery.connectPrimary(shard).0.conninfo : nil)
        // With --start, the server binaries, and libpq to watch the server, must exist before
        // anything is written.
        let bindir = options.start ? try RecoveryStarter.bindir(shard: shard, majorVersion: head.versionNumber / 10000) : nil
        if options.start { try LibPQ.load() }

        let directory = try RestoreTargetDirectory(root: options.targetDir, head: head, relocations: options.tablespaceMap)
        var files = 0
        var wanted = Set<String>()
        // A body of one chunk is kept from the first pass for the second; of several, none is
        // (only one chunk is held at a time).
        let bodyChunks = head.format == ManifestStore.currentFormat ? (head.chunks?.count ?? 1) : 1
        var onlyChunk: BackupManifest?
        try await readingBody(head, repository) { part in
            try part.validate()
            files += part.files.count
            if options.delta { wanted.formUnion(part.files.map(\.path)) }
            if bodyChunks == 1 { onlyChunk = part }
        }
        var removed = 0
        if options.delta {
            removed = try directory.reshapeForDelta(wantedFiles: wanted)
        } else {
            try directory.createFresh()
        }
        let fileSystems = try directory.fileSystems()
        wanted = []
        var totals = ExtentRestorer.Totals()
        let write = { (part: BackupManifest) in
            // A fresh restore's files are created while the first extents are written; a delta
            // restore sizes the existing files first, as writers must not race a truncation.
            var restorer = ExtentRestorer(repository: repository, manifest: part, directory: directory,
                                          parallel: shard.settings.parallel, delta: options.delta)
            if options.delta {
                try directory.layOut(part.files, delta: true)
            } else {
                restorer.layout = ConcurrentLayout(directory, files: part.files)
            }
            let written: ExtentRestorer.Totals
            do {
                written = try await restorer.run()
            } catch {
                try restorer.layout?.finish() // a failed layout is the cause of what the writers saw
                throw error
            }
            try restorer.layout?.finish()
            totals = totals + written
            try directory.setModes(part.files)
        }
        if let onlyChunk {
            try await write(onlyChunk)
        } else {
            try await readingBody(head, repository, write)
        }
        try directory.finish()
        let inherited = try InheritedRecoverySettings.remove(from: directory.root)
        try settings.write(into: directory.root)
        try directory.activate(fileSystems)
        var reached: RecoveryStarter.Reached?
        if let bindir {
            reached = try await RecoveryStarter(dataDir: directory.root, bindir: bindir, action: options.standby ? "standby" : options.targetAction, timeout: 3600).run()
            if !options.standby { PrefetchWorker(spool: SpoolDirectory(try directory.path("pg_wal/vault_prefetch"))).clearSpool() }
        }
        return Result(backup: head.id, files: files, bytesWritten: totals.bytesWritten, bytesUnchanged: totals.bytesUnchanged,
                      extentsRead: totals.extentsFetched, removed: removed, removedSettings: inherited, reached: reached)
    }

    /// Each chunk of `head`'s body in turn. A chunk gone together with its head is expire's
    /// doing (restore does not hold the shard's lock), reported as such rather than as damage.
    private func readingBody(_ head: BackupHead, _ repository: Repository, _ body: (BackupManifest) async throws -> Void) async throws {
        do {
            try await repository.forEachChunk(of: head, body)
        } catch let e as FormatError where e.kind == .corrupt {
            if try await !repository.storage.exists(BackupManifest.objectName(shard: shard.name, id: head.id)) {
                throw OperationError(.notFound, "backup \(head.id) of shard \(shard.name) was removed by vault expire while restore read it")
            }
            throw e
        }
    }

    /// The absolute path of the running vault binary, for restore_command.
    static func executablePath() -> String {
        (try? FileIO.readLink("/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
