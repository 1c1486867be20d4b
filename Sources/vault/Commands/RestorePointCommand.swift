import ArgumentParser
import Foundation
import VaultFormat
import VaultOperations

/// `vault restore-point create|list`: restore points across every shard of the policy.
struct RestorePointCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore-point",
        abstract: "Make or list a restore point on every shard at once, for restore --all-shards.",
        subcommands: [RestorePointCreateCommand.self, RestorePointListCommand.self])
}

struct RestorePointCreateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Make restore point NAME on every shard's primary at once and record it once all are archived.",
        discussion: """
            Connects to every shard's primary first; runs fleet.pause_command (when the policy has \
            one), makes the points together, runs fleet.resume_command, switches WAL on each and \
            waits until the segment holding the point is in the repository, then records the \
            point (LSN, timeline and server time per shard, and the spread). If any shard fails, \
            nothing is recorded and the command exits non-zero.
            """)

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The restore point's name: letters, digits, '-', '_' and '.', up to 63 characters.")
    var name: String

    @Flag(name: .long, help: "Print the recorded point as JSON.")
    var json = false

    func validate() throws {
        if global.shard != nil { throw ValidationError("a restore point is made on every shard; --shard does not apply") }
        if !FleetRestorePoint.isValidName(name) {
            throw ValidationError("restore point name '\(name)' may use only letters, digits, '-', '_' and '.', up to 63 characters")
        }
    }

    func run() async throws {
        try await CommandRunner.run(audited: global) {
            _ = global.logger("restore-point")
            let point = try await RestorePointOperation(policy: try global.loadPolicy()).create(name)
            if json {
                try printJSON(point)
                return
            }
            for s in point.shards { print("shard \(s.shard): '\(point.name)' at \(s.lsn) on timeline \(s.timeline), \(s.time) (node \(s.node)), archived in \(s.segment)") }
            print("restore point '\(point.name)' recorded for \(point.shards.count) shards; spread \(String(format: "%.3f", point.spreadSeconds)) s\(point.paused ? " (application paused)" : "")")
        }
    }
}

struct RestorePointListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the recorded restore points.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "Print JSON (a list of restore points).")
    var json = false

    func run() async throws {
        try await CommandRunner.run {
            let repository = try await RepositoryOpener.open(try global.loadPolicy())
            let points = try await repository.restorePoints()
            if json {
                try printJSON(points)
                return
            }
            if points.isEmpty { print("no restore points"); return }
            print("name                             made (UTC)            shards  spread     paused")
            for p in points {
                let made = String(p.started.prefix(19)).replacingOccurrences(of: "T", with: " ")
                print([p.name.padding(toLength: max(32, p.name.count), withPad: " ", startingAt: 0), made.padding(toLength: 21, withPad: " ", startingAt: 0),
                       String(p.shards.count).padding(toLength: 7, withPad: " ", startingAt: 0),
                       (String(format: "%.3f", p.spreadSeconds) + " s").padding(toLength: 10, withPad: " ", startingAt: 0), p.paused ? "yes" : "no"].joined(separator: " "))
            }
        }
    }
}
