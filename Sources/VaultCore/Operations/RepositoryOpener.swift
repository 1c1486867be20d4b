/// Opens the repository a policy names. The one place policy settings become a `Storage`.
public enum RepositoryOpener {
    public static func storage(for policy: Policy) throws -> any Storage {
        if let path = policy.repository.path { return PosixStorage(root: path) }
        throw VaultError(.usage, "policy \(policy.sourcePath): repository.s3 is not supported by this build yet; use repository.path")
    }

    public static func open(_ policy: Policy) async throws -> Repository {
        try await Repository.open(storage: storage(for: policy), compressionLevel: policy.compression.level) {
            try PassphraseLoader.load(policy.encryption)
        }
    }
}
