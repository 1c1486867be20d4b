import VaultFormat

/// An incremental's parent backup, read in path order a slice at a time: as the backup copies
/// the data directory in path-ordered batches, each batch gets the parent's files up to its
/// last path, with the extents they read. One manifest chunk is held at a time, so the
/// parent's size does not set the backup's memory.
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
            try whole.validate()
            current = BackupManifest(head: head, files: whole.files.sorted { $0.path < $1.path }, extents: whole.extents)
        }
    }

    /// The parent's files with paths up to `last` not returned before, by path, with pieces
    /// indexing the extents returned alongside.
    func files(through last: String) async throws -> (files: [String: BackupManifest.File], extents: [BackupManifest.Extent]) {
        var builder = ManifestStore.ChunkBuilder()
        while true {
            guard let chunk = current, position < chunk.files.count else {
                guard nextChunk < chunkCount else { break }
                let next = try await repository.chunk(nextChunk, of: head, listedPacks: packs)
                try next.validate()
                current = next
                nextChunk += 1
                position = 0
                continue
            }
            var file = chunk.files[position]
            guard file.path <= last else { break }
            for i in file.pieces.indices { file.pieces[i].extent = builder.index(of: chunk.extents[file.pieces[i].extent]) }
            builder.append(file)
            position += 1
        }
        let slice = builder.take()
        return (Dictionary(slice.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a }), slice.extents)
    }
}
