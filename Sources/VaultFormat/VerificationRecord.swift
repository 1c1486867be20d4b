import Foundation
import VaultSupport

/// The result of one `vault verify` of one backup, kept in the repository
/// (`<shard>/verify/<time>-<backup>.json`, sealed like every object) so `list`, `status` and
/// retention know when each backup was last proved restorable.
public struct VerificationRecord: Codable, Sendable {
    public var format: Int
    public var shard: String
    public var backup: String
    /// When the verification finished (UTC, ISO 8601).
    public var finished: String
    public var passed: Bool
    /// True for `--repository-only`: objects were checked, nothing was restored.
    public var repositoryOnly: Bool
    /// The recovery target the restore was taken to (`immediate` unless asked otherwise).
    public var target: String
    /// What was proved, one line each, in the order it was done.
    public var checked: [String]
    public var problems: [RepositoryProblem]
    public var timings: Timings
    /// Where recovery stopped in the scratch instance.
    public var reachedLSN: String?
    public var reachedTimeline: String?

    public struct Timings: Codable, Sendable {
        /// Checking every object the backup needs.
        public var repositorySeconds: Double
        /// Writing the backup's files into the scratch directory.
        public var restoreSeconds: Double?
        /// From starting PostgreSQL to recovery finished: the measured recovery time.
        public var recoverySeconds: Double?
        /// pg_amcheck, pg_checksums and the smoke queries.
        public var checksSeconds: Double?
        public var totalSeconds: Double

        public init(repositorySeconds: Double, restoreSeconds: Double? = nil, recoverySeconds: Double? = nil, checksSeconds: Double? = nil, totalSeconds: Double) {
            self.repositorySeconds = repositorySeconds
            self.restoreSeconds = restoreSeconds
            self.recoverySeconds = recoverySeconds
            self.checksSeconds = checksSeconds
            self.totalSeconds = totalSeconds
        }
    }

    public static func objectName(shard: String, backup: String, finished: String) -> String {
        let stamp = finished.filter { $0.isNumber || $0 == "T" }
        return "\(shard)/verify/\(stamp)-\(backup).json"
    }

    public init(format: Int, shard: String, backup: String, finished: String, passed: Bool, repositoryOnly: Bool, target: String, checked: [String], problems: [RepositoryProblem], timings: Timings, reachedLSN: String? = nil, reachedTimeline: String? = nil) {
        self.format = format
        self.shard = shard
        self.backup = backup
        self.finished = finished
        self.passed = passed
        self.repositoryOnly = repositoryOnly
        self.target = target
        self.checked = checked
        self.problems = problems
        self.timings = timings
        self.reachedLSN = reachedLSN
        self.reachedTimeline = reachedTimeline
    }
}

extension Repository {
    /// Every verification of a shard, oldest first.
    public func verifications(shard: String) async throws -> [VerificationRecord] {
        var out: [VerificationRecord] = []
        for name in try await storage.list(prefix: "\(shard)/verify") where name.hasSuffix(".json") {
            guard let bytes = try await read(name) else { continue }
            out.append(try JSONCoding.decode(VerificationRecord.self, from: bytes, what: name))
        }
        return out.sorted { $0.finished < $1.finished }
    }

    public func record(_ verification: VerificationRecord) async throws {
        try await write(VerificationRecord.objectName(shard: verification.shard, backup: verification.backup, finished: verification.finished),
                        try JSONCoding.encode(verification))
    }
}

extension Array where Element == VerificationRecord {
    /// The newest verification of each backup.
    public var latestByBackup: [String: VerificationRecord] {
        reduce(into: [:]) { $0[$1.backup] = $1 }
    }

    /// The newest verification that restored its backup and passed.
    public var lastRestoredAndPassed: VerificationRecord? {
        last { $0.passed && !$0.repositoryOnly }
    }
}
