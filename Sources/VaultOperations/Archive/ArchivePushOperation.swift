#if canImport(Glibc)
import Glibc
#endif
import Foundation
import VaultSystem
import VaultCompression
import VaultPostgres
import VaultPolicy
import VaultFormat

/// `vault archive-push %p`: PostgreSQL's archive_command. Exits 0 only once the file is
/// durable in the repository.
///
/// With `archive.push_ahead: N`, a background `PushWorker` pushes the oldest `.ready` segments
/// (up to N ahead) in parallel and leaves a marker for each once it is durable; this call then
/// answers from its segment's marker, waiting for the worker if it is on it. A segment the
/// worker could not push, or any call when no worker can help, takes the normal path below.
public struct ArchivePushOperation {
    public let policy: Policy
    public let shard: ShardPolicy

    public init(policy: Policy, shard: ShardPolicy) {
        self.policy = policy
        self.shard = shard
    }

    public struct Result: Sendable {
        public var file: String
        public var bytes: Int
        public var outcome: WALArchive.PushOutcome
        /// Whether the background worker had pushed this segment.
        public var fromSpool: Bool
    }

    /// How long a call waits for the worker before pushing its segment itself (a worker stuck
    /// on a hung store or passphrase command must not hold PostgreSQL's archiver for long).
    static let workerWait: Duration = .seconds(60)

    /// Pushes the file at `path` (relative to the data directory, as PostgreSQL passes `%p`).
    public func run(path: String) async throws -> Result {
        let baseName = String(path.split(separator: "/").last ?? "")
        guard let file = WALFileName(baseName) else {
            throw OperationError(.usage, "'\(baseName)' is not a WAL segment, history or backup file name")
        }
        let walDir = FileIO.parentDirectory(of: path)
        let markers = markers(walDirectory: walDir)
        if policy.archive.pushAhead > 0, file.kind == .segment, FileIO.exists(walDir + "/archive_status/" + file.text + ".ready") {
            let worker = PushWorker(policy: policy, shard: shard, walDirectory: walDir, markers: markers)
            if !markers.matches(file.text, path: path) && !markers.hasFailed(file.text) { worker.start() }
            if worker.waitFor(file.text, path: path, timeout: Self.workerWait) {
                markers.spool.remove(file.text)
                markers.spool.removeOlder(than: file.text)
                var st = stat()
                return Result(file: file.text, bytes: stat(path, &st) == 0 ? Int(st.st_size) : 0, outcome: .alreadyArchived, fromSpool: true)
            }
            markers.clearFailure(file.text)
            markers.spool.remove(file.text) // one that did not match: this call pushes instead
        }
        let contents = try FileIO.read(path)
        let level = policy.walCompressionLevel
        // Compression is most of the work: start it at once, on both cores, while the
        // repository is opened and the key derived.
        let compressing = Task(executorPreference: BlockingExecutor.shared) { () throws -> ObjectEnvelope.PreparedBody in
            try ObjectEnvelope.prepare(contents, level: level, compressor: ZstdCompressor(level: level, workers: contents.count >= 4 << 20 ? 2 : 0))
        }
        let archive: WALArchive
        do {
            let repository = try await RepositoryOpener.open(policy)
            archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name), compressionLevel: level)
        } catch {
            compressing.cancel()
            throw error
        }
        let outcome = try await archive.push(file, contents: contents, prepared: try await compressing.value)
        markers.spool.removeOlder(than: file.text)
        return Result(file: file.text, bytes: contents.count, outcome: outcome, fromSpool: false)
    }

    /// The WAL files PostgreSQL has marked ready in `walDir` and not yet archived, in name
    /// order (none when there is no `archive_status`).
    static func readyFiles(in walDir: String) -> [WALFileName] {
        ((try? FileIO.list(walDir + "/archive_status")) ?? [])
            .filter { $0.hasSuffix(".ready") }
            .compactMap { WALFileName(String($0.dropLast(".ready".count))) }
            .sorted { $0.text < $1.text }
    }

    /// The worker's job (`archive-push --worker <pg_wal>`).
    public func runWorker(walDirectory: String) async throws -> Int {
        try await PushWorker(policy: policy, shard: shard, walDirectory: walDirectory, markers: markers(walDirectory: walDirectory)).run()
    }

    /// The spool's markers for pushes to this repository and shard. A spool set in the policy
    /// is shared by every shard on the host, so each shard gets a directory of its own there
    /// (segment names repeat across clusters, and one worker serves one pg_wal).
    private func markers(walDirectory: String) -> SpoolMarkers {
        SpoolMarkers(spool: SpoolDirectory(policy.archive.spool.map { $0 + "/" + shard.name } ?? walDirectory + "/vault_spool"),
                     scope: "repository \(policy.repository.identity), shard \(shard.name)")
    }
}
