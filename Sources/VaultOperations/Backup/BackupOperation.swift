import Foundation
import VaultSupport
import VaultCompression
import VaultStorage
import VaultPostgres
import VaultPolicy
import VaultFormat

/// `vault backup`: a non-exclusive base backup over libpq, copied by parallel workers into
/// packs, made visible by writing its manifest last.
public struct BackupOperation {
    public enum Requested: String, Sendable, CaseIterable {
        case full
        case incremental
        case auto
    }

    public let policy: Policy
    public let shard: ShardPolicy
    public let progress: @Sendable (String) -> Void
    /// Bytes of the data directory handled so far, for a progress display.
    public let counter: ProgressCounter?

    public init(policy: Policy, shard: ShardPolicy, counter: ProgressCounter? = nil, progress: @escaping @Sendable (String) -> Void = { _ in }) {
        self.policy = policy
        self.shard = shard
        self.counter = counter
        self.progress = progress
    }

    public func run(_ requested: Requested) async throws -> BackupHead {
        let repository = try await RepositoryOpener.open(policy)
        let record = try await repository.shardRecord(shard.name)
        return try await repository.storage.withLock(Self.lockName(shard.name), owner: "vault backup pid \(getpid()) on \(ProcessInfo.processInfo.hostName)") { lock in
            try await backup(requested, repository: repository, record: record, lock: lock)
        }
    }

    /// The backup an incremental builds on, or nil for a full one. `auto` takes a full backup
    /// when the shard has none, or when the policy's `schedule.full` has come due since the
    /// newest full backup started, or when the newest backup is on a history the server's
    /// `timeline` does not share (`IncrementalParentRule`); otherwise an incremental on the
    /// newest backup. `incremental` refuses where `auto` would take a full backup for the
    /// timeline. Only the newest backup's head is read, then, for an incremental, its body.
    private func parentBackup(_ requested: Requested, ids: [String], repository: Repository, record: ShardRecord,
                              timeline: UInt32, replayed: LSN?, now: Date) async throws -> ParentBody? {
        switch requested {
        case .full:
            return nil
        case .incremental:
            guard let newest = ids.last, let head = try await repository.head(shard: shard.name, id: newest) else {
                throw OperationError(.refused, "shard \(shard.name) has no backup yet: the first backup must be full")
            }
            if let problem = try await parentProblem(head, timeline: timeline, replayed: replayed, repository: repository, record: record) {
                throw OperationError(.refused, "cannot take an incremental backup on \(head.id): \(problem); take a full backup (--type full, or --type auto does so by itself)")
            }
            return try await readParent(head, repository: repository)
        case .auto:
            if let reason = Self.fullBackupDue(ids: ids, schedule: shard.settings.schedule.full, zone: shard.settings.schedule.timeZone, now: now) {
                progress("auto: \(reason), taking a full backup")
                return nil
            }
            guard let newest = ids.last, let head = try await repository.head(shard: shard.name, id: newest) else { return nil }
            if let problem = try await parentProblem(head, timeline: timeline, replayed: replayed, repository: repository, record: record) {
                progress("auto: \(problem); taking a full backup")
                return nil
            }
            do {
                return try await readParent(head, repository: repository)
            } catch let e as FormatError where e.kind == .corrupt {
                progress("auto: the manifest of \(head.id) cannot be read (\(e.message)); taking a full backup")
                return nil
            }
        }
    }

    /// The parent's body, every chunk read and validated first (its extents are reused as they
    /// are), then handed out in slices as the backup proceeds.
    private func readParent(_ head: BackupHead, repository: Repository) async throws -> ParentBody {
        try await repository.forEachChunk(of: head) { try $0.validate() }
        return try await ParentBody(head, repository: repository)
    }

    /// Why `parent` cannot be the parent of a backup on `timeline` read from a standby that
    /// has replayed up to `replayed` (nil on a primary): the standby must be past the parent's
    /// stop (pages taken from the parent may hold changes up to there; a backup ending earlier
    /// would be declared consistent with pages from its future), and the timelines must share
    /// the parent's history.
    private func parentProblem(_ parent: BackupHead, timeline: UInt32, replayed: LSN?, repository: Repository, record: ShardRecord) async throws -> String? {
        if let replayed, replayed < parent.stopLSN {
            return "the standby has replayed WAL only to \(replayed), before parent backup \(parent.id) stopped at \(parent.stopLSN)"
        }
        return try await timelineProblem(parent, timeline: timeline, repository: repository, record: record)
    }

