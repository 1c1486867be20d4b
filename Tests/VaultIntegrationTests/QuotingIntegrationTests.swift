import Foundation
import Testing

/// What vault writes into PostgreSQL's configuration survives paths and names with spaces,
/// quotes, `$`, backticks, backslashes and `%`: the shell, PostgreSQL's `%` placeholders and
/// the configuration file's own quoting each read back exactly what was meant.
@Suite("quoting of paths and names against real PostgreSQL")
struct QuotingIntegrationTests {
    @Test("a restore whose policy path and restore point name hold quotes, $, backticks, \\ and %, into a directory with spaces, ' and %, reaches the point")
    func oddPathsAndNames() async throws {
        let f = try VaultFixture("quoting")
        defer { f.cleanUp() }
        let server = try f.startInitialised(.v15)
        let conn = try server.connect()
        try conn.query("CREATE TABLE t(id int PRIMARY KEY)")
        let backup = try f.vault(["backup", "--type", "full"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let point = #"p'1 \ "$HOME" `id` 50%"#
        for i in 1...5 {
            try conn.query("INSERT INTO t VALUES ($1::int)", [String(i)])
            if i == 3 { try conn.query("SELECT pg_create_restore_point($1)", [point]) }
        }
        try await waitUntilArchived(server, segment: try conn.scalar("SELECT pg_walfile_name(pg_switch_wal())"))

        // The same policy under a directory whose name the shell would expand, split or
        // substitute, and PostgreSQL would read as placeholders, if either saw it unquoted.
        let policyDir = f.dir.path + #"/pol $HOME `id` "q" \ it's 50%f"#
        try FileManager.default.createDirectory(atPath: policyDir, withIntermediateDirectories: true)
        let policy = policyDir + "/vault.yaml"
        try FileManager.default.copyItem(atPath: f.policyFile, toPath: policy)
        try TestDirectory.giveToPostgres(policyDir)
        // pg_ctl itself puts the data directory in double quotes on a shell line: no `"`, `$`,
        // backtick or `\` there, but spaces, `'` and `%`.
        let target = f.dir.path + "/it's 50% done"
        let port = PortAllocator.allocate()
        let r = try f.vault(["restore", "--target-dir", target, "--target-name", point, "--start", "--port", "\(port)"], policy: policy)
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.contains("recovery promoted in"), "\(r.stdout)")
        let settings = (try? String(contentsOfFile: target + "/postgresql.auto.conf", encoding: .utf8)) ?? ""
        #expect(settings.contains("50%%f/vault.yaml"), "a % in the policy path is doubled for PostgreSQL: \(settings)")
        let copy = try PostgresServer(adopting: target, version: .v15, in: f.dir, port: port, running: true)
        defer { copy.stop() }
        #expect(try copy.sql("SELECT count(*) FROM t") == "3", "\(settings)\n\(copy.log().suffix(1500))")
    }
}
