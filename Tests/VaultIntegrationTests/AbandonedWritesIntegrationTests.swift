import Foundation
import Testing
@testable import VaultStorage

/// What a writer killed mid-write leaves behind, never listed as an object, is found by age
/// and removed: a directory repository's temporary files, an S3 store's unfinished multipart
/// uploads.
@Suite("abandoned writes on SeaweedFS and a directory")
struct AbandonedWritesIntegrationTests {
    @Test("an unfinished multipart upload is found once older than the grace, by the store's clock, and aborted")
    func multipartUploads() async throws {
        let store = try await SeaweedFS.shared()
        let storage = try store.storage(bucket: try await store.makeBucket("abandoned"))
        let key = try storage.key("main/packs/00/killed-pack")
        let started = try await storage.client.send(.POST, key: key, query: [("uploads", "")])
        let uploadId = try #require(XMLText.value("UploadId", in: started.text), "\(started.text)")
        let part = try await storage.client.send(.PUT, key: key, query: [("partNumber", "1"), ("uploadId", uploadId)], body: Array(repeating: 7, count: 1 << 20))
        #expect(part.isSuccess)
        // Another shard's upload is not this shard's to collect.
        _ = try await storage.client.send(.POST, key: try storage.key("other/packs/00/p"), query: [("uploads", "")])

        #expect(try await storage.collectAbandonedWrites(under: "main", olderThan: 3600, dryRun: false) == 0, "younger than the grace: kept")
        #expect(try await storage.collectAbandonedWrites(under: "main", olderThan: 0, dryRun: true) == 1)
        #expect(try await storage.collectAbandonedWrites(under: "main", olderThan: 0, dryRun: false) == 1)
        #expect(try await storage.collectAbandonedWrites(under: "main", olderThan: 0, dryRun: true) == 0, "aborted")
        #expect(try await storage.collectAbandonedWrites(under: "other", olderThan: 0, dryRun: true) == 1)
        #expect(try await storage.list(prefix: "main").isEmpty, "no object appeared")
    }

    @Test("a temporary file of a killed writer is found once older than the grace and removed; the repository's objects are not touched")
    func temporaryFiles() async throws {
        let root = NSTemporaryDirectory() + "vault-abandoned-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let storage = PosixStorage(root: root)
        try await storage.put("main/packs/00/p1", [1, 2, 3])
        let old = root + "/main/packs/00/" + PosixStorage.temporaryPrefix + "1-1"
        let fresh = root + "/main/packs/00/" + PosixStorage.temporaryPrefix + "1-2"
        for path in [old, fresh] { FileManager.default.createFile(atPath: path, contents: Data([9])) }
        var times = [timeval(tv_sec: time(nil) - 2 * 86_400, tv_usec: 0), timeval(tv_sec: time(nil) - 2 * 86_400, tv_usec: 0)]
        utimes(old, &times)
        #expect(try await storage.list(prefix: "main") == ["main/packs/00/p1"], "temporary files are never listed")
        #expect(try await storage.collectAbandonedWrites(under: "main", olderThan: 86_400, dryRun: true) == 1)
        #expect(FileManager.default.fileExists(atPath: old), "a dry run removes nothing")
        #expect(try await storage.collectAbandonedWrites(under: "main", olderThan: 86_400, dryRun: false) == 1)
        #expect(!FileManager.default.fileExists(atPath: old) && FileManager.default.fileExists(atPath: fresh))
        #expect(try await storage.collectAbandonedWrites(under: "main", olderThan: 0, dryRun: false) == 1)
        #expect(try await storage.get("main/packs/00/p1") == [1, 2, 3])
    }
}
