import ArgumentParser
import Foundation
import VaultOperations

/// How switchover, failover and rejoin print: the checks, then the plan (dry run) or what was
/// done, then one summary line. A dry run that would be refused exits 6 after printing.
enum ReplicaReport {
    static func print<T: Encodable>(_ result: T, json: Bool, checks: [ReplicaCheck], steps: [String], dryRun: Bool, summary: String) throws {
        let refused = checks.contains { !$0.passed }
        if json {
            try printJSON(result)
        } else {
            for check in checks { Swift.print(check.text) }
            if !steps.isEmpty { Swift.print(dryRun ? "plan:" : "done:") }
            for (i, step) in steps.enumerated() { Swift.print("  \(i + 1). \(step)") }
            Swift.print(summary)
        }
        if dryRun && refused { throw ExitCode(ExitStatus.refused.rawValue) }
    }

    /// The vault arguments, for the record in the repository (vault takes no secret in argv).
    static func commandLine() -> String {
        "vault " + CommandLine.arguments.dropFirst().joined(separator: " ")
    }
}
