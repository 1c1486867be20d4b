import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `vault restore`: writes a backup's files into an empty directory straight from the packs,
/// each stored extent fetched, authenticated and decompressed once, then prepares recovery
/// through `vault archive-get`.
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

        public init(targetDir: String, backupID: String? = nil, target: RecoveryTarget = .endOfWAL, targetAction: String = "promote", targetTimeline: String? = nil) {
            self.targetDir = targetDir
            self.backupID = backupID
            self.target = target
            self.targetAction = targetAction
            self.targetTimeline = targetTimeline
        }
    }

    public struct Result: Sendable {
        public var backup: String
        public var files: Int
        public var bytesWritten: Int64
        public var extentsRead: Int
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
        let backups = try await repository.backups(shard: shard.name)
        let manifest = try RecoveryTarget.chooseBackup(backups, id: options.backupID, for: options.target, shard: shard.name)
        let target = options.targetDir.hasSuffix("/") ? String(options.targetDir.dropLast()) : options.targetDir
        try Self.prepareEmptyDirectory(target)

        for dir in manifest.directories {
            if let ts = manifest.tablespaces.first(where: { "pg_tblspc/\($0.oid)" == dir.path }) {
                try Self.prepareEmptyDirectory(ts.location)
                try Syscall.call("link tablespace \(dir.path) to \(ts.location)") { symlink(ts.location, target + "/" + dir.path) }
            } else {
                try Syscall.call("create directory \(target)/\(dir.path)") { mkdir(target + "/" + dir.path, 0o700) }
            }
        }
        for file in manifest.files {
            let path = target + "/" + file.path
            let fd = try Syscall.call("create \(path)") { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
            defer { close(fd) }
            try Syscall.call("size \(path)") { ftruncate(fd, off_t(file.size)) }
        }

        // Every piece that reads from an extent, grouped so the extent is fetched once.
        var byExtent: [[(path: String, piece: BackupManifest.Piece)]] = Array(repeating: [], count: manifest.extents.count)
        for file in manifest.files {
            for piece in file.pieces { byExtent[piece.extent].append((file.path, piece)) }
        }
        let work = WorkQueue(Array(byExtent.indices.filter { !byExtent[$0].isEmpty }))
        let extents = manifest.extents
        let uses = byExtent
        let written = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<max(1, shard.settings.parallel) {
                group.addTask {
                    var bytes: Int64 = 0
                    while let index = await work.next() {
                        let extent = extents[index]
                        let plain = try await Self.readExtent(extent, repository: repository)
                        for use in uses[index] {
                            bytes += try Self.write(plain, piece: use.piece, to: target + "/" + use.path)
                        }
                    }
                    return bytes
                }
            }
            var total: Int64 = 0
            for try await b in group { total += b }
            return total
        }
        for file in manifest.files { chmod(target + "/" + file.path, mode_t(file.mode)) }
        try FileIO.writeDurably(target + "/backup_label", Array(manifest.backupLabel.utf8), mode: 0o600)
        if let map = manifest.tablespaceMap { try FileIO.writeDurably(target + "/tablespace_map", Array(map.utf8), mode: 0o600) }
        try writeRecoverySettings(target, options: options)
        sync()
        var reached: RecoveryStarter.Reached?
        if options.start {
            let bindir = try RecoveryStarter.bindir(shard: shard, majorVersion: manifest.versionNumber / 10000)
            reached = try await RecoveryStarter(dataDir: target, bindir: bindir, action: options.targetAction, timeout: 3600).run()
        }
        return Result(backup: manifest.id, files: manifest.files.count, bytesWritten: written, extentsRead: await work.total, reached: reached)
    }

    /// Fetches one extent with a ranged read, authenticates it under its pack-and-offset name,
    /// and checks its SHA-256.
    static func readExtent(_ extent: BackupManifest.Extent, repository: Repository) async throws -> [UInt8] {
        let name = PackWriter.extentName(pack: extent.pack, offset: extent.offset)
        let sealed = try await repository.storage.getRange(extent.pack, offset: Int(extent.offset), length: Int(extent.storedLength))
        guard sealed.count == Int(extent.storedLength) else {
            throw VaultError(.corrupt, "pack \(extent.pack) is truncated: extent at \(extent.offset) needs \(extent.storedLength) bytes, found \(sealed.count)")
        }
        let plain = try repository.envelope.open(sealed, name: name)
        guard Hex.encode(try SHA256.hash(plain)) == extent.sha256 else {
            throw VaultError(.corrupt, "extent \(name) does not match its checksum")
        }
        return plain
    }

    private static func write(_ plain: [UInt8], piece: BackupManifest.Piece, to path: String) throws -> Int64 {
        let fd = try Syscall.call("open \(path)") { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        var done = 0
        let count = Int(piece.length), start = Int(piece.extentOffset)
        while done < count {
            let n = try plain.withUnsafeBytes { buf in
                try Syscall.call("write \(path)") { pwrite(fd, buf.baseAddress.map { $0 + start + done }, count - done, off_t(Int(piece.fileOffset) + done)) }
            }
            done += n
        }
        return Int64(count)
    }

    /// Refuses a directory that has anything in it; creates a missing one with mode 0700.
    static func prepareEmptyDirectory(_ path: String) throws {
        if FileIO.exists(path) {
            guard try DataDirectoryScanner.list(path).isEmpty else {
                throw VaultError(.refused, "target directory \(path) is not empty; restore only writes into an empty directory")
            }
            chmod(path, 0o700)
        } else {
            try FileIO.makeDirectories(path, mode: 0o700)
        }
    }

    private func writeRecoverySettings(_ target: String, options: Options) throws {
        let vault = Self.executablePath()
        var lines = [
            "",
            "# Added by vault restore",
            "restore_command = '\(vault) --policy \(policy.sourcePath) --shard \(shard.name) archive-get %f %p'",
        ]
        lines += options.target.settings
        if options.target != .endOfWAL { lines.append("recovery_target_action = '\(options.targetAction)'") }
        if let timeline = options.targetTimeline { lines.append("recovery_target_timeline = '\(timeline)'") }
        if let port = options.port { lines.append("port = \(port)") }
        let auto = target + "/postgresql.auto.conf"
        let existing = (try? FileIO.read(auto)) ?? []
        try FileIO.writeDurably(auto, existing + Array((lines.joined(separator: "\n") + "\n").utf8), mode: 0o600)
        try FileIO.writeDurably(target + "/recovery.signal", [], mode: 0o600)
    }

    /// The absolute path of the running vault binary, for restore_command.
    static func executablePath() -> String {
        (try? DataDirectoryScanner.readLink("/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}

