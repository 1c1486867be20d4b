// vault-synthetic: writes synthetic backups of a shard into a policy's repository, for the
// memory benchmark (Tests/Benchmarks/memory.sh). Not part of vault: its backups name packs
// that do not exist, and a shard it writes to holds nothing restorable.
//
//   vault-synthetic --policy FILE --shard NAME --terabytes N [--backups K]
//
// Each backup describes N TB as 1 GiB files of 1 MiB extents (about a million extents per
// TB) in 32 MiB packs; the first is full, the rest incrementals reusing its extents. The
// shard's record is written when the repository has none (the shard needs no server).
import Foundation
import VaultSupport
import VaultPostgres
import VaultPolicy
import VaultFormat
import VaultOperations

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    exit(2)
}

func option(_ name: String) -> String? {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}

guard let policyPath = option("--policy"), let shard = option("--shard"), let terabytes = option("--terabytes").flatMap(Int.init), terabytes > 0 else {
    fail("usage: vault-synthetic --policy FILE --shard NAME --terabytes N [--backups K]")
}
let count = option("--backups").flatMap(Int.init) ?? 1

let extentSize: Int64 = 1 << 20
let extentsPerFile = 1024
let extentsPerPack = 64 // 1 MiB extents stored at about half their size in 32 MiB packs

do {
    let policy = try PolicyLoader.load(path: policyPath)
    let repository = try await RepositoryOpener.open(policy)
    guard try await repository.backupIDs(shard: shard).isEmpty else { fail("shard \(shard) has backups already: write synthetic ones into a shard of their own") }
    let identity = ClusterIdentity(systemIdentifier: 7_000_000_000_000_000_001, versionNumber: 170000, walSegmentSize: 16 << 20)
    _ = try await repository.writeIfAbsent(ShardRecord.objectName(shard), try JSONCoding.encode(ShardRecord(shard: shard, identity: identity, created: Timestamp.now())))

    let fileCount = terabytes * 1024
    var extents: [BackupManifest.Extent] = []
    extents.reserveCapacity(fileCount * extentsPerFile)
    var files: [BackupManifest.File] = []
    var pack = ""
    for f in 0..<fileCount {
        var pieces: [BackupManifest.Piece] = []
        pieces.reserveCapacity(extentsPerFile)
        for e in 0..<extentsPerFile {
            if extents.count % extentsPerPack == 0 {
                let id = Hex.encode(withUnsafeBytes(of: UInt64(extents.count / extentsPerPack).bigEndian, Array.init)) + "0123456789abcdef"
                pack = "\(shard)/packs/\(id.prefix(2))/\(id)"
            }
            let sha = Hex.encode(withUnsafeBytes(of: UInt64(extents.count).bigEndian, Array.init))
            pieces.append(.init(fileOffset: Int64(e) * extentSize, length: extentSize, extent: extents.count, extentOffset: 0))
            extents.append(.init(pack: pack, offset: Int64(extents.count % extentsPerPack) * (extentSize / 2), storedLength: extentSize / 2,
                                 rawLength: extentSize, sha256: String(repeating: sha, count: 4)))
        }
        // 1 GiB segments of relations in a few databases, as PostgreSQL names them.
        files.append(.init(path: "base/\(16384 + f % 4)/\(20000 + f / 16)\(f % 16 == 0 ? "" : ".\(f % 16)")", size: Int64(extentsPerFile) * extentSize,
                           mode: 0o600, mtime: 1_700_000_000, pieces: pieces))
    }
    let databaseBytes = Int64(fileCount) * Int64(extentsPerFile) * extentSize
    let start = Date(timeIntervalSince1970: 1_790_000_000)
    var parent: String?
    for n in 0..<count {
        let kind: BackupManifest.Kind = n == 0 ? .full : .incremental
        let started = start.addingTimeInterval(Double(n) * 3600)
        let id = BackupID.make(started: started, kind: kind)
        let lsn = LSN(UInt64(n + 1) << 32)
        let wal = WALFileName.segment(containing: lsn, timeline: 1, segmentSize: identity.walSegmentSize)
        let manifest = BackupManifest(
            id: id, kind: kind, parent: parent, shard: shard, systemIdentifier: String(identity.systemIdentifier), versionNumber: identity.versionNumber,
            node: "synthetic", startTime: Timestamp.precise(started), stopTime: Timestamp.precise(started.addingTimeInterval(600)),
            startEpoch: Int64(started.timeIntervalSince1970), startLSN: lsn, stopLSN: LSN(lsn.value + 0x1000), timeline: 1,
            walStart: wal, walStop: wal, walComplete: true, backupLabel: "synthetic", tablespaces: [],
            directories: ["base", "base/16384", "base/16385", "base/16386", "base/16387"].map { .init(path: $0, mode: 0o700) },
            files: files, extents: extents,
            stats: .init(databaseBytes: databaseBytes, bytesRead: n == 0 ? databaseBytes : 0, bytesStoredNew: n == 0 ? databaseBytes / 2 : 0,
                         bytesReferenced: n == 0 ? 0 : databaseBytes / 2, files: files.count, seconds: 600))
        let began = Date()
        try await repository.writeManifest(manifest)
        print("\(id): \(files.count) files, \(extents.count) extents, \(manifest.packs.count) packs, written in \(String(format: "%.1f", Date().timeIntervalSince(began))) s")
        parent = id
    }
} catch {
    fail("\(error)")
}
