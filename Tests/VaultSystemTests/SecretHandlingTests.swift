import Foundation
import Testing
import VaultSystem

@Suite("file protection and child environments")
struct SecretHandlingTests {
    @Test("a file others could change is refused, a passphrase file others could read too, each with the chmod that fixes it")
    func protection() {
        #expect(FileProtection.writableByOwnerOnly.problem(mode: 0o644, path: "/p") == nil)
        #expect(FileProtection.writableByOwnerOnly.problem(mode: 0o100600, path: "/p") == nil)
        #expect(FileProtection.writableByOwnerOnly.problem(mode: 0o664, path: "/p") == "/p is writable by its group (mode 0664); run: chmod go-w /p")
        #expect(FileProtection.writableByOwnerOnly.problem(mode: 0o646, path: "/p") == "/p is writable by others (mode 0646); run: chmod go-w /p")
        #expect(FileProtection.privateToOwner.problem(mode: 0o600, path: "/k") == nil)
        #expect(FileProtection.privateToOwner.problem(mode: 0o400, path: "/k") == nil)
        #expect(FileProtection.privateToOwner.problem(mode: 0o644, path: "/k") == "/k can be read or written by its group and others (mode 0644); run: chmod 600 /k")
        #expect(FileProtection.privateToOwner.problem(mode: 0o604, path: "/k") == "/k can be read or written by others (mode 0604); run: chmod 600 /k")
    }

    @Test("reading a protected file checks the open file's mode before reading it")
    func protectedRead() throws {
        let path = NSTemporaryDirectory() + "vault-protected-\(UUID().uuidString)"
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        chmod(path, 0o640)
        #expect(throws: SystemError.self) { try FileIO.read(path, protection: .privateToOwner) }
        #expect(try FileIO.read(path, protection: .writableByOwnerOnly) == Array("secret\n".utf8))
        chmod(path, 0o600)
        #expect(try FileIO.read(path, protection: .privateToOwner) == Array("secret\n".utf8))
    }

    @Test("children get the environment without S3 credentials and withheld variables, unless they run vault")
    func environment() {
        ChildEnvironment.withhold("VAULT_TEST_WITHHELD")
        let env = ["PATH": "/bin", "AWS_SECRET_ACCESS_KEY": "s", "AWS_ACCESS_KEY_ID": "i", "AWS_SESSION_TOKEN": "t", "VAULT_TEST_WITHHELD": "p", "PGPASSWORD": "pg"]
        #expect(Set(ChildEnvironment.strings(.withheld, from: env)) == ["PATH=/bin", "PGPASSWORD=pg"])
        #expect(ChildEnvironment.strings(.passed, from: env).count == env.count)
    }
}
