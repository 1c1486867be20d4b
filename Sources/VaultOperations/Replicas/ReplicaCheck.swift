/// One check of a replica command, with its result: what `--dry-run` prints and what a refusal
/// names.
public struct ReplicaCheck: Sendable, Codable, Equatable {
    public var name: String
    public var passed: Bool
    public var detail: String

    public init(_ name: String, _ passed: Bool, _ detail: String) {
        self.name = name
        self.passed = passed
        self.detail = detail
    }

    public var text: String { "\(passed ? "ok  " : "FAIL") \(name): \(detail)" }
}
