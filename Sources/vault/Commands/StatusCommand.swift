import ArgumentParser
import Foundation
import VaultSupport
import VaultPostgres
import VaultFormat
import VaultOperations

/// `vault status`: per shard, the newest backup, how far WAL is archived, and when the shard
/// was last proved restorable (with its measured recovery time).
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each shard's backups, archived WAL, last verified restore and node topology.",
        discussion: """
            Asks every node of the shard its role, timeline, WAL positions, upstream and archiver \
            state (3 s connect timeout). Exits 10 when the topology drifted: not exactly one \
            primary, a standby not streaming from it or on another timeline, a node of another \
            cluster, or streaming connections from nodes absent from the policy.
            """)

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print JSON (one object per shard, documented in the README).")
    var json = false

    @Flag(name: .long, help: "Every shard, fleet.parallel at once; a shard that cannot be read does not stop the others.")
    var allShards = false

    func validate() throws {
        try GlobalOptions.checkAllShards(allShards, shard: global.shard)
    }

    /// A drifted topology: the command's failure (exit 10).
    static func problem(_ s: ShardStatus) -> (any Error)? {
        guard let drift = s.topology?.drift, let first = drift.first else { return nil }
        return OperationError(.checkFailed, "shard \(s.shard): the topology drifted: \(first)\(drift.count > 1 ? " (and \(drift.count - 1) more)" : "")")
    }

    /// The repository's keys, once after the shards.
    static func printKeys(_ keys: [KeyUsage]) {
        guard !keys.isEmpty else { return }
        print("encryption keys (AES-256-GCM, random nonces):")
        for key in keys { print(key.text) }
    }

    func run() async throws {
        try await CommandRunner.run {
            let policy = try global.loadPolicy()
            let repository = try await RepositoryOpener.open(policy)
            // The key counts are a report beside the shards': one that cannot be made (a
            // damaged audit record) is a warning, never the monitoring command's failure.
            let keys: [KeyUsage]
            do {
                keys = try await KeyUsage.read(repository: repository, shards: policy.shards.map(\.name))
            } catch {
                FileHandle.standardError.write(Data("warning: encryption keys not counted: \(error)\n".utf8))
                keys = []
            }
            if allShards {
                try await FleetOutput.run("status", policy: policy, json: json, text: { [$0.text] }, check: Self.problem) { shard, _ in
                    var status = try await ShardStatus.load(shard.name, repository: repository)
                    try await status.addTopology(shard, repository: repository)
                    status.keys = keys.isEmpty ? nil : keys
                    return status
                }
                if !json { Self.printKeys(keys) }
                return
            }
            let shards = try global.shard.map { [try policy.shard(named: $0)] } ?? policy.shards
            var out: [ShardStatus] = []
            for shard in shards {
                var status = try await ShardStatus.load(shard.name, repository: repository)
                try await status.addTopology(shard, repository: repository)
                status.keys = keys.isEmpty ? nil : keys
                out.append(status)
            }
            if json {
                try printJSON(out)
            } else {
                for s in out { print(s.text) }
                Self.printKeys(keys)
            }
            if out.contains(where: { !($0.topology?.drift.isEmpty ?? true) }) { throw ExitCode(ExitStatus.checkFailed.rawValue) }
        }
    }
}
