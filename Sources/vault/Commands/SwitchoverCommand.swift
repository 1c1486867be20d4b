import ArgumentParser
import VaultOperations

/// `vault switchover`: a planned change of primary that loses nothing.
struct SwitchoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchover",
        abstract: "Make a standby the primary and the old primary its standby, losing nothing.",
        discussion: """
            Checks, then: CHECKPOINT and a clean stop of the primary, promotion of the target once it \
            has replayed the primary's shutdown checkpoint (else the old primary is started again: \
            rolled back), the other standbys re-pointed, the old primary started as a standby. \
            --dry-run prints the checks and the plan and changes nothing; a refusal exits 6.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "The standby to promote (default: the most advanced one streaming from the primary).")
    var to: String?

    @Flag(name: .long, help: "Print the checks and the plan; change nothing.")
    var dryRun = false

    @Option(name: .long, help: "How long each wait may take, as in the policy (90s, 5m).")
    var timeout = DurationArgument(seconds: 120)

    @Flag(name: .long, help: "Print JSON (shard, dryRun, checks, from, to, shutdownCheckpoint, timeline, outcome, steps).")
    var json = false

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("switchover")
            let policy = try global.loadPolicy()
            let shard = try policy.resolveShard(global.shard)
            let r = try await SwitchoverOperation(policy: policy, shard: shard).run(.init(
                target: to, dryRun: dryRun, timeoutSeconds: Double(timeout.seconds), command: ReplicaReport.commandLine()))
            try ReplicaReport.print(r, json: json, checks: r.checks, steps: r.steps, dryRun: dryRun,
                                    summary: "switchover of shard \(r.shard): \(r.outcome)\(r.from.map { " (\($0) → \(r.to ?? "?")" + (r.timeline.map { ", timeline \($0)" } ?? "") + ")" } ?? "")")
        }
    }
}
