import VaultFormat

/// A verification as `list` and `status` report it.
public struct VerificationSummary: Encodable, Sendable {
    public var backup: String
    public var finished: String
    public var passed: Bool
    public var repositoryOnly: Bool
    public var recoverySeconds: Double?
    public var firstProblem: String?

    public init(_ r: VerificationRecord) {
        backup = r.backup
        finished = r.finished
        passed = r.passed
        repositoryOnly = r.repositoryOnly
        recoverySeconds = r.timings.recoverySeconds
        firstProblem = r.problems.first?.description
    }
}
