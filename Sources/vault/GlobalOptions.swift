import ArgumentParser
import Logging
import VaultSupport
import VaultPolicy
import VaultSystem

/// Options every command takes: which policy, which shard, how to log and report.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Policy file (default: $VAULT_POLICY, ./vault.yaml, /etc/vault/vault.yaml).")
    var policy: String?

    @Option(name: .long, help: "Shard to act on (needed when the policy has several).")
    var shard: String?

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    @Option(name: .long, help: "Log format: text or json.")
    var logFormat: String = "text"

    /// Options that take a value and may appear before the command name.
    static let valued: Set<String> = ["--policy", "--shard", "--log-level", "--log-format"]

    /// Moves leading global options (and `--json`) to the end of the argument list.
    static func hoisted(_ args: [String]) -> [String] {
        var leading: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if valued.contains(a), i + 1 < args.count {
                leading += [a, args[i + 1]]
                i += 2
            } else if valued.contains(where: { a.hasPrefix($0 + "=") }) || a == "--json" {
                leading.append(a)
                i += 1
            } else {
                break
            }
        }
        return Array(args[i...]) + leading
    }

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error")
        }
        guard StderrLogHandler.Format(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format must be text or json")
        }
    }

    /// Sets up logging and returns the logger for `command`.
    func logger(_ command: String) -> Logger {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let format = StderrLogHandler.Format(rawValue: logFormat) ?? .text
        LoggingSystem.bootstrap { label in StderrLogHandler(label: label, level: level, format: format) }
        return Logger(label: command)
    }

    /// Loads the policy, and withholds the passphrase's variable (if it names one) from
    /// every program vault starts that does not run vault itself.
    func loadPolicy() throws -> Policy {
        let loaded = try PolicyLoader.load(path: policy ?? PolicyLoader.defaultPath())
        if case .passphraseEnv(let name) = loaded.encryption { ChildEnvironment.withhold(name) }
        return loaded
    }
}
