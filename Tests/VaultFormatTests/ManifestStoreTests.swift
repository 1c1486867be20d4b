import Foundation
import Testing
@testable import VaultSupport
@testable import VaultPostgres
@testable import VaultStorage
@testable import VaultFormat

@Suite("manifest store: chunked format 2, format 1 still read")
struct ManifestStoreTests {
    /// A fresh unencrypted repository in a temporary directory.
    static func repository() async throws -> (Repository, String) {
        let root = NSTemporaryDirectory() + "vault-manifest-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let repository = try await Repository.create(storage: PosixStorage(root: root), secret: nil, compressionLevel: 1)
        return (repository, root)
    }

    /// `files` files of three pieces each; neighbouring files share an extent, so chunks must
    /// carry shared extents on both sides of a cut.
    static func manifest(id: String, files count: Int) -> BackupManifest {
        var extents: [BackupManifest.Extent] = []
        var files: [BackupManifest.File] = []
        for i in 0..<count {
            let own = extents.count
            extents.append(.init(pack: "s/packs/\(String(format: "%02x", i % 7))/p\(i % 7)", offset: Int64(i) * 100, storedLength: 90, rawLength: 8192, sha256: String(repeating: "a", count: 64)))
            var pieces = [BackupManifest.Piece(fileOffset: 0, length: 8192, extent: own, extentOffset: 0)]
            pieces.append(.init(fileOffset: 8192, length: 4096, extent: max(0, own - 1), extentOffset: 4096))
            pieces.append(.init(fileOffset: 12288, length: 4096, extent: own, extentOffset: 0))
            // Paths not in insertion order: the store sorts them.
            files.append(.init(path: "base/5/\(100_000 - i)", size: 16384, mode: 0o600, mtime: Int64(i), pieces: pieces))
        }
        return BackupManifest(id: id, kind: .full, shard: "s", systemIdentifier: "1", versionNumber: 170000, node: "n",
                              startTime: "t0", stopTime: "t1", startEpoch: 1, startLSN: LSN(0x100), stopLSN: LSN(0x200), timeline: 1,
                              walStart: "000000010000000000000001", walStop: "000000010000000000000001", walComplete: true,
                              backupLabel: "label", tablespaces: [], directories: [.init(path: "base", mode: 0o700)], files: files, extents: extents,
                              stats: .init(databaseBytes: 1, bytesRead: 1, bytesStoredNew: 1, bytesReferenced: 0, files: count, seconds: 1))
    }

    /// Each file's bytes as (file offset, length, extent record, offset in extent): what a
    /// restore would write, independent of how extents are numbered.
    static func resolved(_ m: BackupManifest) -> [String: [String]] {
        Dictionary(uniqueKeysWithValues: m.files.map { f in
            (f.path, f.pieces.map { p in
                let e = m.extents[p.extent]
                return "\(p.fileOffset)+\(p.length) <- \(e.pack)@\(e.offset)/\(e.storedLength)/\(e.rawLength)+\(p.extentOffset)"
            })
        })
    }

    @Test("a body cut into chunks reads back to the same files and extents; heads come without the body")
    func roundTrip() async throws {
        let (repository, root) = try await Self.repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let original = Self.manifest(id: "20261202T000000Z-F", files: 50)
        try await repository.writeManifest(original, chunkPieces: 30)

        let read = try #require(try await repository.manifest(shard: "s", id: original.id))
        #expect(read.format == 2 && read.id == original.id && read.backupLabel == "label" && read.directories.count == 1)
        #expect(Self.resolved(read) == Self.resolved(original))
        #expect(read.files.map(\.path) == original.files.map(\.path).sorted())
        try read.validate()

        let head = try #require(try await repository.heads(shard: "s").first)
        #expect(head.chunks?.count == 5, "50 files of 3 pieces, a chunk closed once it reaches 30 pieces")
        #expect(head.packNames == nil, "listings drop the pack list")
        #expect(try await repository.packNames(of: head) == original.packs.sorted())
        for index in 0..<5 {
            let name = ManifestStore.chunkName(shard: "s", id: original.id, index: index)
            #expect(ManifestStore.chunk(named: name)?.id == original.id && ManifestStore.chunk(named: name)?.index == index)
            #expect(try await repository.storage.exists(name))
        }
        #expect(ManifestStore.chunk(named: BackupManifest.objectName(shard: "s", id: original.id)) == nil)
        #expect(try await repository.backupIDs(shard: "s") == [original.id], "chunks are not listed with heads")

        // Streamed, each chunk is a manifest of its own that validates and resolves alike.
        var parts = 0
        var streamed: [String: [String]] = [:]
        try await repository.forEachChunk(of: head) { part in
            parts += 1
            try part.validate()
            streamed.merge(Self.resolved(part)) { a, _ in a }
        }
        #expect(parts == 5 && streamed == Self.resolved(original))
    }

