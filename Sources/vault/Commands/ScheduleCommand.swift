import ArgumentParser
import Foundation
import VaultOperations
import VaultSystem

/// `vault schedule print-systemd|print-cron`: the policy's schedules as timers that call the
/// one-shot commands.
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Run the policy's schedules, or turn them into systemd timers or a crontab.",
        subcommands: [ScheduleRunCommand.self, PrintSystemdCommand.self, PrintCronCommand.self])
}

struct PrintSystemdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "print-systemd",
        abstract: "Print (or write) a service and a timer per shard and scheduled job.",
        discussion: "OnCalendar= fires at exactly the instants of the cron expression, in the policy's schedule.timezone.")

    @OptionGroup var global: GlobalOptions

    @OptionGroup var timer: TimerOptions

    @Option(name: .long, help: "Write the units into this directory instead of printing them.")
    var output: String?

    func run() async throws {
        try await CommandRunner.run {
            let units = TimerUnits.systemd(try global.loadPolicy(), vault: timer.vault, user: timer.user, metricsFile: timer.metricsFile)
            if let output {
                try FileIO.makeDirectories(output, mode: 0o755)
                for unit in units { try FileIO.replaceDurably(output + "/" + unit.name, Array(unit.text.utf8), mode: 0o644) }
                print("wrote \(units.count) units to \(output); enable the timers: systemctl enable --now \(units.filter { $0.name.hasSuffix(".timer") }.map(\.name).joined(separator: " "))")
            } else {
                for unit in units { print("# file: \(unit.name)\n\(unit.text)") }
            }
        }
    }
}

struct PrintCronCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "print-cron",
        abstract: "Print a file for /etc/cron.d that runs each shard's scheduled jobs.")

    @OptionGroup var global: GlobalOptions

    @OptionGroup var timer: TimerOptions

    func run() async throws {
        try await CommandRunner.run {
            print(TimerUnits.crontab(try global.loadPolicy(), vault: timer.vault, user: timer.user, metricsFile: timer.metricsFile), terminator: "")
        }
    }
}

/// What the generated units and crontab lines run, and as whom: the same for both.
struct TimerOptions: ParsableArguments {
    @Option(name: .long, help: "The user the jobs run as.")
    var user = "postgres"

    @Option(name: .long, help: "The vault binary the jobs call.")
    var vault = "/usr/local/bin/vault"

    @Option(name: .long, help: "The file the metrics job writes, in node_exporter's textfile directory.")
    var metricsFile = TimerUnits.defaultMetricsFile
}
