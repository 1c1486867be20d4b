import Foundation
import Testing
@testable import VaultSupport
@testable import VaultCrypto
@testable import VaultPostgres
@testable import VaultStorage
@testable import VaultFormat

/// Damaged repository objects and binary PostgreSQL files, from a fixed seed: every reader
/// gives the right value or a typed error that names the object, never a crash, a hang or a
/// silently different result.
@Suite("fuzzing the object and file readers")
struct ObjectFuzzTests {
    @Test("object envelopes, encrypted or not: a damaged object is a FormatError; only the intact bytes open")
    func envelopes() throws {
        let key = DataKey(id: Array(repeating: 7, count: DataKey.idSize), key: try SymmetricKey(bytes: Array(repeating: 1, count: SymmetricKey.byteCount)))
        let plaintext = Array(String(repeating: "base/5/16384 ", count: 200).utf8)
        var mutator = Mutator(seed: 11)
        for envelope in [ObjectEnvelope(key: key, compressionLevel: 3), ObjectEnvelope(key: nil, compressionLevel: 3), ObjectEnvelope(key: key, compressionLevel: 0)] {
            let sealed = try envelope.seal(plaintext, name: "s/packs/00/p1")
            #expect(try envelope.open(sealed, name: "s/packs/00/p1") == plaintext)
            for _ in 0..<2000 {
                let damaged = mutator.mutate(sealed)
                do {
                    let opened = try envelope.open(damaged, name: "s/packs/00/p1")
                    #expect(damaged == sealed && opened == plaintext, "a damaged object opened")
                } catch let error as FormatError {
                    #expect(error.message.contains("s/packs/00/p1"), "\(error.message)")
                } catch {
                    Issue.record("not a FormatError: \(error)")
                }
            }
        }
    }

    @Test("manifest heads and chunks, sealed as they would be read: decoded and validated, or refused by name")
    func manifests() async throws {
        let root = NSTemporaryDirectory() + "vault-fuzz-manifest-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let repository = try await Repository.create(storage: PosixStorage(root: root), secret: nil, compressionLevel: 1)
        let manifest = Self.manifest(id: "20261202T000000Z-F")
        try await repository.writeManifest(manifest, chunkPieces: 4)
        let headName = BackupManifest.objectName(shard: "s", id: manifest.id)
        let chunkName = ManifestStore.chunkName(shard: "s", id: manifest.id, index: 0)
        let head = try #require(try await repository.read(headName))
        let chunk = try #require(try await repository.read(chunkName))
        let decodedHead = try JSONCoding.decode(BackupHead.self, from: head, what: headName)
        var mutator = Mutator(seed: 12)
        var refused = 0

        /// Reads the whole manifest as restore would: a result must validate.
        func read() async {
            do {
                guard let m = try await repository.manifest(shard: "s", id: manifest.id) else { return }
                try m.validate()
            } catch let error as FormatError {
                #expect(error.message.contains(manifest.id) || error.message.contains("s/"), "\(error.message)")
                refused += 1
            } catch let error as CodingError {
                #expect("\(error)".contains("s/"), "\(error)")
                refused += 1
            } catch {
                Issue.record("unexpected error type: \(error)")
            }
        }
        for _ in 0..<400 {
            try await repository.write(headName, mutator.mutate(head))
            await read()
        }
        // A damaged chunk under a head that records its new SHA-256, so the decoder sees it.
        for _ in 0..<400 {
            let damaged = mutator.mutate(chunk)
            var sealedHead = decodedHead
            sealedHead.chunks?[0].sha256 = Hex.encode(try SHA256.hash(damaged))
            try await repository.write(headName, try JSONCoding.encode(sealedHead))
            try await repository.write(chunkName, damaged)
            await read()
        }
        #expect(refused > 600, "refused \(refused) of 800")
    }

    @Test("pg_control and WAL page headers: any bytes give a value or nil")
    func postgresFiles() {
        var control = [UInt8](repeating: 0, count: 8192)
        for i in 0..<512 { control[i] = UInt8(truncatingIfNeeded: i &* 31) }
        var page = [UInt8](repeating: 0, count: 40)
        page[0] = 0x10; page[1] = 0xD1; page[2] = 2
        var mutator = Mutator(seed: 13)
        for _ in 0..<3000 {
            if let parsed = ControlFile(bytes: mutator.mutate(control)) { _ = (parsed.state, parsed.checkpoint, parsed.timeline) }
            _ = WALLongPageHeader(mutator.mutate(page))
        }
    }

    /// A small valid manifest of eight files over three packs.
    static func manifest(id: String) -> BackupManifest {
        var extents: [BackupManifest.Extent] = []
        var files: [BackupManifest.File] = []
        for i in 0..<8 {
            extents.append(.init(pack: "s/packs/0\(i % 3)/p\(i % 3)", offset: Int64(i) * 100, storedLength: 90, rawLength: 8192, sha256: String(repeating: "b", count: 64)))
            files.append(.init(path: "base/5/\(16384 + i)", size: 8192, mode: 0o600, mtime: Int64(i),
                               pieces: [.init(fileOffset: 0, length: 8192, extent: i, extentOffset: 0)]))
        }
        return BackupManifest(id: id, kind: .full, shard: "s", systemIdentifier: "1", versionNumber: 170000, node: "n",
                              startTime: "t0", stopTime: "t1", startEpoch: 1, startLSN: LSN(0x100), stopLSN: LSN(0x200), timeline: 1,
                              walStart: "000000010000000000000001", walStop: "000000010000000000000001", walComplete: true,
                              backupLabel: "label", tablespaces: [.init(oid: "16400", location: "/srv/ts")],
                              directories: [.init(path: "base", mode: 0o700)], files: files, extents: extents,
                              stats: .init(databaseBytes: 1, bytesRead: 1, bytesStoredNew: 1, bytesReferenced: 0, files: 8, seconds: 1))
    }
}
