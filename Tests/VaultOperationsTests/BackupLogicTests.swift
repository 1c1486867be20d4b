import Foundation
import Testing
@testable import VaultSupport
@testable import VaultSystem
@testable import VaultPostgres
@testable import VaultPolicy
@testable import VaultFormat
@testable import VaultOperations
import VaultStorage
import VaultCompression

@Suite("backup logic without a server")
struct BackupLogicTests {
    typealias Piece = BackupManifest.Piece

    @Test("slicing pieces covers exactly the asked range")
    func slice() {
        let pieces = [Piece(fileOffset: 0, length: 8192, extent: 0, extentOffset: 0),
                      Piece(fileOffset: 8192, length: 16384, extent: 1, extentOffset: 4096),
                      Piece(fileOffset: 24576, length: 8192, extent: 2, extentOffset: 0)]
        #expect(PieceMap.slice(pieces, from: 8192, to: 16384) == [Piece(fileOffset: 8192, length: 8192, extent: 1, extentOffset: 4096)])
        #expect(PieceMap.slice(pieces, from: 4096, to: 28672) == [
            Piece(fileOffset: 4096, length: 4096, extent: 0, extentOffset: 4096),
            Piece(fileOffset: 8192, length: 16384, extent: 1, extentOffset: 4096),
            Piece(fileOffset: 24576, length: 4096, extent: 2, extentOffset: 0)])
        #expect(PieceMap.slice(pieces, from: 40000, to: 50000).isEmpty)
        #expect(PieceMap.slice(pieces, from: 100, to: 100).isEmpty)
    }

    @Test("appending merges only pieces that continue the same extent")
    func merge() {
        var pieces: [Piece] = []
        PieceMap.append(Piece(fileOffset: 0, length: 10, extent: 0, extentOffset: 0), to: &pieces)
        PieceMap.append(Piece(fileOffset: 10, length: 10, extent: 0, extentOffset: 10), to: &pieces)
        PieceMap.append(Piece(fileOffset: 20, length: 10, extent: 0, extentOffset: 40), to: &pieces)
        PieceMap.append(Piece(fileOffset: 30, length: 10, extent: 1, extentOffset: 50), to: &pieces)
        PieceMap.append(Piece(fileOffset: 40, length: 0, extent: 1, extentOffset: 60), to: &pieces)
        #expect(pieces == [Piece(fileOffset: 0, length: 20, extent: 0, extentOffset: 0),
                           Piece(fileOffset: 20, length: 10, extent: 0, extentOffset: 40),
                           Piece(fileOffset: 30, length: 10, extent: 1, extentOffset: 50)])
    }

    @Test("relation file names and which are page-tracked")
    func relationFiles() {
        #expect(RelationFile("16384")?.node == "16384")
        #expect(RelationFile("16384.2")?.segment == 2)
        #expect(RelationFile("16384_fsm")?.isPageTracked == false)
        #expect(RelationFile("16384_vm")?.isPageTracked == false, "visibility-map clears leave the page LSN as it was")
        #expect(RelationFile("16384_init")?.fork == "init")
        #expect(RelationFile("PG_VERSION") == nil)
        #expect(RelationFile("16384_xyz") == nil)
        #expect(RelationFile("pg_filenode.map") == nil)
        #expect(RelationFile.isRelationPath("base/5/16384"))
        #expect(RelationFile.isRelationPath("global/1262"))
        #expect(RelationFile.isRelationPath("pg_tblspc/16400/PG_15_202209061/5/16401.1"))
        #expect(!RelationFile.isRelationPath("base/5/PG_VERSION"))
        #expect(!RelationFile.isRelationPath("pg_xact/0000"))
    }

    @Test("the scanner applies PostgreSQL's exclusions")
    func scanner() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vault-scan-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let files = ["PG_VERSION", "postmaster.pid", "backup_label", "base/5/16384", "base/5/16385", "base/5/16385_init", "base/5/16385_fsm",
                     "base/5/t3_16390", "base/5/pg_internal.init", "base/pgsql_tmp/pgsql_tmp1.0", "pg_wal/000000010000000000000001",
                     "pg_wal/archive_status/000000010000000000000001.done", "pg_replslot/s/state", "pg_stat/pgstat.stat", "global/1262",
                     "base.old", "base-1/2"]
        for f in files {
            let path = root + "/" + f
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        }
        let result = try DataDirectoryScanner(root: root).scan()
        #expect(Set(result.files.map(\.path)) == ["PG_VERSION", "base/5/16384", "base/5/16385_init", "pg_stat/pgstat.stat", "global/1262", "base.old", "base-1/2"])
        // The walk gives whole paths in order although `base` sorts before `base-1` and
        // `base.old` as a name, and after them as a path prefix (`base/`).
        #expect(result.files.map(\.path) == result.files.map(\.path).sorted())
        let dirs = Set(result.directories.map(\.path))
        #expect(dirs.contains("pg_wal") && dirs.contains("pg_wal/archive_status") && dirs.contains("pg_replslot"))
        #expect(!dirs.contains("pg_replslot/s"))
    }

    @Test("a database directory or tablespace dropped after its parent was listed is skipped, not an error")
    func vanishedDirectories() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vault-walk-\(UUID().uuidString)").path
        let tablespace = root + "-ts"
        defer { try? FileManager.default.removeItem(atPath: root); try? FileManager.default.removeItem(atPath: tablespace) }
        for f in ["PG_VERSION", "base/1/100", "base/5/200", "base/6/300", "global/pg_control"] {
            let path = root + "/" + f
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: path, contents: Data("x".utf8))
        }
        try FileManager.default.createDirectory(atPath: tablespace + "/PG_15_1/7", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: tablespace + "/PG_15_1/7/400", contents: Data("x".utf8))
        try FileManager.default.createDirectory(atPath: root + "/pg_tblspc", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: root + "/pg_tblspc/16400", withDestinationPath: tablespace)
        var walk = DataDirectoryScanner(root: root).walk()
        #expect(try walk.next()?.path == "PG_VERSION")
        #expect(try walk.next()?.path == "base/1/100", "base is listed now, its databases later")
        try FileManager.default.removeItem(atPath: root + "/base/5")
        // DROP TABLESPACE removes the link with the directory: skipped.
        try FileManager.default.removeItem(atPath: tablespace)
        try FileManager.default.removeItem(atPath: root + "/pg_tblspc/16400")
        var rest: [String] = []
        while let entry = try walk.next() { rest.append(entry.path) }
        #expect(rest == ["base/6/300", "global/pg_control"])

        // A link that stays while its target is gone (an unmounted volume) is an error, not a
        // backup without the tablespace.
        try FileManager.default.createSymbolicLink(atPath: root + "/pg_tblspc/16401", withDestinationPath: tablespace)
        var broken = DataDirectoryScanner(root: root).walk()
        let error = #expect(throws: OperationError.self) { while try broken.next() != nil {} }
        #expect(error?.message.hasPrefix("tablespace 16401: \(root)/pg_tblspc/16401 links to \(tablespace), which cannot be read") == true, "\(String(describing: error))")
        // An empty directory behind the link (the volume not mounted) is refused the same way.
        try FileManager.default.createDirectory(atPath: tablespace, withIntermediateDirectories: true)
        var empty = DataDirectoryScanner(root: root).walk()
        let unmounted = #expect(throws: OperationError.self) { while try empty.next() != nil {} }
        #expect(unmounted?.message.contains("holds no PG_ version directory") == true, "\(String(describing: unmounted))")
        // Nor may the data directory itself be missing.
        var missing = DataDirectoryScanner(root: root + "-absent").walk()
        #expect(throws: SystemError.self) { _ = try missing.next() }
    }

    func manifest(_ id: String, _ kind: BackupManifest.Kind, epoch: Int64) -> BackupHead {
        BackupManifest(id: id, kind: kind, parent: nil, shard: "s", systemIdentifier: "1", versionNumber: 150000, node: "n",
                       startTime: "", stopTime: "", startEpoch: epoch, startLSN: LSN(0), stopLSN: LSN(0), timeline: 1,
                       walStart: "000000010000000000000001", walStop: "000000010000000000000001", walComplete: true, backupLabel: "",
                       tablespaceMap: nil, tablespaces: [], directories: [], files: [], extents: [],
                       stats: .init(databaseBytes: 0, bytesRead: 0, bytesStoredNew: 0, bytesReferenced: 0, files: 0, seconds: 0)).head
    }

    @Test("retention by count keeps the newest fulls and everything after the oldest kept one")
    func retentionCount() {
        let b = [manifest("1-F", .full, epoch: 100), manifest("2-I", .incremental, epoch: 200), manifest("3-F", .full, epoch: 300),
                 manifest("4-I", .incremental, epoch: 400), manifest("5-F", .full, epoch: 500), manifest("6-I", .incremental, epoch: 600)]
        let now = Date(timeIntervalSince1970: 1000)
        #expect(RetentionPlan.expired(b, retention: .init(fullBackups: 2, window: nil), now: now).map(\.id) == ["1-F", "2-I"])
        #expect(RetentionPlan.expired(b, retention: .init(fullBackups: 1, window: nil), now: now).map(\.id) == ["1-F", "2-I", "3-F", "4-I"])
        #expect(RetentionPlan.expired(b, retention: .init(fullBackups: 9, window: nil), now: now).isEmpty)
        #expect(RetentionPlan.expired(b, retention: .init(fullBackups: 1, window: nil), now: now, protected: ["3-F"]).map(\.id) == ["1-F", "2-I", "4-I"])
    }

    @Test("only restorable full backups count toward retention; with none, nothing is expired")
    func retentionRestorable() {
        let b = [manifest("1-F", .full, epoch: 100), manifest("2-I", .incremental, epoch: 200), manifest("3-F", .full, epoch: 300),
                 manifest("4-F", .full, epoch: 400)]
        let now = Date(timeIntervalSince1970: 1000)
        let broken: Set<String> = ["3-F", "4-F"]
        #expect(RetentionPlan.expired(b, retention: .init(fullBackups: 1, window: nil), now: now, restorable: { !broken.contains($0.id) }).isEmpty,
                "1-F is the newest restorable full: it and everything after it stay")
        #expect(RetentionPlan.expired(b, retention: .init(fullBackups: 1, window: nil), now: now, restorable: { $0.id != "4-F" }).map(\.id) == ["1-F", "2-I"])
        #expect(RetentionPlan.expired(b, retention: .init(fullBackups: 1, window: 10), now: now, restorable: { _ in false }).isEmpty)
    }

    @Test("retention by window never drops the last full backup")
    func retentionWindow() {
        let b = [manifest("1-F", .full, epoch: 100), manifest("2-I", .incremental, epoch: 900)]
        let now = Date(timeIntervalSince1970: 1000)
        #expect(RetentionPlan.expired(b, retention: .init(fullBackups: nil, window: 500), now: now).isEmpty)
        let two = [manifest("0-F", .full, epoch: 50)] + b
        #expect(RetentionPlan.expired(two, retention: .init(fullBackups: nil, window: 500), now: now).map(\.id) == ["0-F"])
    }

    @Test("data directory paths map to the relation forks WAL summaries name")
    func forkIDs() {
        typealias ID = ChangedBlocks.ForkID
        #expect(ID.of(path: "base/5/16384")?.0 == ID(tablespace: 1663, database: 5, relfilenode: 16384, fork: 0))
        #expect(ID.of(path: "base/5/16384.2")?.segment == 2)
        #expect(ID.of(path: "base/5/16384_vm")?.0.fork == 2)
        #expect(ID.of(path: "base/5/16384_fsm")?.0.fork == 1)
        #expect(ID.of(path: "base/5/16384_init")?.0.fork == 3)
        #expect(ID.of(path: "global/1262")?.0 == ID(tablespace: 1664, database: 0, relfilenode: 1262, fork: 0))
        #expect(ID.of(path: "pg_tblspc/16390/PG_18_202506291/5/16391.1")?.0 == ID(tablespace: 16390, database: 5, relfilenode: 16391, fork: 0))
        #expect(ID.of(path: "pg_xact/0000") == nil)
        #expect(ID.of(path: "base/5/PG_VERSION") == nil)

        var blocks = ChangedBlocks()
        let id = ID(tablespace: 1663, database: 5, relfilenode: 16384, fork: 0)
        blocks.add(id, block: 7, isLimit: false)
        blocks.add(id, block: 40, isLimit: true)
        blocks.add(id, block: 30, isLimit: true)
        let fork = blocks.changes(forPath: "base/5/16384")?.0
        #expect(fork?.contains(7) == true && fork?.contains(8) == false)
        #expect(fork?.contains(29) == false && fork?.contains(30) == true && fork?.contains(1_000_000) == true, "the shortest truncation wins")
        // A fork WAL never touched: nothing changed.
        #expect(blocks.changes(forPath: "base/5/99999")?.0 == ChangedBlocks.Fork())
        // A database created (or dropped and created again) in the range: all of it changed.
        blocks.add(ID(tablespace: 1663, database: 16500, relfilenode: 0, fork: 0), block: 0, isLimit: true)
        #expect(blocks.changes(forPath: "base/16500/1259")?.0.contains(0) == true)
        #expect(blocks.changes(forPath: "base/16500/1259_vm")?.0.contains(3) == true)
        #expect(blocks.changes(forPath: "base/5/99999")?.0.contains(0) == false)
    }

    @Test("WAL summaries are used only when they cover the range without a gap")
    func summaryChain() throws {
        func lsn(_ v: UInt64) -> LSN { LSN(v) }
        let ranges = [(lsn(100), lsn(200)), (lsn(200), lsn(350)), (lsn(350), lsn(500)), (lsn(0), lsn(100))]
        let chain = try #require(WALSummaryReader.chain(ranges, from: lsn(150), to: lsn(400)))
        #expect(chain.map(\.0.value) == [100, 200, 350])
        #expect(WALSummaryReader.chain([(lsn(100), lsn(200)), (lsn(250), lsn(500))], from: lsn(150), to: lsn(400)) == nil, "a gap")
        #expect(WALSummaryReader.chain([(lsn(100), lsn(200))], from: lsn(150), to: lsn(400)) == nil, "not far enough")
        #expect(WALSummaryReader.chain([(lsn(100), lsn(500))], from: lsn(400), to: lsn(150)) == nil, "a parent that began after this backup proves nothing")
        #expect(WALSummaryReader.chain([(lsn(200), lsn(500))], from: lsn(150), to: lsn(400)) == nil, "starts too late")
    }
}

