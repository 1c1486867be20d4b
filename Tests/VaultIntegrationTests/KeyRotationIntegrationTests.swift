import Foundation
import Testing

@Suite("key rotation against real PostgreSQL")
struct KeyRotationIntegrationTests {
    /// Every file of the repository with its bytes, but for the audit trail's records.
    static func snapshot(_ root: String) -> [String: Data] {
        var out: [String: Data] = [:]
        let walker = FileManager.default.enumerator(atPath: root)
        while let relative = walker?.nextObject() as? String {
            if relative.hasPrefix("_fleet/audit/") { continue }
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
        // The archiver pushes the backup's history file on its own time; a stopped server has
        // archived everything, so nothing but the rotation can change the repository below.
        server.stop()

        let same = try f.vault(["key", "rotate", "--new-passphrase-file", f.passphraseFile])
        #expect(same.status == 2 && same.stderr.contains("is the one the repository already has"), "\(same.stderr)")

        let before = Self.snapshot(f.repositoryPath)
        let newFile = try f.dir.write("new-passphrase", "a brand new passphrase 9f8e7d6c5b4a\n")
        let rotated = try f.vault(["key", "rotate", "--new-passphrase-file", newFile])
        #expect(rotated.status == 0 && rotated.stderr.isEmpty, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("no object was rewritten"), "\(rotated.stdout)")
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
        // The rotation is in the audit trail, written with the repository it had open.
        let audit = try f.vault(["audit", "--json"])
        #expect(audit.stdout.contains("key rotate --new-passphrase-file") && audit.stdout.contains("succeeded"), "\(audit.stdout)")
        let copy = try await f.restoreAndRecover("restored", version: .v15, ["--immediate"])
        #expect(try copy.sql("SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t") == digest)
    }

    @Test("key new: later backups and WAL name the new key, both backups restore exactly, status counts encryptions per key; a key file (HKDF) replaces the passphrase")
    func newDataKey() async throws {
        let f = try VaultFixture("key-new")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        _ = try server.sql("CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 5000) g")
        let firstDigest = try server.sql("SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)

        let started = try f.vault(["key", "new", "--json"])
        #expect(started.status == 0, "\(started.stderr)")
        let newKey = try #require(try JSONSerialization.jsonObject(with: Data(started.stdout.utf8)) as? [String: Any])
        let newId = try #require(newKey["keyId"] as? String)
        #expect(newKey["generation"] as? Int == 2)

        _ = try server.sql("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(5001, 9000) g")
        _ = try server.sql("SELECT pg_switch_wal()")
        let secondDigest = try server.sql("SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t")
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)

        // Every object of the second backup, and its WAL, names the new key in its header.
        let ids = try f.vault(["list", "--json"]).stdout
        let backups = try #require(try JSONSerialization.jsonObject(with: Data(ids.utf8)) as? [[String: Any]]).compactMap { $0["id"] as? String }
        #expect(backups.count == 2)
        func keyOf(_ object: String) throws -> String {
            let bytes = try #require(FileManager.default.contents(atPath: f.repositoryPath + "/" + object))
            return bytes.count > 16 ? bytes[8..<16].map { String(format: "%02x", $0) }.joined() : "short"
        }
        let all = try FileManager.default.subpathsOfDirectory(atPath: f.repositoryPath)
        let ofSecond = all.filter { $0.contains(backups[1]) && $0.hasSuffix(".manifest") }
        #expect(ofSecond.count == 1)
        for object in ofSecond { #expect(try keyOf(object) == newId, "\(object)") }
        let repository = try await f.openRepository()
        let secondPacks = try #require(try await repository.backups(shard: "main").last?.packs)
        #expect(!secondPacks.isEmpty)
        for pack in secondPacks { #expect(try keyOf(pack) == newId, "\(pack)") }
        let firstManifest = try #require(all.first { $0.contains(backups[0]) && $0.hasSuffix(".manifest") })
        #expect(try keyOf(firstManifest) != newId, "the first backup keeps the root key")
        let newestWAL = try #require(all.filter { $0.hasPrefix("main/wal/00000001/") && $0.count == "main/wal/00000001/".count + 24 }.max())
        #expect(try keyOf(newestWAL) == newId, "WAL archived after the new key: \(newestWAL)")

        let status = try f.vault(["status", "--json"])
        let shards = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]])
        let keys = try #require(shards.first?["keys"] as? [[String: Any]])
        #expect(keys.count == 2 && keys[1]["current"] as? Bool == true && keys[1]["keyId"] as? String == newId)
        #expect(keys.allSatisfy { ($0["encryptions"] as? Int ?? 0) > 0 && $0["limit"] as? Int == 1 << 32 }, "\(keys)")
        let text = try f.vault(["status"]).stdout
        #expect(text.contains("key 2 \(newId) (current): about ") && text.contains("of the 2^32 limit"), "\(text)")

        // The newest key's record lost: the repository still opens, but the audit trail
        // (sealed with the root key) knows the key sealed objects, and key list names it.
        let record = f.repositoryPath + "/keys/later/000002.json"
        try FileManager.default.moveItem(atPath: record, toPath: record + ".away")
        let lost = try f.vault(["key", "list"])
        #expect(lost.status != 0 && lost.stdout.contains("KEY MISSING: \(newId)") && lost.stderr.contains(newId), "\(lost.stdout)\(lost.stderr)")
        // status reads the newest backup's head, sealed with that key: it fails naming it.
        let blind = try f.vault(["status"])
        #expect(blind.status != 0 && blind.stderr.contains("encrypted with key \(newId), which this repository does not hold"), "\(blind.stderr)")
        try FileManager.default.moveItem(atPath: record + ".away", toPath: record)
        #expect(try f.vault(["key", "list"]).status == 0)

        // The passphrase gives way to a key file of 32 random bytes.
        // As `openssl rand -base64 32` writes it; a short one is refused.
        let short = try f.dir.write("short.key", Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString() + "\n")
        let refused = try f.vault(["key", "rotate", "--new-key-file", short])
        #expect(refused.status == 4 && refused.stderr.contains("must hold exactly 32 random bytes"), "\(refused.stderr)")
        let keyFile = try f.dir.write("repository.key", Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString() + "\n")
        #expect(try f.vault(["key", "rotate", "--new-key-file", keyFile]).status == 0)
        let policy = try String(contentsOfFile: f.policyFile, encoding: .utf8)
            .replacingOccurrences(of: "passphrase_file: \(f.passphraseFile)", with: "key_file: \(keyFile)")
        try policy.write(toFile: f.policyFile, atomically: true, encoding: .utf8)
        #expect(try f.vault(["list"]).status == 0)

        let second = try await f.restoreAndRecover("second", version: .v15, ["--immediate"])
        #expect(try second.sql("SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t") == secondDigest)
        let first = try await f.restoreAndRecover("first", version: .v15, ["--immediate", "--backup", backups[0]])
        #expect(try first.sql("SELECT md5(string_agg(id || v, ',' ORDER BY id)) FROM t") == firstDigest)
    }
}
