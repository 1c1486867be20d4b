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
            try await flush()
        }
        let offset = Int64(buffer.count)
        let sealed = try repository.envelope.seal(prepared, name: Self.extentName(pack: packName, offset: offset))
        buffer.append(contentsOf: sealed)
        return BackupManifest.Extent(pack: packName, offset: offset, storedLength: Int64(sealed.count),
                                     rawLength: Int64(prepared.plaintextLength), sha256: sha256)
    }

    /// Stores the current pack (durably) and starts a new one.
    func flush() async throws {
        guard !buffer.isEmpty else { return }
        try await repository.storage.put(packName, buffer)
        storedBytes += Int64(buffer.count)
        packsWritten.append(packName)
        buffer.removeAll(keepingCapacity: true)
        packName = try Self.newPackName(shard: shard)
    }
}