@Suite("recovery targets")
struct RecoveryTargetTests {
    func backup(_ id: String, stop: String, lsn: UInt64) -> BackupHead {
        var m = BackupLogicTests().manifest(id, .full, epoch: 0)
        m.stopTime = stop
        m.stopLSN = LSN(lsn)
        return m
    }

    @Test("the newest backup that ended before the target is chosen")
    func choose() throws {
        let b = [backup("1-F", stop: "2026-11-26T01:00:00Z", lsn: 100), backup("2-F", stop: "2026-11-26T02:00:00Z", lsn: 200)]
        let t = try #require(RecoveryTarget.time("2026-11-26 01:30:00.123456"))
        #expect(try RecoveryTarget.chooseBackup(b, id: nil, for: t, shard: "s").id == "1-F")
        #expect(try RecoveryTarget.chooseBackup(b, id: nil, for: .lsn(LSN(250)), shard: "s").id == "2-F")
        #expect(try RecoveryTarget.chooseBackup(b, id: nil, for: .endOfWAL, shard: "s").id == "2-F")
        #expect(throws: OperationError.self) { try RecoveryTarget.chooseBackup(b, id: nil, for: .lsn(LSN(50)), shard: "s") }
        #expect(throws: OperationError.self) { try RecoveryTarget.chooseBackup(b, id: "2-F", for: t, shard: "s") }
    }

