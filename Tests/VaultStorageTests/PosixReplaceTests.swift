import Foundation
import Testing
@testable import VaultStorage

@Suite("directory storage: replacing an object")
struct PosixReplaceTests {
    @Test("a replaced object keeps its owner, group and mode (root rewriting a file another user owns)")
    func replaceKeepsOwner() async throws {
        let root = NSTemporaryDirectory() + "vault-replace-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let storage = PosixStorage(root: root)
        try await storage.put("keys/k.json", Array("one".utf8))
        let path = root + "/keys/k.json"
        // As root (CI), hand the file to another user first, as a repository the postgres
        // user writes would be; otherwise the mode alone is checked.
        let other: uid_t = geteuid() == 0 ? 65534 : geteuid()
        if geteuid() == 0 { #expect(chown(path, other, 65534) == 0) }
        #expect(chmod(path, 0o640) == 0)
        try await storage.put("keys/k.json", Array("two".utf8))
        var st = stat()
        #expect(stat(path, &st) == 0)
        #expect(st.st_uid == other && st.st_mode & 0o7777 == 0o640)
        #expect(try await storage.get("keys/k.json") == Array("two".utf8))

        // A symlink under the name lends nothing (lstat says 0777): the default mode, not that.
        #expect(symlink(path, root + "/keys/link.json") == 0)
        try await storage.put("keys/link.json", Array("three".utf8))
        #expect(stat(root + "/keys/link.json", &st) == 0)
        #expect(st.st_mode & S_IFMT == S_IFREG && st.st_mode & 0o777 == 0o640)
    }
}