    /// Why `parent` cannot be the parent of a backup on `timeline`, reading the timeline's
    /// history from the shard's WAL archive when the two differ.
    private func timelineProblem(_ parent: BackupHead, timeline: UInt32, repository: Repository, record: ShardRecord) async throws -> String? {
        var history: TimelineHistory?
        if parent.timeline != timeline, let name = WALFileName(String(format: "%08X.history", timeline)),
           let bytes = try await WALArchive(repository: repository, record: record).fetch(name) {
            guard let parsed = TimelineHistory(timeline: timeline, text: String(decoding: bytes, as: UTF8.self)) else {
                throw OperationError(.corrupt, "\(name) in the archive of shard \(shard.name) is not a valid timeline history")
            }
            history = parsed
        }
        return IncrementalParentRule.problem(parentID: parent.id, parentTimeline: parent.timeline, parentStop: parent.stopLSN, timeline: timeline, history: history)
    }

    /// The timeline a backup taken now runs on: the primary's WAL insert timeline, or on a
    /// standby the newer of its latest restartpoint's timeline (where its backup starts) and
    /// its minimum recovery point's (where it ends); a standby that follows a promotion replays
    /// the new timeline before it makes a restartpoint there.
    static func currentTimeline(_ conn: PostgresConnection, isStandby: Bool) throws -> UInt32 {
        let query = isStandby ? "SELECT greatest((SELECT timeline_id FROM pg_control_checkpoint()), (SELECT min_recovery_end_timeline FROM pg_control_recovery()))::text"
                              : "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"
        let text = try conn.scalar(query)
        guard let timeline = UInt32(text, radix: isStandby ? 10 : 16) else {
            throw OperationError(.database, "unexpected timeline '\(text)' from the backup source")
        }
        return timeline
    }

    /// How far a standby has replayed, or nil on a primary.
    static func replayed(_ conn: PostgresConnection, isStandby: Bool) throws -> LSN? {
        guard isStandby else { return nil }
        let text = try conn.scalar("SELECT coalesce(pg_last_wal_replay_lsn(), '0/0')::text")
        guard let lsn = LSN(text) else { throw OperationError(.database, "unexpected replay LSN '\(text)' from the backup source") }
        return lsn
    }

    /// Why `auto` must take a full backup now, or nil when an incremental will do: there is no
    /// full backup among `ids`, or `schedule` fired after the newest full backup started.
    static func fullBackupDue(ids: [String], schedule: CronExpression?, zone: TimeZone = CronExpression.utc, now: Date) -> String? {
        guard let lastFull = ids.last(where: { BackupID.kind($0) == .full }) else { return "no full backup yet" }
        guard let schedule, let started = BackupID.started(lastFull), let due = schedule.next(after: started, in: zone), due <= now else { return nil }
        return "schedule.full '\(schedule.text)' came due at \(Timestamp.format(due)), after full backup \(lastFull)"
    }

    /// The lock that keeps backups and expiry of one shard from running at once.
    static func lockName(_ shard: String) -> String { "\(shard)/locks/backup.lock" }

