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
        try await Repository.open(storage: storage(for: policy), compressionLevel: policy.compression.level) {
            try PassphraseLoader.load(policy.encryption)
        }
    }
}
