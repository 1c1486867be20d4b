import Foundation
import Testing

/// Every connection vault makes to a node goes through libpq with the node's conninfo, so
/// `sslmode=verify-full` and `sslrootcert` hold for all of them; `require_tls: true` refuses a
/// policy whose connections could go without TLS.
@Suite("TLS to PostgreSQL against a real server")
struct TLSIntegrationTests {
    /// A self-signed certificate for 127.0.0.1 and its key, owned by postgres.
    static func certificate(_ f: VaultFixture, name: String) throws -> (cert: String, key: String) {
        let cert = f.dir.path + "/\(name).crt", key = f.dir.path + "/\(name).key"
        try ProcessRunner.check(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                                 "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert])
        chmod(key, 0o600)
        try TestDirectory.giveToPostgres(cert)
        try TestDirectory.giveToPostgres(key)
        return (cert, key)
    }

    @Test("a server that takes only TLS, with a self-signed certificate: init, backup, check, status and a standby restore work with sslmode=verify-full; the wrong root certificate is refused")
    func verifyFull() async throws {
        let f = try VaultFixture("tls")
        defer { f.cleanUp() }
        let server = try f.startServer(.v15)
        let (cert, key) = try Self.certificate(f, name: "server")
        let (otherCert, _) = try Self.certificate(f, name: "other")
        try server.configure(["ssl = on", "ssl_cert_file = '\(cert)'", "ssl_key_file = '\(key)'"])
        // Over TCP only TLS is let in: a connection that did not use TLS would be refused.
        try Data("local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl replication all 127.0.0.1/32 trust\n".utf8)
            .write(to: URL(fileURLWithPath: server.dataDir + "/pg_hba.conf"))
        try TestDirectory.giveToPostgres(server.dataDir + "/pg_hba.conf")
        @discardableResult func policy(rootCert: String, sslmode: String = "verify-full", file: String = "vault.yaml") throws -> String {
            try f.dir.write(file, """
                version: 1
                require_tls: true
                repository: {path: \(f.repositoryPath)}
                encryption: {passphrase_file: \(f.passphraseFile)}
                shards:
                  - name: main
                    bindir: \(server.bindir)
                    nodes:
                      - {name: primary, conninfo: "host=127.0.0.1 port=\(server.port) user=postgres dbname=postgres sslmode=\(sslmode) sslrootcert=\(rootCert)"}

                """, mode: 0o644)
        }
        try policy(rootCert: cert)
        try server.start()
        try f.initRepository()
        _ = try server.sql("CREATE TABLE t AS SELECT generate_series(1, 1000) AS id")
        let backup = try f.vault(["backup", "--type", "full"])
        #expect(backup.status == 0, "\(backup.stderr)")
        let check = try f.vault(["check"])
        #expect(check.status == 0, "\(check.stderr)")
        let status = try f.vault(["status"])
        #expect(status.status == 0, "\(status.stderr)")
        // A standby restored from the backup streams from the primary with the node's conninfo.
        let port = PortAllocator.allocate()
        let standbyDir = f.dir.path + "/standby"
        let standby = try f.vault(["restore", "--target-dir", standbyDir, "--standby", "--start", "--port", "\(port)"])
        #expect(standby.status == 0, "\(standby.stdout)\(standby.stderr)")
        let copy = try PostgresServer(adopting: standbyDir, version: .v15, in: f.dir, port: port, running: true)
        defer { copy.stop() }
        let settings = (try? String(contentsOfFile: standbyDir + "/postgresql.auto.conf", encoding: .utf8)) ?? ""
        #expect(settings.contains("sslmode='verify-full'") || settings.contains("sslmode=verify-full"), "\(settings)")
        var streaming = false
        for _ in 0..<100 where !streaming {
            streaming = try server.sql("SELECT count(*) FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) WHERE s.ssl") == "1"
            if !streaming { try await Task.sleep(nanoseconds: 100_000_000) }
        }
        #expect(streaming, "the standby streams over TLS")

        // Another root certificate: the server's certificate does not verify, before any work.
        try policy(rootCert: otherCert, file: "other.yaml")
        let refused = try f.vault(["check"], policy: f.dir.path + "/other.yaml")
        #expect(refused.status == 7 && refused.stderr.contains("certificate verify failed"), "\(refused.stderr)")
        // require_tls: a conninfo that could go without TLS is a policy error naming the line.
        try policy(rootCert: cert, sslmode: "prefer", file: "prefer.yaml")
        let prefer = try f.vault(["check"], policy: f.dir.path + "/prefer.yaml")
        #expect(prefer.status == 3 && prefer.stderr.contains("prefer.yaml:9: node primary: conninfo has sslmode=prefer"), "\(prefer.stderr)")
    }
}