    private func backup(_ requested: Requested, repository: Repository, record: ShardRecord, lock: any StorageLock) async throws -> BackupHead {
        let (node, conn, primary) = try NodeDiscovery.connectBackupSource(shard)
        let identity = try ClusterIdentity.read(from: conn)
        try record.requireSameCluster(identity, node: "node \(node.name)")
        // The primary archives, also for a backup read from a standby.
        let archiving = primary ?? conn
        if let problem = try ArchivingSettings.read(archiving).problem(node: primary == nil ? node.name : "the primary of shard \(shard.name)") {
            throw OperationError(.refused, "\(problem): without archived WAL a backup cannot be restored")
        }
        // A standby's files are read from its own data directory, never the shard's (primary's).
        let pgdata = try node.pgdata ?? (primary == nil ? shard.pgdata : nil) ?? conn.scalar("SHOW data_directory")
        try await SourceDirectoryCheck.verify(pgdata, node: node.name, identity: identity, port: try conn.scalar("SHOW port"))

        let ids = try await repository.backupIDs(shard: shard.name)
        let idTime = try await BackupID.startTime(after: ids.last)
        // The manifest records the clock's own time: a clock stepped backwards must not leave
        // a start epoch in the future, which the next incremental's mtime rule trusts.
        let started = min(idTime, Date())
        let timelineNow = try Self.currentTimeline(conn, isStandby: primary != nil)
        let parent = try await parentBackup(requested, ids: ids, repository: repository, record: record, timeline: timelineNow,
                                            replayed: try Self.replayed(conn, isStandby: primary != nil), now: started)
        let kind: BackupManifest.Kind = parent == nil ? .full : .incremental
        let startTime = Timestamp.format(started)
        let id = BackupID.make(started: idTime, kind: kind)
        let startLSNText = try conn.scalar("SELECT pg_backup_start($1, true)::text", ["vault \(id)"])
        guard let startLSN = LSN(startLSNText) else { throw OperationError(.database, "node \(node.name): unexpected backup start LSN '\(startLSNText)'") }
        progress("backup \(id) started at \(startLSN) on node \(node.name) (\(kind.rawValue)\(parent.map { ", parent \($0.head.id)" } ?? ""))")

        // The body's chunks are written as the copy goes; they stay invisible until the head.
        let writer = ManifestStore.Writer(repository: repository, shard: shard.name, id: id)
        let copied: CopyResult
        do {
            let checksums = try conn.scalar("SHOW data_checksums") == "on"
            let changed = try await parent.asyncMap { try await changedBlocks(since: $0.head, until: startLSN, timeline: timelineNow, conn: conn, identity: identity) } ?? nil
            copied = try await copyFiles(repository: repository, pgdata: pgdata, parent: parent, changedBlocks: changed,
                                         checksums: checksums ? FileBackup.ChecksumCheck(backupStart: startLSN) : nil, into: writer)
        } catch {
            _ = try? conn.query("SELECT pg_backup_stop(false)")
            throw error
        }
        progress("copied \(copied.files) files; waiting for the backup's WAL to reach the repository")
        // wait_for_archive => false: PostgreSQL's own wait re-checks the archiver once a second,
        // which costs most backups a whole second; vault watches its repository instead, which
        // is what matters anyway. On a primary the call still switches to a new WAL segment.
        let stop = try conn.query("SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)")
        guard let row = stop.first, row.count == 3, let stopText = row[0], let stopLSN = LSN(stopText), let label = row[1] else {
            throw OperationError(.database, "node \(node.name): pg_backup_stop returned no result")
        }
        let timeline = Self.timeline(fromLabel: label) ?? 1
        if let parent = parent?.head {
            // Proved again on what the backup turned out to be: the timelines it started and
            // (on a standby) ended on, and an end no earlier than the parent's.
            var ends = [timeline]
            if primary != nil { ends.append(try Self.currentTimeline(conn, isStandby: true)) }
            for tl in Set(ends) where tl != timelineNow {
                if let problem = try await timelineProblem(parent, timeline: tl, repository: repository, record: record) {
                    throw OperationError(.refused, "backup \(id) ran on timeline \(tl), not \(timelineNow) as its parent was chosen for: \(problem); nothing was published, run the backup again")
                }
            }
            if stopLSN < parent.stopLSN {
                throw OperationError(.refused, "backup \(id) ends at \(stopLSN), before its parent \(parent.id) stopped at \(parent.stopLSN) (a standby behind the node the parent was taken from); nothing was published, take a full backup")
            }
        }
        let segmentSize = record.walSegmentSize
        let walStart = WALFileName.segment(containing: startLSN, timeline: timeline, segmentSize: segmentSize)
        let walStop = WALFileName.segment(containing: LSN(stopLSN.value - 1), timeline: timeline, segmentSize: segmentSize)
        var wal = BackupWALWait(repository: repository, record: record, timeline: timeline, from: walStart, to: walStop)
        var walComplete = try await wal.isComplete()
        if let primary, !walComplete {
            // From a standby the stop segment is complete only once the primary leaves it:
            // switch it out there; the primary archives it.
            try primary.query("SELECT pg_switch_wal()")
        }
        if !walComplete {
            walComplete = try await wal.wait(seconds: shard.settings.archiveTimeout, progress: progress)
            if !walComplete, let state = ArchivingSettings.archiverState(archiving) { progress(state) }
        }

        let described = BackupManifest(
            id: id, kind: kind, parent: parent?.head.id, shard: shard.name, systemIdentifier: record.systemIdentifier,
            versionNumber: identity.versionNumber, node: node.name, startTime: startTime, stopTime: Timestamp.precise(Date().addingTimeInterval(0.001)),
            startEpoch: Int64(started.timeIntervalSince1970), startLSN: startLSN, stopLSN: stopLSN, timeline: timeline,
            walStart: walStart, walStop: walStop, walComplete: walComplete, backupLabel: label,
            tablespaceMap: (row[2] ?? "").isEmpty ? nil : row[2], tablespaces: copied.tablespaces, directories: copied.directories,
            files: [], extents: [],
            stats: BackupManifest.Stats(databaseBytes: copied.databaseBytes, bytesRead: copied.bytesRead, bytesStoredNew: copied.storedNew,
                                        bytesReferenced: copied.referenced, files: copied.files, seconds: Date().timeIntervalSince(started)),
            checksumFailures: copied.checksumFailures.isEmpty ? nil : copied.checksumFailures)
        // The files were validated chunk by chunk as they were written; now the head's part.
        try described.validate()
        // Last: the manifest's head makes the backup visible, after every pack and chunk is
        // durable, and only while the shard's lock is still ours (no expire can have
        // collected these packs).
        return try await writer.finish(described.head, beforeHead: { try await lock.confirm() })
    }

