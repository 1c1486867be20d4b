import VaultSupport
import VaultCrypto
import VaultFormat
import VaultSystem

/// Collects sealed extents into pack objects of about `targetSize` bytes and stores each pack
/// when it is full, so an object store holds tens-of-MiB objects, not one per file.
///
/// Each extent is sealed on its own under the name `<pack>@<offset>`, so restore can fetch and
/// authenticate one extent with a ranged read, and an extent moved elsewhere fails to open.
actor PackWriter {
    private let repository: Repository
    private let shard: String
    private let targetSize: Int
    private var packName: String
    private var buffer: [UInt8] = []
    private(set) var storedBytes: Int64 = 0
    private(set) var packsWritten: [String] = []
    private var inFlight: Task<Void, any Error>?

    init(repository: Repository, shard: String, targetSize: Int = 32 << 20) throws {
        self.repository = repository
        self.shard = shard
        self.targetSize = targetSize
        packName = try Self.newPackName(shard: shard)
        buffer.reserveCapacity(targetSize + (1 << 20))
    }

    static func newPackName(shard: String) throws -> String {
        let id = Hex.encode(try SecureRandom.bytes(16))
        return "\(shard)/packs/\(id.prefix(2))/\(id)"
    }

    static func extentName(pack: String, offset: Int64) -> String { "\(pack)@\(offset)" }

    /// Seals a prepared extent into the current pack and returns where it lives.
    func append(_ prepared: ObjectEnvelope.PreparedBody, sha256: String) async throws -> BackupManifest.Extent {
        if !buffer.isEmpty && buffer.count + prepared.body.count > targetSize {
            try await rotate()
        }
        // From here to the return there is no suspension point, so no other append can
        // interleave between choosing the offset and adding the bytes.
        let offset = Int64(buffer.count)
        let sealed = try repository.envelope.seal(prepared, name: Self.extentName(pack: packName, offset: offset))
        buffer.append(contentsOf: sealed)
        return BackupManifest.Extent(pack: packName, offset: offset, storedLength: Int64(sealed.count),
                                     rawLength: Int64(prepared.plaintextLength), sha256: sha256)
    }

    /// Stores every pack, including the last partial one; returns once all are durable.
    func finish() async throws {
        if !buffer.isEmpty { try await rotate() }
        try await inFlight?.value
        inFlight = nil
    }

    /// Hands the full pack to a background store and starts a new one. The swap happens
    /// before any suspension, so appends never land in a pack already being stored; waiting
    /// for the previous store keeps at most one pack per worker in flight.
    private func rotate() async throws {
        let name = packName
        let bytes = buffer
        buffer = []
        buffer.reserveCapacity(targetSize + (1 << 20))
        packName = try Self.newPackName(shard: shard)
        storedBytes += Int64(bytes.count)
        packsWritten.append(name)
        let previous = inFlight
        let storage = repository.storage
        // An unstructured task does not inherit the executor preference: name it, so the
        // store's writes and fsyncs stay off the cooperative pool.
        inFlight = Task(executorPreference: BlockingExecutor.shared) {
            try await previous?.value
            try await storage.put(name, bytes)
        }
        try await previous?.value
    }
}