    @Test("time text reaches PostgreSQL with its microseconds and a zone")
    func timeText() throws {
        #expect(RecoveryTarget.time("2026-11-26 01:30:00.123456")?.settings == ["recovery_target_time = '2026-11-26 01:30:00.123456+00'"])
        #expect(RecoveryTarget.time("2026-11-26T01:30:00Z")?.settings == ["recovery_target_time = '2026-11-26T01:30:00Z'"])
        #expect(RecoveryTarget.time("2026-11-26 03:30:00+02") != nil)
        #expect(RecoveryTarget.time("yesterday") == nil)
        #expect(RecoveryTarget.name("it's").settings == ["recovery_target_name = 'it''s'"])
    }

    @Test("a fleet restore point is reached by its end LSN, not inclusive, and chooses the backup by that LSN")
    func restorePointTarget() throws {
        let point = RecoveryTarget.restorePoint(name: "p1", end: LSN(0x3000060))
        #expect(point.settings == ["recovery_target_lsn = '0/3000060'", "recovery_target_inclusive = off"])
        let b = [backup("1-F", stop: "2026-11-26T01:00:00Z", lsn: 0x2000000), backup("2-F", stop: "2026-11-26T02:00:00Z", lsn: 0x4000000)]
        #expect(try RecoveryTarget.chooseBackup(b, id: nil, for: point, shard: "s").id == "1-F")
        #expect("\(point)" == "restore point 'p1' (ending at 0/3000060)")
    }
}

