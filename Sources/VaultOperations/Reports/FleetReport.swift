import Foundation

/// The stable JSON shape of a command run with `--all-shards`: every shard's outcome, in
/// policy order, and which succeeded and failed.
public struct FleetReport<R: Encodable & Sendable>: Encodable, Sendable {
    public struct Shard: Encodable, Sendable {
        public var shard: String
        public var ok: Bool
        /// The exit code the command would have given for this shard alone (absent when ok).
        public var exit: Int32?
        /// Why it failed, one line.
        public var error: String?
        /// What the command reports for one shard (absent when it failed before producing it).
        public var result: R?

        public init(shard: String, ok: Bool, exit: Int32?, error: String?, result: R?) {
            self.shard = shard
            self.ok = ok
            self.exit = exit
            self.error = error
            self.result = result
        }
    }

    public var command: String
    public var shards: [Shard]
    public var succeeded: [String]
    public var failed: [String]

    public init(command: String, shards: [Shard]) {
        self.command = command
        self.shards = shards
        succeeded = shards.filter(\.ok).map(\.shard)
        failed = shards.filter { !$0.ok }.map(\.shard)
    }
}
