import Foundation
import Testing
@testable import VaultOperations

@Suite("restore_command and recovery settings quoting")
struct RestoreCommandQuotingTests {
    /// What the shell hands vault for `word` once PostgreSQL has replaced `%%` with `%`.
    static func shellReads(_ word: String) throws -> String {
        let out = FileManager.default.temporaryDirectory.path + "/vault-quoting-\(UUID().uuidString)"
        defer { unlink(out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "printf '%s' " + word.replacingOccurrences(of: "%%", with: "%") + " > '\(out)'"]
        try process.run()
        process.waitUntilExit()
        return try String(contentsOfFile: out, encoding: .utf8)
    }

    @Test("each path is one shell word that reads back exactly, with % doubled for PostgreSQL")
    func commandWords() throws {
        #expect(RecoverySettings.commandWord("/usr/local/bin/vault") == "/usr/local/bin/vault")
        for path in [#"/srv/it's $HOME `id` "q" \ 50%f/vault.yaml"#, "/a b/c", "/x'y", "/p%%q", "-", "$(id)", "/naïve"] {
            let word = RecoverySettings.commandWord(path)
            #expect(try Self.shellReads(word) == path, "\(word)")
            #expect(!word.replacingOccurrences(of: "%%", with: "").contains("%"), "every % doubled: \(word)")
        }
        let command = RecoverySettings.restoreCommand(vaultPath: "/usr/bin/vault", policyPath: "/etc/it's 50%/vault.yaml", shard: "main")
        #expect(command == #"/usr/bin/vault --policy '/etc/it'\''s 50%%/vault.yaml' --shard main archive-get %f %p"#)
    }

    @Test("configuration values double ' and escape \\; SQL literals are escape strings, read alike whatever standard_conforming_strings says")
    func configValues() {
        #expect(ConfigValue.quoted(#"a'b\c"#) == #"'a''b\\c'"#)
        #expect(ConfigValue.sqlLiteral(#"a'b\c"#) == #"E'a''b\\c'"#)
        #expect(RecoveryTarget.name(#"p'1 \ x"#).settings == [#"recovery_target_name = 'p''1 \\ x'"#])
    }
}
