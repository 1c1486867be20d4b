import Foundation
import VaultSupport
import VaultCrypto

/// Proves that an object store honours conditional writes before vault relies on them.
/// Leases (`If-None-Match: *` to take, `If-Match` to renew and take over) and write-once
/// objects (archived WAL, manifests, restore points) are only safe if the store refuses a
/// write whose condition fails; a store that ignores the headers would let two writers both
/// "win". `init` and `check` run this against a probe object of their own and refuse a
/// store that fails it.
struct ConditionalWriteProbe {
    /// What one PUT of the probe object was answered.
    struct Answer {
        var status: Int
        var etag: String?
        var isSuccess: Bool { (200..<300).contains(status) }
    }

    /// Writes the probe object with these request headers.
    let put: ([(String, String)]) async throws -> Answer
    /// Removes the probe object.
    let delete: () async throws -> Void
    /// The store, for messages.
    let location: String

    func run() async throws {
        do {
            try await probe()
        } catch {
            try? await delete()
            throw error
        }
        try await delete()
    }

    private func probe() async throws {
        let created = try await put([("if-none-match", "*")])
        guard created.isSuccess, let etag = created.etag else {
            throw StorageError(.io, "\(location) refused a conditional PUT (If-None-Match: *) of a new object with HTTP \(created.status)")
        }
        let again = try await put([("if-none-match", "*")])
        guard !again.isSuccess else { throw ignored("a second PUT with If-None-Match: * replaced the object instead of failing with 412") }
        let stale = try await put([("if-match", "\"0000000000000000000000000000000\"")])
        guard !stale.isSuccess else { throw ignored("a PUT with If-Match on a wrong ETag replaced the object instead of failing with 412") }
        let renewed = try await put([("if-match", etag)])
        guard renewed.isSuccess else {
            throw ignored("a PUT with If-Match on the object's own ETag failed with HTTP \(renewed.status), so a lease could never be renewed")
        }
    }

    private func ignored(_ what: String) -> StorageError {
        StorageError(.misconfigured, "\(location) does not honour conditional writes: \(what); vault's leases and write-once objects depend on them, so this store cannot hold a repository")
    }
}

extension S3Storage {
    /// Runs `ConditionalWriteProbe` against `probes/conditional-<random>`.
    public func probeConditionalWrites() async throws {
        let name = "probes/conditional-\(Hex.encode(try SecureRandom.bytes(8)))"
        let key = try key(name)
        let client = self.client
        try await ConditionalWriteProbe(
            put: { headers in
                let r = try await client.send(.PUT, key: key, headers: headers, body: Array("vault conditional write probe\n".utf8))
                return .init(status: r.status, etag: r.headers.first(name: "etag"))
            },
            delete: { _ = try await client.send(.DELETE, key: key) },
            location: location
        ).run()
    }
}