    struct CopyResult {
        var files: Int
        var directories: [BackupManifest.Directory]
        var tablespaces: [BackupManifest.Tablespace]
        var databaseBytes: Int64
        var bytesRead: Int64
        var storedNew: Int64
        var referenced: Int64
        var checksumFailures: [BackupManifest.ChecksumFailure]
    }

    /// On PostgreSQL 17+ with `summarize_wal = on`: the blocks changed since the parent began,
    /// so changed relation files are read only where they changed. Otherwise nil (every changed
    /// file is read whole and its pages' LSNs compared), with the reason in the log.
    private func changedBlocks(since parent: BackupHead, until start: LSN, timeline: UInt32, conn: PostgresConnection, identity: ClusterIdentity) async throws -> ChangedBlocks? {
        guard identity.versionNumber >= 170000 else { return nil }
        do {
            // Summaries are read on one timeline; a parent on an ancestor (allowed by
            // IncrementalParentRule) is compared page by page instead.
            guard timeline == parent.timeline else {
                progress("incremental: the parent is on timeline \(parent.timeline), the server on \(timeline); reading changed files whole")
                return nil
            }
            switch try await WALSummaryReader(conn: conn).changes(timeline: timeline, from: parent.startLSN, to: start) {
            case .changes(let blocks, let summaries):
                progress("incremental: \(blocks.blockCount) changed blocks in \(blocks.forks.count) relation forks, from \(summaries) WAL summar\(summaries == 1 ? "y" : "ies")")
                return blocks
            case .unavailable(let why):
                progress("incremental: WAL summaries cannot say what changed (\(why)); reading changed files whole")
                return nil
            }
        } catch {
            progress("incremental: reading WAL summaries failed (\(error)); reading changed files whole")
            return nil
        }
    }

