import Foundation
import VaultSupport
import VaultFormat
import VaultPolicy

/// One data key of the repository and about how many objects it has sealed, against AES-GCM's
/// limit for random nonces: what tells an operator when to run `vault key new`.
public struct KeyUsage: Encodable, Sendable, Equatable {
    /// 1 for the root key, then 2, 3, … for the keys `vault key new` started.
    public var generation: Int
    public var keyId: String
    /// Whether new objects are sealed with it.
    public var current: Bool
    public var created: String
    /// Encryptions the audit trail records under the key, plus archived WAL files stored while
    /// it was current (archive-push writes no audit record). Expired WAL is no longer counted,
    /// and a process killed before its record counts nothing: an estimate, not a bound.
    public var encryptions: Int64
    public var limit: Int64
    /// A key the audit trail says sealed objects, which the repository no longer holds (its
    /// `keys/later/` record was lost): those objects cannot be opened. Generation 0.
    public var missing: Bool?

    /// Past a quarter of the limit a new key is due.
    public var due: Bool { encryptions * 4 >= limit }

    public var text: String {
        if missing == true {
            return "  KEY MISSING: \(keyId) sealed about \(encryptions) objects, but the repository does not hold it (a keys/later/ record was lost): put the record back from a copy; those objects cannot be opened without it"
        }
        let share = Double(encryptions) / Double(limit) * 100
        var line = "  key \(generation) \(keyId)\(current ? " (current)" : ""): about \(encryptions) encryptions, \(share < 0.01 ? "under 0.01%" : String(format: "%.2f%%", share)) of the 2^32 limit"
        if due && current { line += "; START A NEW KEY: vault key new" }
        return line
    }

    /// The usage of every key of `repository` (none when it is not encrypted). Reads every
    /// audit record and lists each shard's WAL.
    public static func read(repository: Repository, shards: [String]) async throws -> [KeyUsage] {
        guard let keyring = repository.envelope.keyring else { return [] }
        var counts: [String: Int64] = [:]
        for record in try await repository.auditRecords() {
            for (key, n) in record.encryptions ?? [:] { counts[key, default: 0] += n }
        }
        // A WAL file counts for the key current when it was stored (the store's clock against
        // the key's creation time; a file stored in the second a key was started may land on
        // either side).
        let starts = keyring.keys.enumerated().map { index, key in
            index == 0 ? (Timestamp.parse(repository.config.created) ?? .distantPast) : (key.created.flatMap(Timestamp.parse) ?? .distantPast)
        }
        for shard in shards {
            for object in try await repository.storage.listSizes(prefix: "\(shard)/wal/") {
                let when = object.modified ?? .distantFuture
                let index = starts.lastIndex { $0 <= when } ?? 0
                counts[keyring.keys[index].idHex, default: 0] += 1
            }
        }
        let held = keyring.keys.enumerated().map { index, key in
            KeyUsage(generation: index + 1, keyId: key.idHex, current: index == keyring.keys.count - 1,
                     created: index == 0 ? repository.config.created : key.created ?? "?",
                     encryptions: counts[key.idHex] ?? 0, limit: DataKey.encryptionLimit)
        }
        let known = Set(keyring.keys.map(\.idHex))
        let lost = counts.filter { !known.contains($0.key) }.sorted { $0.key < $1.key }.map { id, n in
            KeyUsage(generation: 0, keyId: id, current: false, created: "?", encryptions: n, limit: DataKey.encryptionLimit, missing: true)
        }
        return held + lost
    }
}
