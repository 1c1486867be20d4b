import ArgumentParser
import Foundation
import VaultPolicy
import VaultOperations

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

    @Flag(name: .long, help: "Print JSON (path, valid, shards, nodes, shardMap, issues); exit 3 when invalid.")
    var json = false

    func run() async throws {
        try await CommandRunner.run {
            let path = file ?? global.policy ?? PolicyLoader.defaultPath()
            do {
                let report = PolicyCheckReport(path: path, policy: try PolicyLoader.load(path: path))
                if json {
                    try printJSON(report)
                } else {
                    print(report.text)
                }
            } catch let e as PolicyError {
                if json {
                    try printJSON(PolicyCheckReport(path: path, error: e))
                    throw ExitCode(ExitStatus.policy.rawValue)
                }
                if let unreadable = e.unreadable { CommandRunner.fail("cannot read policy: \(unreadable)", code: ExitStatus.policy.rawValue) }
                for issue in e.issues {
                    FileHandle.standardError.write(Data("\(path):\(issue.line):\(issue.column): \(issue.message)\n".utf8))
                }
                CommandRunner.fail("policy \(path) has \(e.issues.count) problem\(e.issues.count == 1 ? "" : "s")", code: ExitStatus.policy.rawValue)
            }
        }
    }
}
