import Synchronization
import VaultSupport
import VaultCrypto
import VaultFormat
import VaultSystem

/// Collects sealed extents into pack objects of about `targetSize` bytes and stores each pack
/// when it is full, so an object store holds tens-of-MiB objects, not one per file.
///
/// Each extent is sealed on its own under the name `<pack>@<offset>`, so restore can fetch and
/// authenticate one extent with a ranged read, and an extent moved elsewhere fails to open.
final class PackWriter: Sendable {
    private let repository: Repository
    private let shard: String
    private let targetSize: Int
    /// A lock, not an actor: every extent of a backup passes through `append`, and an actor
    /// would cost each worker two executor hops per extent.
    private let state: Mutex<State>

    private struct State {
        var packName: String
        var buffer: [UInt8] = []
        var storedBytes: Int64 = 0
        var inFlight: Task<Void, any Error>?
    }

    init(repository: Repository, shard: String, targetSize: Int = 32 << 20) throws {
        self.repository = repository
        self.shard = shard
        self.targetSize = targetSize
        var initial = State(packName: try Self.newPackName(shard: shard))
        initial.buffer.reserveCapacity(targetSize + (1 << 20))
        state = Mutex(initial)
    }

    var storedBytes: Int64 { state.withLock { $0.storedBytes } }

    static func newPackName(shard: String) throws -> String {
        let id = Hex.encode(try SecureRandom.bytes(16))
        return "\(shard)/packs/\(id.prefix(2))/\(id)"
    }

    static func extentName(pack: String, offset: Int64) -> String { "\(pack)@\(offset)" }

    /// Seals a prepared extent into the current pack and returns where it lives. Choosing the
    /// offset, sealing under the name that includes it and adding the bytes happen under one
    /// lock, so no other append can interleave.
    func append(_ prepared: ObjectEnvelope.PreparedBody, sha256: String) async throws -> BackupManifest.Extent {
        let (extent, previous) = try state.withLock { s -> (BackupManifest.Extent, Task<Void, any Error>?) in
            var previous: Task<Void, any Error>?
            if !s.buffer.isEmpty && s.buffer.count + prepared.body.count > targetSize {
                previous = try rotate(&s)
            }
            let offset = Int64(s.buffer.count)
            let sealed = try repository.envelope.seal(prepared, name: Self.extentName(pack: s.packName, offset: offset))
            s.buffer.append(contentsOf: sealed)
            let extent = BackupManifest.Extent(pack: s.packName, offset: offset, storedLength: Int64(sealed.count),
                                               rawLength: Int64(prepared.plaintextLength), sha256: sha256)
            return (extent, previous)
        }
        // Waiting for the previous store keeps at most one pack per worker in flight.
        try await previous?.value
        return extent
    }

    /// Stores every pack, including the last partial one; returns once all are durable.
    func finish() async throws {
        let last = try state.withLock { s -> Task<Void, any Error>? in
            if !s.buffer.isEmpty { _ = try rotate(&s) }
            defer { s.inFlight = nil }
            return s.inFlight
        }
        try await last?.value
    }

    /// Hands the full pack to a background store and starts a new one; returns the store that
    /// was in flight before. Stores run one after another, each after the previous one.
    private func rotate(_ s: inout State) throws -> Task<Void, any Error>? {
        let name = s.packName
        let bytes = s.buffer
        s.buffer = []
        s.buffer.reserveCapacity(targetSize + (1 << 20))
        s.packName = try Self.newPackName(shard: shard)
        s.storedBytes += Int64(bytes.count)
        let previous = s.inFlight
        let storage = repository.storage
        // An unstructured task does not inherit the executor preference: name it, so the
        // store's writes and fsyncs stay off the cooperative pool.
        s.inFlight = Task(executorPreference: BlockingExecutor.shared) {
            try await previous?.value
            try await storage.put(name, bytes)
        }
        return previous
    }
}
