import Foundation
import Testing

@Suite("key rotation against real PostgreSQL")
struct KeyRotationIntegrationTests {
    /// Every file of the repository with its bytes.
    static func snapshot(_ root: String) -> [String: Data] {
        var out: [String: Data] = [:]
        let walker = FileManager.default.enumerator(atPath: root)
        while let relative = walker?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                out[relative] = FileManager.default.contents(atPath: root + "/" + relative)
            }
        }
        return out
    }

    @Test("key rotate rewrites only the key file: the old passphrase stops working, the new one opens the repository and restores its backup exactly")
    func rotate() async throws {
        let f = try VaultFixture("key-rotate")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        _ = try server.sql("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g")
        let digest = try server.sql("SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)

        let same = try f.vault(["key", "rotate", "--new-passphrase-file", f.passphraseFile])
        #expect(same.status == 2 && same.stderr.contains("is the one the repository already has"), "\(same.stderr)")

        let before = Self.snapshot(f.repositoryPath)
        let newFile = try f.dir.write("new-passphrase", "a brand new passphrase 9f8e7d6c5b4a\n")
        let rotated = try f.vault(["key", "rotate", "--new-passphrase-file", newFile])
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("nothing else changed"), "\(rotated.stdout)")
        let after = Self.snapshot(f.repositoryPath)
        #expect(Set(before.keys) == Set(after.keys), "no object added or removed")
        let changed = after.keys.filter { before[$0] != after[$0] }
        #expect(changed.count == 1 && changed.first?.hasPrefix("keys/") == true, "only the key file changed: \(changed)")
        let keyFile = try #require(changed.first.flatMap { after[$0] })
        let parsed = try #require(try JSONSerialization.jsonObject(with: keyFile) as? [String: Any])
        #expect((parsed["scrypt"] as? [String: Any])?["n"] as? Int == 32768)

        let old = try f.vault(["list"])
        #expect(old.status == 4 && old.stderr.contains("wrong passphrase"), "\(old.stderr)")
        try f.writePolicy(server: server, passphraseFile: newFile)
        #expect(try f.vault(["list"]).status == 0)
        let copy = try await f.restoreAndRecover("restored", version: .v15, ["--immediate"])
        #expect(try copy.sql("SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t") == digest)
    }
}
