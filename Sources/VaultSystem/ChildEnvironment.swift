import Foundation
import Synchronization

/// The environment vault gives the programs it starts. Secrets vault reads from its own
/// environment (S3 credentials, the passphrase's variable) are withheld from programs that
/// have no use for them (pg_amcheck, pg_checksums, pg_ctl stop, policy hooks, fence
/// commands), so a hook that logs its environment or a core dump of one cannot leak them.
/// Programs that run vault's `restore_command` (a server vault starts, pg_rewind with
/// `--restore-target-wal`) are passed them: that `vault archive-get` reads them. With
/// `passphrase_file` and `credentials_file` no secret is in any environment at all.
public enum ChildEnvironment {
    /// Whether a child is given the secrets vault read from its own environment.
    public enum Secrets: Sendable {
        case withheld
        /// For a program that runs vault itself.
        case passed
    }

    /// S3 credentials as the AWS tools name them, and whatever the policy adds.
    private static let secretNames = Mutex<Set<String>>(["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"])

    /// Adds a variable that holds a secret (the policy's `passphrase_env`).
    public static func withhold(_ name: String) {
        secretNames.withLock { _ = $0.insert(name) }
    }

    /// The variables withheld from children.
    public static var withheld: Set<String> { secretNames.withLock { $0 } }

    /// `NAME=value` strings for a child.
    public static func strings(_ secrets: Secrets, from environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        let names = secrets == .withheld ? withheld : []
        return environment.filter { !names.contains($0.key) }.map { "\($0.key)=\($0.value)" }
    }
}