@Suite("large files are copied in parts")
struct FilePartsTests {
    @Test("the data directory is copied in batches of about one manifest chunk, in path order, none empty but the only one; pg_control is kept aside and its batch named")
    func batches() throws {
        let mib = Int64(1 << 20)
        func entry(_ path: String, _ size: Int64) -> DataDirectoryScanner.Entry {
            DataDirectoryScanner.Entry(path: path, absolutePath: "", size: size, mode: 0o600, mtime: 0)
        }
        func cut(_ entries: [DataDirectoryScanner.Entry], pieces: Int) throws -> (batches: [[String]], holding: [Int], control: String?) {
            var source = entries.makeIterator()
            var batches = FileBatches(pieces: pieces) { source.next() }
            var result: [[String]] = [], holding: [Int] = []
            while let batch = try batches.next() {
                if batch.holdsControlFile { holding.append(result.count) }
                result.append(batch.entries.map(\.path))
            }
            return (result, holding, batches.controlFile?.path)
        }
        func base(_ sizes: [Int64]) -> [DataDirectoryScanner.Entry] {
            sizes.enumerated().map { entry("base/5/\(1000 + $0.offset)", $0.element) }
        }
        // Weights in extents: 0 → 1, 1 → 1, 3 MiB + 1 → 4, 2 MiB → 2, 5 MiB → 5.
        let five = try cut(base([0, 1, 3 * mib + 1, 2 * mib, 5 * mib]), pieces: 6)
        #expect(five.batches.map(\.count) == [3, 1, 1])
        #expect(five.holding == [2] && five.control == nil, "every path sorts before global/pg_control")
        // A file heavier than a batch is a batch of its own.
        #expect(try cut(base([mib, 40 * mib, mib]), pieces: 8).batches.map(\.count) == [1, 1, 1])
        let none = try cut([], pieces: 8)
        #expect(none.batches == [[]] && none.holding == [0])
        // pg_control leaves the stream; the batch its path sorts into is the one held.
        let tree = [entry("base/1/1", mib), entry("global/1262", mib), entry("global/pg_control", 8192),
                    entry("global/pg_filenode.map", 512), entry("pg_xact/0000", mib), entry("pg_xact/0001", mib)]
        let cuts = try cut(tree, pieces: 2)
        #expect(cuts.batches == [["base/1/1", "global/1262"], ["global/pg_filenode.map", "pg_xact/0000"], ["pg_xact/0001"]])
        #expect(cuts.holding == [0] && cuts.control == "global/pg_control")
        #expect(try cut(Array(tree.prefix(3)), pieces: 1).holding == [1], "the last batch, when nothing follows pg_control")
    }

