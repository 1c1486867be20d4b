import Foundation
import VaultSupport
import VaultSystem
import VaultPostgres
import VaultPolicy
import VaultFormat
import VaultStorage

/// What switchover, failover and rejoin share: the shard's topology lock, waiting for a
/// node to reach a state, the record in the repository.
struct ReplicaOperationContext {
    let policy: Policy
    let shard: ShardPolicy
    let repository: Repository
    /// The shard's record, read once: its system identifier and the archive's segment size.
    let record: ShardRecord
    let started = Date()
    let command: String

    var archive: WALArchive { WALArchive(repository: repository, record: record, compressionLevel: policy.walCompressionLevel) }

    /// One switchover, failover or rejoin per shard at a time. Not the backup lock: a
    /// running backup must never hold up a failover.
    static func lockName(_ shard: String) -> String { "\(shard)/locks/topology.lock" }

    static func open(policy: Policy, shard: ShardPolicy, command: String) async throws -> ReplicaOperationContext {
        let repository = try await RepositoryOpener.open(policy)
        return ReplicaOperationContext(policy: policy, shard: shard, repository: repository,
                                       record: try await repository.shardRecord(shard.name), command: command)
    }

    /// The refusal for the first failed check: what failed, and that nothing was done.
    static func refusal(_ operation: String, _ check: ReplicaCheck?, _ consequence: String) -> OperationError {
        OperationError(.refused, "\(operation) refused: \(check?.name ?? "check"): \(check?.detail ?? "not approved"); \(consequence)")
    }

    /// Runs a program (a policy command, pg_ctl, pg_rewind) with its output in a temporary
    /// file; returns its exit status (`Subprocess.timedOut` when killed at `timeout`) and its
    /// last output lines, for messages. Secrets are withheld unless `secrets` says otherwise.
    static func runLogged(_ argv: [String], asUser user: String? = nil, lines: Int = 3, timeout: TimeInterval? = nil,
                          secrets: ChildEnvironment.Secrets = .withheld) throws -> (status: Int32, tail: [String]) {
        let log = FileManager.default.temporaryDirectory.path + "/vault-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).log"
        defer { unlink(log) }
        let status = try Subprocess.run(argv, asUser: user, output: log, timeout: timeout, secrets: secrets)
        let output = String(decoding: (try? FileIO.read(log)) ?? [], as: UTF8.self).split(separator: "\n").map(String.init)
        return (status, Array(output.suffix(lines)))
    }

    /// Runs `body` holding the lock; `body` confirms it (`confirm()`) right before promoting,
    /// so an S3 lease that lapsed meanwhile stops the operation instead of a second promotion.
    func withLock<T: Sendable>(_ what: String, _ body: (any StorageLock) async throws -> T) async throws -> T {
        try await repository.storage.withLock(Self.lockName(shard.name), owner: "vault \(what) pid \(getpid()) on \(Self.host)") { lock in
            try await body(lock)
        }
    }

    func control(_ name: String) throws -> NodeControl {
        guard let node = shard.nodes.first(where: { $0.name == name }) else {
            throw OperationError(.usage, "shard \(shard.name) has no node \(name) (nodes: \(shard.nodes.map(\.name).joined(separator: ", ")))")
        }
        return NodeControl(shard: shard, node: node)
    }

    /// Polls `condition` every 200 ms until it holds or `seconds` pass; true when it held.
    static func wait(seconds: Double, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if (try? condition()) == true { return true }
            if Date() > deadline { return false }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
    }

    /// Waits until every one of `standbys` streams from `primary`; returns those that do not.
    /// Only those nodes and the primary are asked: an unreachable old primary would cost a
    /// connect timeout on every poll.
    static func waitStreaming(_ standbys: [NodePolicy], from primary: String, shard: ShardPolicy, seconds: Double) async throws -> [String] {
        var missing = standbys.map(\.name)
        guard let primaryNode = shard.nodes.first(where: { $0.name == primary }) else { return missing }
        _ = try await wait(seconds: seconds) {
            let p = NodeProbe.observe(primaryNode, shard: shard.name)
            missing = standbys.filter { !NodeProbe.observe($0, shard: shard.name).streams(from: p) }.map(\.name)
            return missing.isEmpty
        }
        return missing
    }

    /// Waits until the archive holds timeline `timeline`'s history file.
    func waitHistoryArchived(_ timeline: UInt32, seconds: Double) async throws -> Bool {
        guard timeline > 1, let file = WALFileName(String(format: "%08X.history", timeline)) else { return true }
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await repository.storage.exists(archive.objectName(file)) { return true }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        return false
    }

    func record(_ kind: TopologyEvent.Kind, from: String?, to: String?, lsn: LSN?, timeline: UInt32?, outcome: String, steps: [String]) async throws {
        try await repository.record(TopologyEvent(
            shard: shard.name, kind: kind, started: Timestamp.precise(started), finished: Timestamp.precise(Date()),
            user: Self.user, host: Self.host, command: command, from: from, to: to, lsn: lsn?.description, timeline: timeline,
            outcome: outcome, steps: steps))
    }

    static var user: String {
        getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "uid \(geteuid())"
    }

    static var host: String { ProcessInfo.processInfo.hostName }
}
