import ArgumentParser
import VaultOperations

struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the repository (if needed) and record each shard's cluster identity.",
        discussion: "Connects to each shard's primary to read its system identifier and version. Safe to run again.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Initialise every shard in the policy.")
    var allShards = false

    @Flag(name: .long, help: "Print JSON (repositoryCreated, location, encrypted, shards).")
    var json = false

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("init")
            let policy = try global.loadPolicy()
            let shards = allShards || (global.shard == nil && policy.shards.count > 1) ? policy.shards : [try policy.resolveShard(global.shard)]
            let result = try await InitOperation(policy: policy).run(shards: shards)
            if json {
                try printJSON(result)
                return
            }
            print(result.repositoryCreated
                  ? "created \(result.encrypted ? "encrypted" : "UNENCRYPTED") repository at \(result.location)"
                  : "repository at \(result.location) already exists (\(result.encrypted ? "encrypted" : "unencrypted"))")
            for s in result.shards {
                print("shard \(s.shard): \(s.created ? "initialised" : "already initialised") for cluster \(s.systemIdentifier), PostgreSQL \(s.majorVersion)")
            }
        }
    }
}
