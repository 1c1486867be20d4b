import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import VaultPolicy
import VaultOperations

/// `vault schedule run`: the scheduler daemon, with `/metrics` when asked.
struct ScheduleRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run every shard's scheduled backups, verification and expiry until stopped.",
        discussion: """
            Logs one JSON line per decision and per finished job on standard output. SIGHUP \
            reloads the policy (a policy that does not load is refused and the running one \
            kept); SIGTERM starts nothing new and gives running jobs scheduler.drain_timeout \
            to finish before cancelling them.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: "Serve Prometheus metrics at http://HOST:PORT/metrics (for example 127.0.0.1:9743).")
    var metricsListen: String?

    func validate() throws {
        if global.shard != nil { throw ValidationError("schedule run runs every shard of the policy; --shard does not apply") }
        if let listen = metricsListen, Self.address(listen) == nil {
            throw ValidationError("--metrics-listen '\(listen)' is not HOST:PORT (for example 127.0.0.1:9743)")
        }
    }

    /// `host:port` split at the last colon; the port must be a number from 0 to 65535.
    static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        let host = String(text[..<colon])
        return host.isEmpty ? nil : (host, port)
    }

    func run() async throws {
        try await CommandRunner.run {
            // First: until SIGHUP is trapped, its default action ends the process.
            let hangups = await UnixSignalsSequence(trapping: .sighup)
            let log = global.logger("schedule")
            let path = global.policy ?? PolicyLoader.defaultPath()
            let policy = try PolicyLoader.load(path: path)
            let metrics = VaultMetrics()
            let runner = RepositoryJobRunner { log.debug("\($0)") }
            let daemon = await SchedulerDaemon(policy: policy, loadPolicy: { try PolicyLoader.load(path: path) }, runner: runner,
                                               classify: ExitStatus.schedulerOutcome, metrics: metrics, reloadSignals: hangups)
            var server: MetricsHTTPServer?
            if let listen = metricsListen, let (host, port) = Self.address(listen) {
                let scraper = MetricsScraper(metrics: metrics) { await daemon.currentPolicy }
                server = try await MetricsHTTPServer.start(host: host, port: port) { await scraper.text() }
                log.info("serving metrics at http://\(host):\(server?.port ?? port)/metrics")
            }
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [daemon], gracefulShutdownSignals: [.sigterm, .sigint], logger: log))
            try await group.run()
            await server?.stop()
        }
    }
}
