import ArgumentParser
import VaultOperations

/// `vault rejoin --node N`: brings an old primary back as a standby of the current primary.
struct RejoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rejoin",
        abstract: "Bring a node (an old primary) back as a standby of the shard's primary.",
        discussion: """
            Stops the node (fencing it if it accepts writes), archives the WAL it never archived, \
            then pg_rewind --restore-target-wal onto the primary (a delta restore from the \
            repository when the rewind fails), writes standby.signal and primary_conninfo, starts \
            it and confirms it streams. A node ahead of the primary on the primary's timeline is \
            refused. Runs on the node's host (it needs the node's pgdata). A refusal exits 6.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "The node to bring back.")
    var node: String

    @Flag(name: .long, help: "Print the checks and the plan; change nothing.")
    var dryRun = false

    @Option(name: .long, help: "How long to wait for the node to stream, as in the policy (90s, 5m).")
    var timeout = DurationArgument(seconds: 120)

    @Flag(name: .long, help: "Print JSON (shard, dryRun, node, primary, checks, method, outcome, steps).")
    var json = false

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("rejoin")
            let policy = try global.loadPolicy()
            let shard = try policy.resolveShard(global.shard)
            let r = try await RejoinOperation(policy: policy, shard: shard).run(.init(
                node: node, dryRun: dryRun, timeoutSeconds: Double(timeout.seconds), command: ReplicaReport.commandLine()))
            try ReplicaReport.print(r, json: json, checks: r.checks, steps: r.steps, dryRun: dryRun,
                                    summary: "rejoin of node \(r.node) in shard \(r.shard): \(r.outcome)\(r.method.map { " (\($0))" } ?? "")")
        }
    }
}