    /// Copies the data directory in path-ordered batches of about one manifest chunk's worth of
    /// bytes: a batch's files are split into parts that the workers take largest first, and
    /// once copied they become the body's next chunks, written at once. The directory is walked
    /// as the batches are cut, so memory holds one directory's listing, one batch and its
    /// results, the chunk pg_control's path falls in (held until pg_control, copied after every
    /// other file, joins it) and one slice of the parent, never the list of every file.
    private func copyFiles(repository: Repository, pgdata: String, parent: ParentBody?, changedBlocks: ChangedBlocks?,
                           checksums: FileBackup.ChecksumCheck?, into writer: ManifestStore.Writer) async throws -> CopyResult {
        guard FileManager.default.fileExists(atPath: pgdata + "/" + ControlFile.path) else {
            throw OperationError(.refused, "\(pgdata) has no \(ControlFile.path): it is not a PostgreSQL data directory")
        }
        let scanner = DataDirectoryScanner(root: pgdata)
        if let counter { counter.setTotal(try scanner.totalBytes()) }
        let packs = try PackWriter(repository: repository, shard: shard.name)
        var walk = scanner.walk()
        var batches = FileBatches(pieces: Self.batchPieces) { try walk.next() }
        // A parent that started "after" now (the clock stepped backwards since) cannot vouch
        // for mtimes: every file is then compared page by page.
        let parentEpoch = parent.map { $0.head.startEpoch <= Int64(Date().timeIntervalSince1970) ? $0.head.startEpoch : 0 } ?? 0
        var chunks = ChunkAssembly(parentPacks: parent?.packs ?? [], backup: writer)
        var held: ChunkAssembly.Held?
        while let batch = try batches.next() {
            let slice = try await parent?.files(for: Set(batch.entries.map(\.path)), through: batch.entries.last?.path ?? "")
            let fileBackup = FileBackup(
                level: policy.compression.level, packs: packs,
                parent: parent.map { p in
                    FileBackup.Parent(startLSN: p.head.startLSN, startEpoch: parentEpoch, files: slice?.files ?? [:], extents: slice?.extents ?? [],
                                      changedBlocks: changedBlocks)
                },
                progress: counter, checksums: checksums)
            let outputs = try await copy(batch.entries, with: fileBackup)
            // A tablespace's link is walked before any file beneath it, so the list is complete
            // for every path in this batch.
            chunks.tablespaces = walk.tablespaces
            if let kept = try await chunks.write(outputs, holdingFor: batch.holdsControlFile ? ControlFile.path : nil) { held = kept }
        }
        // pg_control last, as pg_basebackup copies it: a backup from a standby ends where the
        // copied pg_control's minRecoveryPoint says, so it must be newer than every other file
        // read. Its CRC proves the read whole; a torn read is read again.
        guard let control = batches.controlFile, let held else {
            throw OperationError(.refused, "backup \(writer.id): \(pgdata)/\(ControlFile.path) vanished while the directory was walked")
        }
        let controlBytes = try await ControlFile.read(dataDirectory: pgdata).bytes
        let controlOutput = try await FileBackup(level: policy.compression.level, packs: packs, parent: nil, progress: counter, checksums: checksums)
            .backup(control, bytes: controlBytes, compressor: try ZstdCompressor(level: max(policy.compression.level, 1)))
        chunks.tablespaces = walk.tablespaces
        try await chunks.write(held, adding: controlOutput)
        try await packs.finish()
        return CopyResult(files: chunks.files, directories: walk.directories, tablespaces: walk.tablespaces,
                          databaseBytes: chunks.databaseBytes, bytesRead: chunks.bytesRead, storedNew: packs.storedBytes,
                          referenced: chunks.referenced, checksumFailures: chunks.failures.sorted { $0.path < $1.path })
    }

    /// Extents' worth of bytes per batch, and so per manifest chunk: `ManifestStore.chunkPieces`,
    /// or `VAULT_TEST_CHUNK_PIECES`, with which the tests cut a small cluster into many chunks.
    static var batchPieces: Int {
        ProcessInfo.processInfo.environment["VAULT_TEST_CHUNK_PIECES"].flatMap(Int.init).map { max(1, $0) } ?? ManifestStore.chunkPieces
    }

    /// Copies `entries` with the workers, largest parts first, and joins the parts of each file.
    private func copy(_ entries: [DataDirectoryScanner.Entry], with fileBackup: FileBackup) async throws -> [FileBackup.Output] {
        let queue = WorkQueue(entries.flatMap { fileBackup.parts(of: $0) }.sorted { $0.length > $1.length })
        let level = policy.compression.level
        return try await withThrowingTaskGroup(of: [FileBackup.Output].self) { group in
            for _ in 0..<max(1, shard.settings.parallel) {
                group.addTask {
                    let compressor = try ZstdCompressor(level: max(level, 1))
                    var done: [FileBackup.Output] = []
                    while let part = queue.next() {
                        try Task.checkCancellation()
                        if let out = try await fileBackup.backup(part, compressor: compressor) { done.append(out) }
                    }
                    return done
                }
            }
            var all: [FileBackup.Output] = []
            for try await part in group { all.append(contentsOf: part) }
            return FileBackup.joinParts(all)
        }
    }

