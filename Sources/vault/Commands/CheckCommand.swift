import ArgumentParser
import VaultOperations

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Confirm WAL archiving works: settings, a forced WAL switch, and the segment in the repository.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "How long to wait for the switched segment to arrive, as in the policy (90s, 5m).")
    var timeout = DurationArgument(seconds: 60)

    @Flag(name: .long, help: "Print JSON (shard, node, archiveMode, segment, seconds).")
    var json = false

    @Flag(name: .long, help: "Check every shard, fleet.parallel at once; one shard's failure does not stop the others.")
    var allShards = false

    func validate() throws {
        try GlobalOptions.checkAllShards(allShards, shard: global.shard)
    }

    func run() async throws {
        try await CommandRunner.run {
            _ = global.logger("check")
            let policy = try global.loadPolicy()
            let seconds = Double(timeout.seconds)
            if allShards {
                try await FleetOutput.run("check", policy: policy, json: json, text: { [Self.line($0)] }) { shard, _ in
                    try await CheckOperation(policy: policy, shard: shard, timeoutSeconds: seconds).run()
                }
                return
            }
            let shard = try policy.resolveShard(global.shard)
            let r = try await CheckOperation(policy: policy, shard: shard, timeoutSeconds: seconds).run()
            if json {
                try printJSON(r)
                return
            }
            print(Self.line(r))
        }
    }

    static func line(_ r: CheckOperation.Result) -> String {
        "shard \(r.shard): node \(r.node) archives through vault (archive_mode=\(r.archiveMode)); \(r.segment) reached the repository in \(String(format: "%.1f", r.seconds)) s and decrypts"
    }
}
