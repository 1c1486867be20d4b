import Foundation
import VaultStorage

/// The operator's declarative policy: where the repository is, how objects are protected,
/// which shards exist and what should happen to them. Loaded by `PolicyLoader`; every key is
/// documented in Policies/README.md.
public struct Policy: Sendable {
    public var version: Int
    public var repository: RepositorySettings
    public var encryption: EncryptionSettings
    public var compression: CompressionSettings
    public var archive: ArchiveSettings
    public var verify: VerifySettings
    public var scheduler: SchedulerSettings
    public var fleet: FleetSettings
    public var defaults: ShardSettings
    public var shards: [ShardPolicy]
    /// The file this policy came from (absolute when known), for messages and restore_command.
    public var sourcePath: String
    /// Every network connection must use TLS: node conninfo with sslmode require, verify-ca or
    /// verify-full (a Unix socket is not a network connection), and an https:// S3 endpoint.
    /// Checked when the policy is read.
    public var requireTLS: Bool = false

    /// The shard named `name`, or a clear error listing the known names.
    public func shard(named name: String) throws -> ShardPolicy {
        if let s = shards.first(where: { $0.name == name }) { return s }
        let known = shards.map(\.name).joined(separator: ", ")
        throw ShardLookupError(.unknownShard, "no shard '\(name)' in policy \(sourcePath) (shards: \(known))")
    }

    /// The shard a command applies to: the named one, or the only one when the policy has one.
    public func resolveShard(_ name: String?) throws -> ShardPolicy {
        if let name { return try shard(named: name) }
        if shards.count == 1, let only = shards.first { return only }
        throw ShardLookupError(.shardRequired, "policy \(sourcePath) has \(shards.count) shards: name one with --shard")
    }
}

public struct RepositorySettings: Sendable {
    public var path: String?
    public var s3: S3Settings?

    /// Names the repository without opening it (a directory, or endpoint, bucket and prefix),
    /// for local state that must never answer for another repository.
    public var identity: String {
        if let s3 { return "s3 \(s3.endpoint) \(s3.bucket) \(s3.prefix)" }
        return "path \(path ?? "")"
    }
}

/// Where the passphrase (or the key file of 32 random bytes) comes from. The secret itself is
/// never written in the policy.
public enum EncryptionSettings: Sendable, Equatable {
    case none
    case keyFile(String)
    case passphraseFile(String)
    case passphraseEnv(String)
    case passphraseCommand(String)
}

public struct CompressionSettings: Sendable {
    public var level: Int32
}

extension Policy {
    /// The zstd level WAL is archived at: `archive.compression_level`, else `compression.level`.
    public var walCompressionLevel: Int32 { archive.compressionLevel ?? compression.level }
}

/// How `archive-push` works beyond the one segment PostgreSQL asks for.
public struct ArchiveSettings: Sendable {
    /// Also push up to this many following `.ready` segments in parallel (0: off).
    public var pushAhead: Int
    /// Where markers of pushed-ahead segments are kept (default: `vault_spool` in pg_wal).
    public var spool: String?
    /// `archive-get` also fetches up to this many following segments in parallel into
    /// `pg_wal/vault_prefetch`, so recovery is not one round trip per segment (0: off).
    public var getAhead: Int
    /// zstd level for WAL segments (nil: `compression.level`). WAL must keep up with the
    /// server's write rate, so it may want a cheaper level than base backups.
    public var compressionLevel: Int32?

    public static let `default` = ArchiveSettings(pushAhead: 0, spool: nil, getAhead: 8, compressionLevel: nil)
}

/// Where `vault verify` puts its scratch instances (a host matter, so top-level).
public struct VerifySettings: Sendable {
    /// Base directory; each verify uses `<scratch>/<shard>-<pid>` and removes it.
    public var scratch: String

    public static let `default` = VerifySettings(scratch: "/var/tmp/vault-verify")
}

/// How commands over every shard (`--all-shards`, restore points) run.
public struct FleetSettings: Sendable, Equatable {
    /// Shards worked on at once.
    public var parallel: Int
    /// Run before a fleet restore point (an argument vector, no shell): the application stops
    /// writing, so the points of all shards mark one moment of the system. Must return only once
    /// writes stopped.
    public var pauseCommand: String?
    /// Run after the points were made (also when making them failed).
    public var resumeCommand: String?
    /// Seconds either command may take before it is killed (and the points not made).
    public var hookTimeout: Int

    public static let `default` = FleetSettings(parallel: 4, pauseCommand: nil, resumeCommand: nil, hookTimeout: 60)

    public init(parallel: Int, pauseCommand: String?, resumeCommand: String?, hookTimeout: Int) {
        self.parallel = parallel
        self.pauseCommand = pauseCommand
        self.resumeCommand = resumeCommand
        self.hookTimeout = hookTimeout
    }
}

