import Foundation
import Testing
@testable import VaultSupport
@testable import VaultCrypto
@testable import VaultStorage
@testable import VaultFormat

@Suite("data keys: a new key for new objects, old objects still readable")
struct KeyringTests {
    static let passphrase = "a passphrase of some length"

    static func secret(_ text: String = passphrase) -> KeySecret { .passphrase(Passphrase(bytes: Array(text.utf8))) }

    static func open(_ root: String, _ text: String = passphrase) async throws -> Repository {
        try await Repository.open(storage: PosixStorage(root: root), compressionLevel: 1) { secret(text) }
    }

    @Test("vault key new: later objects name the new key, earlier ones open as before, the root key's rewrap covers both, and a removed key is named")
    func newKeyForNewObjects() async throws {
        let root = NSTemporaryDirectory() + "vault-keyring-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let first = try await Repository.create(storage: PosixStorage(root: root), secret: Self.secret(), compressionLevel: 1)
        let rootId = try #require(first.envelope.key).id
        try await first.write("s/before", Array("sealed by the root key".utf8))

        let (generation, key, name) = try await first.startNewKey()
        #expect(generation == 2 && name == "keys/later/000002.json" && key.id != rootId)
        let second = try await Self.open(root)
        #expect(second.envelope.key?.id == key.id)
        try await second.write("s/after", Array("sealed by key 2".utf8))
        let stored = try #require(try await second.storage.get("s/after"))
        #expect(Array(stored[8..<16]) == key.id, "the header names the key that sealed it")
        #expect(Array(try #require(try await second.storage.get("s/before"))[8..<16]) == rootId)
        #expect(try await second.read("s/before") == Array("sealed by the root key".utf8))

        // A process that opened before the new key keeps sealing with the key it knows, and
        // its objects stay readable; a third key takes the next generation.
        try await first.write("s/late", Array("old process".utf8))
        let (third, _, _) = try await second.startNewKey()
        #expect(third == 3)

        // Rotating the passphrase rewrites only the root key's file; every key still opens.
        _ = try await second.rewrapKey(under: Self.secret("another passphrase, longer"))
        let rotated = try await Self.open(root, "another passphrase, longer")
        for object in ["s/before", "s/after", "s/late"] { #expect(try await rotated.read(object) != nil) }
        await #expect(throws: FormatError.self) { _ = try await Self.open(root) }

        // A key record removed: the gap is damage, named, not a silent "unreadable" later.
        try FileManager.default.removeItem(atPath: root + "/keys/later/000002.json")
        let gap = await #expect(throws: FormatError.self) { _ = try await Self.open(root, "another passphrase, longer") }
        #expect(gap?.kind == .corrupt && gap?.message.hasPrefix("keys/later/000002.json is missing") == true, "\(String(describing: gap))")
    }

    @Test("an object sealed under a key the repository does not hold is named with the keys it has")
    func unknownKey() throws {
        let a = try DataKey.random(), b = try DataKey.random()
        let sealed = try ObjectEnvelope(key: a, compressionLevel: 0).seal(Array("x".utf8), name: "n")
        let error = #expect(throws: FormatError.self) { try ObjectEnvelope(key: b, compressionLevel: 0).open(sealed, name: "n") }
        #expect(error?.kind == .wrongKey && error?.message.contains(a.idHex) == true && error?.message.contains(b.idHex) == true)
        #expect(try ObjectEnvelope(keyring: Keyring(root: a, later: [b]), compressionLevel: 0).open(sealed, name: "n") == Array("x".utf8))
    }

    @Test("every seal is counted under its key; an audit record carries the count, its own seal included")
    func encryptionTally() async throws {
        let root = NSTemporaryDirectory() + "vault-tally-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let repository = try await Repository.create(storage: PosixStorage(root: root), secret: Self.secret(), compressionLevel: 1)
        let id = try #require(repository.envelope.key).idHex
        _ = EncryptionTally.drain(keys: [id])
        for i in 0..<5 { try await repository.write("s/o\(i)", [UInt8(i)]) }
        var record = AuditRecord(time: "t", user: "u", host: "h", command: "c", shard: nil, outcome: "succeeded", exitCode: 0, error: nil)
        try await repository.append(&record, at: Date(), pid: 1)
        // Other suites seal in parallel in this process, under keys of their own.
        #expect((record.encryptions?[id] ?? 0) == 6)
        let stored = try await repository.auditRecords()
        #expect(stored.first?.encryptions?[id] == 6)
    }
}
