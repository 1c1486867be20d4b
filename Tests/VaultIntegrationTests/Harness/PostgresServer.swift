import Foundation
import VaultSupport
import VaultSystem
import VaultStorage
import VaultCrypto
import VaultPostgres
import VaultPolicy
import VaultFormat
import VaultOperations

/// A real PostgreSQL cluster for one test: initdb, started on its own 127.0.0.1 port as the
/// postgres user, archiving through the vault binary under test. Stopped by its own pid file.
final class PostgresServer {
    let version: PostgresVersion
    let bindir: String
    let dataDir: String
    let socketDir: String
    let port: UInt16
    let logFile: String
    private(set) var running = false

    init(version: PostgresVersion, in dir: TestDirectory, name: String = "data") throws {
        guard let bindir = version.bindir else { throw HarnessError("\(version) is not installed") }
        self.version = version
        self.bindir = bindir
        dataDir = dir.path + "/" + name
        socketDir = dir.path
        logFile = dir.path + "/\(name).log"
        port = PortAllocator.allocate()
        try ProcessRunner.check([bindir + "/initdb", "-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C", "--data-checksums"], asPostgres: true)
    }

    /// Wraps an existing data directory (a pg_basebackup copy) with a fresh port.
    init(adopting dataDir: String, version: PostgresVersion, in dir: TestDirectory, port: UInt16? = nil, running: Bool = false) throws {
        guard let bindir = version.bindir else { throw HarnessError("\(version) is not installed") }
        self.version = version
        self.bindir = bindir
        self.dataDir = dataDir
        socketDir = dir.path
        logFile = dataDir + ".log"
        self.port = port ?? PortAllocator.allocate()
        self.running = running
    }

    var conninfo: String { "host=127.0.0.1 port=\(port) user=postgres dbname=postgres" }

    /// Appends settings to postgresql.conf.
    func configure(_ lines: [String]) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: dataDir + "/postgresql.conf"))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(("\n" + lines.joined(separator: "\n") + "\n").utf8))
    }

    /// Configures listening, archiving through vault with `policy`, and WAL retention so
    /// every archived segment can still be compared with the server's own copy.
    func configureArchiving(policy: String) throws {
        try configure([
            "listen_addresses = '127.0.0.1'",
            "port = \(port)",
            "unix_socket_directories = '\(socketDir)'",
            "wal_level = replica",
            "archive_mode = on",
            "archive_command = '\(VaultBinary.path) --policy \(policy) archive-push %p'",
            "wal_keep_size = '2GB'",
            "max_wal_size = '2GB'",
            "fsync = off",
        ])
    }

    func start() throws {
        try ProcessRunner.check([bindir + "/pg_ctl", "-D", dataDir, "-l", logFile, "-w", "-t", "60", "start"], asPostgres: true)
        running = true
    }

    func stop() {
        guard running else { return }
        _ = try? ProcessRunner.run([bindir + "/pg_ctl", "-D", dataDir, "-w", "-t", "60", "-m", "fast", "stop"], asPostgres: true)
        running = false
    }

    func connect() throws -> PostgresConnection {
        try PostgresConnection(conninfo: conninfo, label: "test server")
    }

    /// Runs SQL and returns the first column of the first row.
    @discardableResult
    func sql(_ query: String) throws -> String? {
        try connect().query(query).first?.first ?? nil
    }

    func log() -> String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    deinit { stop() }
}