    /// Backs up `path` part by part in the given order into a fresh local repository and
    /// returns the joined result with the bytes its pieces read back from the packs.
    static func backUp(_ entry: DataDirectoryScanner.Entry, order: ([FileBackup.Part]) -> [FileBackup.Part],
                       beforePart: (Int) throws -> Void = { _ in }) async throws -> (FileBackup.Output, [UInt8]) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("vault-parts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let repository = try await Repository.create(storage: PosixStorage(root: root), secret: nil, compressionLevel: 3)
        let packs = try PackWriter(repository: repository, shard: "main")
        let backup = FileBackup(level: 3, packs: packs, parent: nil, progress: nil, checksums: nil)
        var outputs: [FileBackup.Output] = []
        for (i, part) in order(backup.parts(of: entry)).enumerated() {
            try beforePart(i)
            if let out = try await backup.backup(part, compressor: try ZstdCompressor(level: 3)) { outputs.append(out) }
        }
        try await packs.finish()
        let joined = FileBackup.joinParts(outputs)
        try #require(joined.count == 1)
        var bytes: [UInt8] = []
        for piece in joined[0].pieces {
            #expect(piece.fileOffset == Int64(bytes.count))
            let sealed = try await repository.storage.getRange(piece.extent.pack, offset: Int(piece.extent.offset), length: Int(piece.extent.storedLength))
            let plain = try repository.envelope.open(sealed, name: PackWriter.extentName(pack: piece.extent.pack, offset: piece.extent.offset))
            bytes += plain[Int(piece.extentOffset)..<Int(piece.extentOffset + piece.length)]
        }
        return (joined[0], bytes)
    }

