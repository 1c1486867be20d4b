import Foundation
import Testing

@Suite("audit trail against real PostgreSQL")
struct AuditIntegrationTests {
    @Test("state-changing commands append authenticated records (user, host, command, shard, outcome); read-only ones do not; an edited record is named")
    func trail() async throws {
        let f = try VaultFixture("audit")
        defer { f.cleanUp() }
        _ = try f.startInitialised(.v15)
        #expect(try f.vault(["backup", "--type", "full"]).status == 0)
        #expect(try f.vault(["list"]).status == 0)
        let occupied = try f.dir.write("occupied", "x")
        let failed = try f.vault(["restore", "--target-dir", f.dir.path])
        #expect(failed.status != 0, "\(failed.stderr)")
        #expect(try f.vault(["expire", "--dry-run"]).status == 0)
        _ = occupied

        let out = try f.vault(["audit", "--json"])
        #expect(out.status == 0, "\(out.stderr)")
        let records = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]])
        let commands = records.map { ($0["command"] as? String ?? "").split(separator: " ").dropFirst(3).first.map(String.init) ?? "" }
        #expect(commands == ["init", "backup", "restore", "expire"], "\(records)")
        #expect(records.allSatisfy { $0["user"] as? String == "postgres" && $0["shard"] as? String == "main" && $0["host"] as? String == ProcessInfo.processInfo.hostName })
        #expect(records.map { $0["outcome"] as? String } == ["succeeded", "succeeded", "failed", "succeeded"])
        #expect(records[2]["exitCode"] as? Int == Int(failed.status) && (records[2]["error"] as? String)?.isEmpty == false)

        let text = try f.vault(["audit"])
        #expect(text.stdout.contains("postgres@") && text.stdout.contains("backup --type full  succeeded"), "\(text.stdout)")
        #expect(try f.vault(["audit", "--since", "2999-01-01"]).stdout.contains("no audit records"))
        #expect(try f.vault(["audit", "--since", "yesterday"]).status == 2)

        // An edited record fails to open and is named.
        let directory = f.repositoryPath + "/_fleet/audit"
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: directory).sorted().first)
        var bytes = try #require(FileManager.default.contents(atPath: directory + "/" + name))
        bytes[bytes.count - 20] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: directory + "/" + name))
        let edited = try f.vault(["audit"])
        #expect(edited.status == 5 && edited.stderr.contains(name), "\(edited.stderr)")
    }
}