    @Test("the writer publishes no head while a reserved chunk is unwritten, or when chunks do not ascend")
    func writerRefuses() async throws {
        let (repository, root) = try await Self.repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let m = Self.manifest(id: "20261202T000000Z-F", files: 20)
        let chunks = ManifestStore.chunks(of: m, maxPieces: 30)
        #expect(chunks.count == 2)

        let gap = ManifestStore.Writer(repository: repository, shard: "s", id: m.id)
        let first = gap.reserve()
        _ = gap.reserve()
        try await gap.write(chunks[0], at: first)
        await #expect(throws: FormatError.self) { _ = try await gap.finish(m.head) }

        let swapped = ManifestStore.Writer(repository: repository, shard: "s", id: m.id)
        let (a, b) = (swapped.reserve(), swapped.reserve())
        try await swapped.write(chunks[1], at: a)
        try await swapped.write(chunks[0], at: b)
        await #expect(throws: FormatError.self) { _ = try await swapped.finish(m.head) }
        #expect(try await repository.heads(shard: "s").isEmpty, "no head was written")
    }

    @Test("a manifest in format 1 (one object) is still read, with its packs")
    func formatOne() async throws {
        let (repository, root) = try await Self.repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        var old = Self.manifest(id: "20261201T000000Z-F", files: 4)
        old.format = 1
        try await repository.write(BackupManifest.objectName(shard: "s", id: old.id), try JSONCoding.encode(old, pretty: false))

        let head = try #require(try await repository.head(shard: "s", id: old.id))
        #expect(head.format == 1 && head.chunks == nil)
        #expect(try await repository.packNames(of: head) == old.packs.sorted())
        let read = try #require(try await repository.manifest(shard: "s", id: old.id))
        #expect(Self.resolved(read) == Self.resolved(old))
    }

    @Test("a missing chunk, a chunk with other bytes and an unknown format are named")
    func damage() async throws {
        let (repository, root) = try await Self.repository()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let m = Self.manifest(id: "20261202T000000Z-F", files: 20)
        try await repository.writeManifest(m, chunkPieces: 30)
        let second = ManifestStore.chunkName(shard: "s", id: m.id, index: 1)

        let saved = try #require(try await repository.storage.get(second))
        try await repository.storage.delete([second])
        await #expect(throws: FormatError(.corrupt, "\(second) is missing: backup \(m.id) of shard s cannot be read")) {
            try await repository.manifest(shard: "s", id: m.id)
        }
        // The first chunk's sealed bytes under the second's name fail authentication (objects
        // are sealed with their name); a well-sealed chunk of other content fails its SHA-256.
        let first = try #require(try await repository.storage.get(ManifestStore.chunkName(shard: "s", id: m.id, index: 0)))
        try await repository.storage.put(second, first)
        await #expect(throws: FormatError.self) { try await repository.manifest(shard: "s", id: m.id) }
        try await repository.write(second, try JSONCoding.encode(ManifestStore.chunks(of: m, maxPieces: 30)[0], pretty: false))
        await #expect(throws: FormatError(.corrupt, "\(second) does not hold the bytes its manifest recorded (SHA-256 differs)")) {
            try await repository.manifest(shard: "s", id: m.id)
        }
        try await repository.storage.put(second, saved)
        #expect(try await repository.manifest(shard: "s", id: m.id) != nil)

        // A chunk reading a pack its head does not list (expire would not keep it) is refused.
        var unlisted = m
        unlisted.extents[0].pack = "s/packs/ff/elsewhere"
        let head = try #require(try await repository.head(shard: "s", id: m.id, withPacks: true))
        try await repository.writeManifest(unlisted, chunkPieces: 30)
        var stale = try #require(try await repository.head(shard: "s", id: m.id, withPacks: true))
        stale.packNames = head.packNames
        try await repository.write(BackupManifest.objectName(shard: "s", id: m.id), try JSONCoding.encode(stale))
        let firstChunk = ManifestStore.chunkName(shard: "s", id: m.id, index: 0)
        await #expect(throws: FormatError(.corrupt, "\(firstChunk) reads pack s/packs/ff/elsewhere, which s/backups/\(m.id).manifest does not list")) {
            try await repository.manifest(shard: "s", id: m.id)
        }

        var future = m.head
        future.format = 3
        let name = BackupManifest.objectName(shard: "s", id: m.id)
        try await repository.write(name, try JSONCoding.encode(future))
        await #expect(throws: FormatError(.refused, "\(name) has manifest format 3; this vault reads formats 1 and 2")) {
            try await repository.heads(shard: "s")
        }
    }
}
