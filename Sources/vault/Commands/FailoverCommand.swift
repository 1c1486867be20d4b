import ArgumentParser
import VaultOperations

/// `vault failover`: promotes the most advanced standby when the primary is gone.
struct FailoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover",
        abstract: "Promote a standby when the primary is gone, after fencing it.",
        discussion: """
            Refuses while any node accepts writes. The old primary is fenced first (the policy's \
            failover.fence_command, or --confirm-primary-down); a failing fence stops everything. \
            Standbys' WAL receivers are stopped before positions are compared; the most advanced \
            standby wins (priority breaks ties; priority 0 never). Lag beyond failover.max_lag_bytes \
            (default 16 MiB), measured against the archive and the standbys, or a standby not named \
            in synchronous_standby_names, needs --allow-data-loss. A refusal exits 6.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "The standby to promote (default: the most advanced).")
    var to: String?

    @Flag(name: .long, help: "Print the checks and the plan; change nothing (no fence, no freeze).")
    var dryRun = false

    @Flag(name: .long, help: "Promote even if it loses WAL the archive or another standby holds.")
    var allowDataLoss = false

    @Flag(name: .long, help: "The old primary is down and fenced (when the policy has no fence_command).")
    var confirmPrimaryDown = false

    @Option(name: .long, help: "How long each wait may take, as in the policy (90s, 5m).")
    var timeout = DurationArgument(seconds: 120)

    @Flag(name: .long, help: "Print JSON (shard, dryRun, checks, ranking, from, to, promotedAt, lagBytes, timeline, outcome, steps).")
    var json = false

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("failover")
            let policy = try global.loadPolicy()
            let shard = try policy.resolveShard(global.shard)
            let r = try await FailoverOperation(policy: policy, shard: shard).run(.init(
                target: to, dryRun: dryRun, allowDataLoss: allowDataLoss, confirmPrimaryDown: confirmPrimaryDown,
                timeoutSeconds: Double(timeout.seconds), command: ReplicaReport.commandLine()))
            try ReplicaReport.print(r, json: json, checks: r.checks, steps: r.steps, dryRun: dryRun,
                                    summary: "failover of shard \(r.shard): \(r.outcome)\(r.to.map { " (promoted \($0)" + (r.timeline.map { " on timeline \($0)" } ?? "") + ")" } ?? "")")
        }
    }
}