    static func makeFile(size: Int) throws -> (DataDirectoryScanner.Entry, [UInt8]) {
        let content = [UInt8](try #require(FileHandle(forReadingAtPath: "/dev/urandom")).readData(ofLength: size))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vault-parts-file-\(UUID().uuidString)").path
        try Data(content).write(to: URL(fileURLWithPath: path))
        return (DataDirectoryScanner.Entry(path: "base/5/16384", absolutePath: path, size: Int64(size), mode: 0o600, mtime: 0), content)
    }

    @Test("a file larger than a part is split on part boundaries and joined back byte for byte, whatever order the parts ran in")
    func splitAndJoin() async throws {
        let size = Int(FileBackup.partSize) * 2 + 12345
        let (entry, content) = try Self.makeFile(size: size)
        defer { unlink(entry.absolutePath) }
        let (output, bytes) = try await Self.backUp(entry, order: { parts in
            #expect(parts.map { $0.start } == [0, FileBackup.partSize, 2 * FileBackup.partSize])
            #expect(parts.map { $0.end } == [FileBackup.partSize, 2 * FileBackup.partSize, nil])
            return parts.reversed()
        })
        #expect(output.size == Int64(size))
        #expect(output.bytesRead == Int64(size))
        #expect(bytes == content)
    }

    @Test("a file truncated while its parts are copied ends where a part came up short, with nothing read after it")
    func truncatedDuringCopy() async throws {
        let size = Int(FileBackup.partSize) * 3 + 8192
        let (entry, content) = try Self.makeFile(size: size)
        defer { unlink(entry.absolutePath) }
        let shortened = Int(FileBackup.partSize) + 5 * 8192
        let (output, bytes) = try await Self.backUp(entry, order: { $0 }, beforePart: { i in
            if i == 1 { #expect(truncate(entry.absolutePath, off_t(shortened)) == 0) }
        })
        #expect(output.size == Int64(shortened))
        #expect(bytes == Array(content[0..<shortened]))
    }
}
