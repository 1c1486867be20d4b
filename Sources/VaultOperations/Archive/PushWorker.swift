import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import VaultSystem
import VaultPolicy
import VaultPostgres
import VaultFormat

/// The background half of `archive.push_ahead`: one process per spool that pushes the oldest
/// `.ready` segments, at most `push_ahead` of them ahead, with one task per core, and leaves a
/// marker for each once it is durable in the repository.
///
/// PostgreSQL's archiver runs `archive_command` for one segment at a time and waits for it.
/// With the worker, those calls find their segment pushed (or wait for it) instead of
/// compressing it themselves, so both cores compress while the archiver moves on; the worker
/// opens the repository and derives the key once, not once per segment. It is started
/// detached by `archive-push` (its own session, output to /dev/null) and exits after a few
/// seconds with nothing to push. Its failures are not reported by it: the segment gets a
/// `.failed` marker and PostgreSQL's own call pushes it in the foreground and says why.
struct PushWorker {
    let policy: Policy
    let shard: ShardPolicy
    let walDirectory: String
    let markers: SpoolMarkers

    /// How long the worker lingers with nothing to push before it exits.
    static let idleExit: Duration = .seconds(3)

    var lock: SpoolLock { SpoolLock(spool: markers.spool) }

    /// Starts `vault archive-push --worker <pg_wal>` detached, unless one runs.
    func start() {
        lock.startWorker([RestoreOperation.executablePath(), "--policy", policy.sourcePath, "--shard", shard.name,
                          "--log-level", "error", "archive-push", "--worker", walDirectory])
    }

    /// Waits while the worker runs and has neither pushed nor given up on `name`; true once a
    /// marker says it pushed the very file at `path`. A marker that names another file (or
    /// repository) ends the wait at once: the worker counts the segment as done and would not
    /// push it again.
    func waitFor(_ name: String, path: String, timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !markers.matches(name, path: path) {
            if markers.spool.has(name) || markers.hasFailed(name) || !lock.isHeld || ContinuousClock.now >= deadline {
                return markers.matches(name, path: path)
            }
            usleep(2_000)
        }
        return true
    }

    /// In the worker process: pushes until nothing is left to push for `idleExit`; returns how
    /// many segments it pushed.
    func run() async throws -> Int {
        guard let fd = lock.acquireAsWorker() else { return 0 }
        defer { lock.unlock(fd) }
        let repository = try await RepositoryOpener.open(policy)
        let archive = WALArchive(repository: repository, record: try await repository.shardRecord(shard.name),
                                 compressionLevel: policy.walCompressionLevel)
        // What the repository was when the worker opened it: checked again before every marker,
        // so a worker that outlives its repository (a volume unmounted, a repository deleted
        // and initialised again at the same place) never vouches for a segment. The pushes it
        // made there meanwhile are answered by the foreground's own push, which fails loudly.
        let repositoryConfig = try await repository.storage.get(RepositoryConfig.objectName)
        let ahead = max(1, policy.archive.pushAhead)
        let taken = TakenSegments()
        // Two tasks per core: while one waits for its segment's fsyncs (or an S3 PUT), another
        // compresses. With one per core, the cores idled through every durability wait.
        let tasks = min(ahead, 2 * max(2, ProcessInfo.processInfo.activeProcessorCount))
        return await withTaskGroup(of: Int.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var pushed = 0
                    var lastWork = ContinuousClock.now
                    while true {
                        guard let name = takeNext(taken, ahead: ahead) else {
                            if ContinuousClock.now - lastWork > Self.idleExit { return pushed }
                            try? await Task.sleep(for: .milliseconds(10))
                            continue
                        }
                        switch await push(name, to: archive, repositoryConfig: repositoryConfig) {
                        case .pushed: pushed += 1
                        case .failed: markers.recordFailure(name)
                        case .repositoryChanged: return pushed
                        }
                        lastWork = ContinuousClock.now
                    }
                }
            }
            return await group.reduce(0, +)
        }
    }

    /// The oldest of the first `ahead` ready segments that no task has taken and that has no
    /// marker yet.
    private func takeNext(_ taken: TakenSegments, ahead: Int) -> String? {
        let ready = ArchivePushOperation.readyFiles(in: walDirectory).filter { $0.kind == .segment }.map(\.text)
        return taken.take(from: ready, ahead: ahead) { !markers.spool.has($0) && !markers.hasFailed($0) }
    }

    /// Segments taken by a task, kept while PostgreSQL still lists them as ready, so none is
    /// pushed twice between its marker being consumed and PostgreSQL marking it done.
    private final class TakenSegments: Sendable {
        private let names = Mutex<Set<String>>([])

        func take(from ready: [String], ahead: Int, where eligible: (String) -> Bool) -> String? {
            names.withLock { taken in
                taken.formIntersection(ready)
                guard let next = ready.prefix(ahead).first(where: { !taken.contains($0) && eligible($0) }) else { return nil }
                taken.insert(next)
                return next
            }
        }
    }

    private enum PushResult { case pushed, failed, repositoryChanged }

    private func push(_ name: String, to archive: WALArchive, repositoryConfig: [UInt8]?) async -> PushResult {
        guard let file = WALFileName(name) else { return .failed }
        let path = walDirectory + "/" + name
        do {
            let fd = try Syscall.call("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
            defer { close(fd) }
            guard let identity = SpoolMarkers.identity(fd: fd) else { return .failed }
            var bytes = [UInt8](repeating: 0, count: Int(archive.record.walSegmentSize))
            let n = try FileIO.preadFully(fd, into: &bytes, at: 0, what: path)
            if n < bytes.count { bytes.removeSubrange(n...) }
            _ = try await archive.push(file, contents: bytes)
            guard try await archive.repository.storage.get(RepositoryConfig.objectName) == repositoryConfig else { return .repositoryChanged }
            try markers.record(name, identity: identity)
            return .pushed
        } catch {
            return .failed
        }
    }
}
