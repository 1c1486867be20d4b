import VaultFormat

/// An incremental's parent backup, read in path order a slice at a time: as the backup copies
/// the data directory in path-ordered batches, each batch gets the parent's copies of its own
/// files, with the extents they read. One manifest chunk is held at a time, so the parent's
/// size does not set the backup's memory. Its body was validated whole before (`readParent`).
final class ParentBody {
    let head: BackupHead
    /// The packs the parent reads from: an extent in one of them is reused, not new.
    let packs: Set<String>
    private let repository: Repository
    private let chunkCount: Int
    private var nextChunk = 0
    private var current: BackupManifest?
    private var position = 0

    init(_ head: BackupHead, repository: Repository) async throws {
        self.head = head
        self.repository = repository
        packs = Set(try await repository.packNames(of: head))
        if head.format == ManifestStore.currentFormat, let chunks = head.chunks {
            chunkCount = chunks.count
        } else {
            // Format 1: the body is one object.
            chunkCount = 0
            guard let whole = try await repository.manifest(shard: head.shard, id: head.id) else {
                throw OperationError(.notFound, "the parent backup \(head.id) of shard \(head.shard) vanished")
            }
            current = BackupManifest(head: head, files: whole.files.sorted { $0.path < $1.path }, extents: whole.extents)
        }
    }

    /// The parent's files among `paths` (a batch, in path order, after every earlier batch),
    /// by path, with pieces indexing the extents returned alongside. Parent files the batch
    /// does not have (dropped since) are passed over.
    func files(for paths: Set<String>, through last: String) async throws -> (files: [String: BackupManifest.File], extents: [BackupManifest.Extent]) {
        var builder = ManifestStore.ChunkBuilder()
        while true {
            guard let chunk = current, position < chunk.files.count else {
                guard nextChunk < chunkCount else { break }
                // Validated before the backup began (`readParent`); the head's SHA-256 proves
                // these are the same bytes.
                current = try await repository.chunk(nextChunk, of: head, listedPacks: packs)
                nextChunk += 1
                position = 0
                continue
            }
            var file = chunk.files[position]
            guard file.path <= last else { break }
            position += 1
            guard paths.contains(file.path) else { continue }
            for i in file.pieces.indices { file.pieces[i].extent = builder.index(of: chunk.extents[file.pieces[i].extent]) }
            builder.append(file)
        }
        let slice = builder.take()
        return (Dictionary(slice.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a }), slice.extents)
    }
}