/// How `vault schedule run` runs the schedules (a host matter, so top-level). Durations are
/// in seconds.
public struct SchedulerSettings: Sendable, Equatable {
    /// Jobs running at once across all shards.
    public var maxConcurrentJobs: Int
    /// Each scheduled run starts at a random offset up to this long after its time, so a fleet
    /// of daemons does not start every backup in the same second.
    public var jitter: Int
    /// How long a due job waits for its shard's running job (or a free place under the global
    /// limit) before this run is given up and logged.
    public var maxWait: Int
    /// Further attempts after a failure that can succeed later (a server or store unreachable).
    public var retries: Int
    /// The wait before the first retry; each further retry waits twice as long (at most 1 h).
    public var retryBackoff: Int
    /// On SIGTERM, how long running jobs may take to finish before they are cancelled.
    public var drainTimeout: Int

    public static let `default` = SchedulerSettings(maxConcurrentJobs: 2, jitter: 30, maxWait: 3600, retries: 3,
                                                    retryBackoff: 60, drainTimeout: 60)

    public init(maxConcurrentJobs: Int, jitter: Int, maxWait: Int, retries: Int, retryBackoff: Int, drainTimeout: Int) {
        self.maxConcurrentJobs = maxConcurrentJobs
        self.jitter = jitter
        self.maxWait = maxWait
        self.retries = retries
        self.retryBackoff = retryBackoff
        self.drainTimeout = drainTimeout
    }
}

/// Settings a shard inherits from `defaults` unless it sets its own.
public struct ShardSettings: Sendable {
    public var schedule: ScheduleSettings
    public var retention: RetentionSettings
    public var parallel: Int
    public var backupFrom: BackupSource
    /// How long a backup waits, after `pg_backup_stop`, for its WAL to reach the repository
    /// before it is recorded with its WAL marked incomplete (seconds).
    public var archiveTimeout: Int

    public static let builtIn = ShardSettings(
        schedule: ScheduleSettings(), retention: RetentionSettings(fullBackups: 2, window: nil),
        parallel: 2, backupFrom: .primary, archiveTimeout: 300)
}

public struct ScheduleSettings: Sendable {
    public var full: CronExpression?
    public var incremental: CronExpression?
    public var verify: CronExpression?
    public var expire: CronExpression?
    /// The zone `schedule.timezone` names, nil when the policy names none.
    public var namedTimeZone: TimeZone?
    /// The zone the expressions are read in: `namedTimeZone`, else UTC. UTC is made only when
    /// asked for: making a zone by name loads ICU's time zone data, milliseconds of reads with
    /// the cache cold, which commands that never schedule (archive-push, restore) do not need.
    public var timeZone: TimeZone { namedTimeZone ?? CronExpression.utc }

    public init(full: CronExpression? = nil, incremental: CronExpression? = nil, verify: CronExpression? = nil, expire: CronExpression? = nil,
                timeZone: TimeZone? = nil) {
        self.full = full
        self.incremental = incremental
        self.verify = verify
        self.expire = expire
        self.namedTimeZone = timeZone
    }

    /// The jobs that have a schedule, in the order a person reads them.
    public var jobs: [(job: String, cron: CronExpression)] {
        [("full", full), ("incremental", incremental), ("verify", verify), ("expire", expire)].compactMap { job, cron in cron.map { (job, $0) } }
    }
}

public struct RetentionSettings: Sendable {
    /// Keep at least this many full backups (and what depends on them).
    public var fullBackups: Int?
    /// Keep backups younger than this many seconds.
    public var window: Int?
    /// Seconds a leftover no backup names (a pack or manifest chunk of a backup killed before
    /// it was published) stays before expire removes it, by the store's clock.
    public var orphanGrace: Int = RetentionSettings.defaultOrphanGrace

    /// A day: backups and expire exclude each other by the shard's lock, so no published
    /// backup can need a leftover; the grace only keeps one step further from a backup whose
    /// lock lapsed unnoticed.
    public static let defaultOrphanGrace = 86_400

    public init(fullBackups: Int?, window: Int?, orphanGrace: Int = RetentionSettings.defaultOrphanGrace) {
        self.fullBackups = fullBackups
        self.window = window
        self.orphanGrace = orphanGrace
    }
}

public enum BackupSource: String, Sendable {
    case primary
    case standby
    case preferStandby = "prefer-standby"
}

/// An inclusive range of the shard key space.
public struct KeyRange: Sendable, Equatable {
    public var from: Int64
    public var to: Int64
    public init(from: Int64, to: Int64) {
        self.from = from
        self.to = to
    }
    public func contains(_ key: Int64) -> Bool { key >= from && key <= to }
}

public struct ShardPolicy: Sendable {
    public var name: String
    public var keys: KeyRange?
    public var pgdata: String?
    /// Directory of PostgreSQL's server binaries (pg_ctl, postgres) for this shard's version.
    public var bindir: String?
    public var nodes: [NodePolicy]
    public var failover: FailoverSettings
    public var smoke: [SmokeQuery]
    public var settings: ShardSettings
    public var line: Int
}

public struct NodePolicy: Sendable {
    public var name: String
    public var conninfo: String
    public var priority: Int
    public var pgdata: String?
    public var stopCommand: String?
    public var startCommand: String?
}

public struct FailoverSettings: Sendable {
    public var maxLagBytes: Int64?
    public var fenceCommand: String?
}

public struct SmokeQuery: Sendable {
    public var sql: String
    public var expect: String
    public var database: String?
}
