import Synchronization
import VaultStorage
import VaultPolicy
import VaultFormat

/// Opens the repository a policy names. The one place policy settings become a `Storage`.
public enum RepositoryOpener {
    public static func storage(for policy: Policy) throws -> any Storage {
        if let path = policy.repository.path { return PosixStorage(root: path) }
        guard let s3 = policy.repository.s3 else { throw OperationError(.usage, "policy \(policy.sourcePath) names no repository") }
        return try S3Storage(settings: s3, credentials: try S3CredentialsLoader.load(file: s3.credentialsFile))
    }

    public static func open(_ policy: Policy) async throws -> Repository {
        let repository = try await Repository.open(storage: storage(for: policy), compressionLevel: policy.compression.level) {
            try KeySecretLoader.load(policy.encryption)
        }
        remember(repository, for: policy)
        return repository
    }

    /// The repository this process opened last for the policy's location, for the audit
    /// record written as a command ends: it opens without asking for the secret again, and
    /// still opens after `vault key rotate` made the policy's old secret useless.
    public static func opened(_ policy: Policy) -> Repository? {
        last.withLock { $0?.identity == policy.repository.identity ? $0?.repository : nil }
    }

    static func remember(_ repository: Repository, for policy: Policy) {
        last.withLock { $0 = (policy.repository.identity, repository) }
    }

    private static let last = Mutex<(identity: String, repository: Repository)?>(nil)
}