    /// Turns copied files into the body's chunks of about `batchPieces` pieces (cut at file
    /// boundaries; an incremental's changed pages make many pieces per file), each validated
    /// and written at the index reserved for it, and adds up what the backup's figures need.
    struct ChunkAssembly {
        /// The tablespaces met so far, against which a chunk's paths are validated.
        var tablespaces: [BackupManifest.Tablespace] = []
        /// The parent's packs: an extent in one of them is referenced, not stored anew.
        let parentPacks: Set<String>
        let backup: ManifestStore.Writer
        var files = 0
        var bytesRead: Int64 = 0
        var databaseBytes: Int64 = 0
        var referenced: Int64 = 0
        var failures: [BackupManifest.ChecksumFailure] = []

        /// A chunk kept back for a file copied later, with the index reserved for it.
        struct Held {
            var index: Int
            var outputs: [FileBackup.Output]
        }

        /// Writes one batch's files as chunks in path order. With `path`, the chunk that path
        /// falls in is reserved and returned instead of written.
        mutating func write(_ outputs: [FileBackup.Output], holdingFor path: String?) async throws -> Held? {
            var groups: [[FileBackup.Output]] = [[]]
            var pieces = 0
            for out in outputs.sorted(by: { $0.path < $1.path }) {
                if pieces >= BackupOperation.batchPieces, !(groups[groups.count - 1].isEmpty) {
                    groups.append([])
                    pieces = 0
                }
                groups[groups.count - 1].append(out)
                pieces += out.pieces.count
            }
            let holding = path.map { p in groups.lastIndex { $0.first.map { $0.path < p } ?? true } ?? 0 }
            var held: Held?
            for (g, group) in groups.enumerated() {
                if g == holding {
                    held = Held(index: backup.reserve(), outputs: group)
                } else if !group.isEmpty {
                    try await write(group, at: backup.reserve())
                }
            }
            return held
        }

        /// Writes a held chunk with `output` in its place.
        mutating func write(_ held: Held, adding output: FileBackup.Output) async throws {
            try await write(held.outputs + [output], at: held.index)
        }

        private mutating func write(_ outputs: [FileBackup.Output], at index: Int) async throws {
            var builder = ManifestStore.ChunkBuilder()
            var reused = Set<BackupManifest.Extent>()
            for out in outputs.sorted(by: { $0.path < $1.path }) {
                if !out.badBlocks.isEmpty { failures.append(.init(path: out.path, blocks: out.badBlocks)) }
                var pieces: [BackupManifest.Piece] = []
                for p in out.pieces {
                    if parentPacks.contains(p.extent.pack) { reused.insert(p.extent) }
                    PieceMap.append(BackupManifest.Piece(fileOffset: p.fileOffset, length: p.length, extent: builder.index(of: p.extent), extentOffset: p.extentOffset), to: &pieces)
                }
                builder.append(BackupManifest.File(path: out.path, size: out.size, mode: out.mode, mtime: out.mtime, pieces: pieces))
                files += 1
                bytesRead += out.bytesRead
                databaseBytes += out.size
            }
            referenced += reused.reduce(Int64(0)) { $0 + $1.storedLength }
            let chunk = builder.take()
            try BackupManifest.validate(files: chunk.files, extents: chunk.extents, tablespaces: tablespaces, backup: backup.id, shard: backup.shard)
            try await backup.write(chunk, at: index)
        }
    }

    /// The timeline from a backup_label's `START TIMELINE:` line.
    static func timeline(fromLabel label: String) -> UInt32? {
        for line in label.split(separator: "\n") where line.hasPrefix("START TIMELINE:") {
            return UInt32(line.dropFirst("START TIMELINE:".count).trimmingSpacesSub())
        }
        return nil
    }
}
