/// One thing wrong in a repository, named exactly: the object and what is wrong with it.
/// Verification lists every one; restore stops at the first.
public struct RepositoryProblem: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The object's name in the repository (a pack, a manifest, a WAL file), or what was
    /// checked when the problem is not one object (a smoke query, pg_amcheck).
    public var object: String
    public var problem: String
    /// What kind of problem it is, for a command that stops at it (not stored in records).
    public var kind: Kind

    public enum Kind: Sendable, Equatable {
        /// An object fails authentication or its checksum.
        case corrupt
        /// An object the backup or its WAL needs is missing.
        case missing
        /// The archive cannot reach what was asked (a target past its end, another timeline).
        case unreachable
        /// A check on a restored copy failed (recovery, pg_amcheck, a smoke query).
        case checkFailed
    }

    public init(_ object: String, _ problem: String, kind: Kind = .corrupt) {
        self.object = object
        self.problem = problem
        self.kind = kind
    }

    public var description: String { "\(object): \(problem)" }

    enum CodingKeys: String, CodingKey { case object, problem }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(try c.decode(String.self, forKey: .object), try c.decode(String.self, forKey: .problem))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(object, forKey: .object)
        try c.encode(problem, forKey: .problem)
    }
}
