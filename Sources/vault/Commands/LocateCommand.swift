import ArgumentParser
import VaultPolicy
import VaultOperations

/// `vault locate KEY`: which shard holds a key, from the policy's shard map.
struct LocateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locate",
        abstract: "Say which shard holds a key, from the policy's shard map.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The key (a whole number).")
    var key: Int64

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        try await CommandRunner.run {
            let policy = try global.loadPolicy()
            let located = LocateReport(key: key, shard: try policy.locate(key: key))
            if json {
                try printJSON(located)
            } else {
                print(located.text)
            }
        }
    }
}
