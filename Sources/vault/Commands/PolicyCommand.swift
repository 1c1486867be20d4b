import ArgumentParser
import Foundation
import VaultCore

struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Work with policy files.",
        subcommands: [PolicyCheckCommand.self])
}

struct PolicyCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a policy file and name the line of every problem.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Policy file to check (default: --policy or the usual search path).")
    var file: String?

    func run() async throws {
        try await CommandRunner.run {
            let path = file ?? global.policy ?? PolicyLoader.defaultPath()
            do {
                let policy = try PolicyLoader.load(path: path)
                let mapped = policy.shards.filter { $0.keys != nil }.count
                let nodeCount = policy.shards.reduce(0) { $0 + $1.nodes.count }
                print("\(path): ok (\(policy.shards.count) shard\(policy.shards.count == 1 ? "" : "s"), \(nodeCount) node\(nodeCount == 1 ? "" : "s")\(mapped > 0 ? ", shard map covers \(policy.shards.compactMap { $0.keys?.from }.min() ?? 0)-\(policy.shards.compactMap { $0.keys?.to }.max() ?? 0)" : ""))")
            } catch let e as PolicyError {
                for issue in e.issues {
                    FileHandle.standardError.write(Data("\(path):\(issue.line):\(issue.column): \(issue.message)\n".utf8))
                }
                CommandRunner.fail("policy \(path) has \(e.issues.count) problem\(e.issues.count == 1 ? "" : "s")", code: e.asVaultError.exitCode)
            }
        }
    }
}

struct LocateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "locate",
        abstract: "Say which shard holds a key, from the policy's shard map.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The key (a whole number).")
    var key: Int64

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    struct Located: Encodable {
        var key: Int64
        var shard: String
        var from: Int64
        var to: Int64
        var nodes: [String]
    }

    func run() async throws {
        try await CommandRunner.run {
            let policy = try global.loadPolicy()
            let shard = try policy.locate(key: key)
            let range = shard.keys ?? KeyRange(from: key, to: key)
            if json {
                try printJSON(Located(key: key, shard: shard.name, from: range.from, to: range.to, nodes: shard.nodes.map(\.name)))
            } else {
                print("\(shard.name) (keys \(range.from)-\(range.to); nodes \(shard.nodes.map(\.name).joined(separator: ", ")))")
            }
        }
    }
}
