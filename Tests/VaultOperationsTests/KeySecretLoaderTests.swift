import Foundation
import Testing
@testable import VaultCrypto
@testable import VaultFormat
@testable import VaultOperations

@Suite("key files: 32 random bytes, raw, base64 or hex")
struct KeySecretLoaderTests {
    static func file(_ bytes: [UInt8], mode: mode_t = 0o600) throws -> String {
        let path = NSTemporaryDirectory() + "vault-key-\(UUID().uuidString)"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        chmod(path, mode)
        return path
    }

    @Test("the same 32 bytes whichever way they are written; anything else is refused with how to make one")
    func forms() throws {
        let key = (0..<32).map { UInt8($0 * 7 % 256) }
        let hex = key.map { String(format: "%02x", $0) }.joined()
        for form in [key, Array((Data(key).base64EncodedString() + "\n").utf8), Array((hex + "\n").utf8), Array(hex.uppercased().utf8)] {
            let path = try Self.file(form)
            defer { unlink(path) }
            let material = try KeySecretLoader.keyMaterial(path, setting: "encryption.key_file")
            #expect(material.withBytes { Array($0) } == key, "\(String(decoding: form, as: UTF8.self))")
        }
        for wrong in [Array(key.prefix(16)), key + [1], Array(Data(key.prefix(24)).base64EncodedString().utf8), Array("not a key at all".utf8),
                      Array("thirty-two typed characters here".utf8)] {
            let path = try Self.file(wrong)
            defer { unlink(path) }
            let error = #expect(throws: OperationError.self) { try KeySecretLoader.keyMaterial(path, setting: "encryption.key_file") }
            #expect(error?.message == "\(path) (encryption.key_file) must hold exactly 32 random bytes, raw or as base64 or hex text; make one with `openssl rand 32 > \(path)`")
        }
    }

    @Test("a key file others can read is refused, naming the fix")
    func readableByOthers() throws {
        let path = try Self.file(Array(repeating: 9, count: 32), mode: 0o644)
        defer { unlink(path) }
        let error = #expect(throws: OperationError.self) { _ = try KeySecretLoader.load(.keyFile(path)) }
        #expect(error?.message.contains("chmod 600 \(path)") == true, "\(String(describing: error))")
    }
}
