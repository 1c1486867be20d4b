import ArgumentParser
import Foundation
import VaultSystem
import VaultOperations

/// `vault metrics`: the shards' metrics once, for node_exporter's textfile collector.
struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print (or write) the shards' metrics once, in Prometheus' text format.",
        discussion: """
            The same repository figures as `vault schedule run --metrics-listen` serves. With \
            --output the file is replaced atomically, so node_exporter's textfile collector \
            never reads half of it. A shard whose figures cannot be read is written with \
            vault_repository_up 0, and the command then fails.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Write to this file (atomically) instead of standard output; end it in .prom for node_exporter.")
    var output: String?

    func run() async throws {
        try await CommandRunner.run {
            _ = global.logger("metrics")
            let policy = try global.loadPolicy()
            let shards = try global.shard.map { [try policy.shard(named: $0)] } ?? policy.shards
            let metrics = VaultMetrics()
            let errors = await MetricsCollection.collect(policy, shards: shards, into: metrics)
            let text = metrics.text()
            if let output {
                try FileIO.replaceDurably(output, Array(text.utf8), mode: 0o644)
            } else {
                print(text, terminator: "")
            }
            if let first = errors.first { throw first }
        }
    }
}
