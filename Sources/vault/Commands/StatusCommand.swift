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
        abstract: "Show each shard's newest backup, newest archived WAL and last verified restore.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print JSON (one object per shard, documented in the README).")
    var json = false

    func run() async throws {
        try await CommandRunner.run {
            let policy = try global.loadPolicy()
            let shards = try global.shard.map { [try policy.shard(named: $0)] } ?? policy.shards
            let repository = try await RepositoryOpener.open(policy)
            var out: [ShardStatus] = []
            for shard in shards { out.append(try await ShardStatus.load(shard.name, repository: repository)) }
            if json {
                try printJSON(out)
                return
            }
            for s in out { print(s.text) }
        }
    }
}
