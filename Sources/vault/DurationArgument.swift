import ArgumentParser
import VaultPolicy

/// A duration on the command line, written as in the policy file: a whole number followed by
/// s, m, h, d or w (`90s`, `5m`, `1h`).
struct DurationArgument: ExpressibleByArgument, Sendable {
    let seconds: Int

    init(seconds: Int) { self.seconds = seconds }

    init?(argument: String) {
        guard let seconds = PolicyDuration.parseSeconds(argument) else { return nil }
        self.seconds = seconds
    }

    var defaultValueDescription: String { "\(seconds)s" }
}
