import VaultCrypto
import VaultSupport

/// How manifests are laid out in the repository.
///
/// Format 2: the body (files sorted by path, with the extents they read) is cut into chunks
/// of about `chunkPieces` pieces, each its own sealed object `<shard>/chunks/<id>/NNNNNN` with
/// its own extent table; the head (`<shard>/backups/<id>.manifest`) is written after every
/// chunk and names them with their SHA-256, and lists the packs the backup needs (that list
/// grows with the backup: about 13,000 names per TB of 32 MiB packs). A listing decodes heads
/// only. Format 1 (head and body in one `<id>.manifest`) is still read; nothing writes it.
public enum ManifestStore {
    public static let currentFormat = 2
    /// Pieces per chunk: about 2 MB of JSON, decoded in a few MB.
    public static let chunkPieces = 16_384

    /// One chunk of a format-2 body, as the head names it.
    public struct ChunkRef: Codable, Sendable, Equatable {
        public var files: Int
        public var extents: Int
        /// SHA-256 (hex) of the chunk's plaintext.
        public var sha256: String

        public init(files: Int, extents: Int, sha256: String) {
            self.files = files
            self.extents = extents
            self.sha256 = sha256
        }
    }

    /// A run of files (in path order) and the extents they read; `Piece.extent` indexes this
    /// chunk's own `extents`.
    public struct Chunk: Codable, Sendable {
        public var files: [BackupManifest.File]
        public var extents: [BackupManifest.Extent]
    }

    /// Chunks live under their own prefix, so listing a shard's backups lists heads only.
    public static func chunkName(shard: String, id: String, index: Int) -> String {
        "\(chunkPrefix(shard))/\(id)/\(String(format: "%06d", index))"
    }

    public static func chunkPrefix(_ shard: String) -> String { "\(shard)/chunks" }

    /// The backup id and index a chunk object's name gives, or nil when it is not a chunk's.
    public static func chunk(named name: String) -> (id: String, index: Int)? {
        let parts = name.split(separator: "/")
        guard parts.count >= 4, parts[parts.count - 3] == "chunks", let index = Int(parts[parts.count - 1]) else { return nil }
        return (String(parts[parts.count - 2]), index)
    }

    /// Splits a body into chunks of about `maxPieces` pieces at file boundaries, files in path
    /// order. A piece naming no extent keeps an index no chunk has, for validation to name.
    public static func chunks(of manifest: BackupManifest, maxPieces: Int = chunkPieces) -> [Chunk] {
        var chunks: [Chunk] = []
        var files: [BackupManifest.File] = []
        var extents: [BackupManifest.Extent] = []
        var local: [Int: Int] = [:]
        var pieces = 0
        for var file in manifest.files.sorted(by: { $0.path < $1.path }) {
            if pieces >= maxPieces {
                chunks.append(Chunk(files: files, extents: extents))
                files = []; extents = []; local = [:]; pieces = 0
            }
            for i in file.pieces.indices {
                let global = file.pieces[i].extent
                if !manifest.extents.indices.contains(global) {
                    file.pieces[i].extent = -1
                } else if let mapped = local[global] {
                    file.pieces[i].extent = mapped
                } else {
                    local[global] = extents.count
                    file.pieces[i].extent = extents.count
                    extents.append(manifest.extents[global])
                }
            }
            pieces += file.pieces.count
            files.append(file)
        }
        if !files.isEmpty || chunks.isEmpty { chunks.append(Chunk(files: files, extents: extents)) }
        return chunks
    }
}

extension Repository {
    /// Stores a manifest in the current format: its chunks, then (after `beforeHead`, which
    /// may refuse) its head. The backup becomes visible with the head.
    public func writeManifest(_ manifest: BackupManifest, chunkPieces: Int = ManifestStore.chunkPieces, beforeHead: () async throws -> Void = {}) async throws {
        var head = manifest.head
        head.format = ManifestStore.currentFormat
        var refs: [ManifestStore.ChunkRef] = []
        for (index, chunk) in ManifestStore.chunks(of: manifest, maxPieces: chunkPieces).enumerated() {
            let bytes = try JSONCoding.encode(chunk, pretty: false)
            try await write(ManifestStore.chunkName(shard: head.shard, id: head.id, index: index), bytes)
            refs.append(ManifestStore.ChunkRef(files: chunk.files.count, extents: chunk.extents.count, sha256: Hex.encode(try SHA256.hash(bytes))))
        }
        head.chunks = refs
        head.packNames = manifest.packs.sorted()
        try await beforeHead()
        try await write(BackupManifest.objectName(shard: head.shard, id: head.id), try JSONCoding.encode(head, pretty: false))
    }

    /// One backup's head, or nil when the backup does not exist. `withPacks: false` drops the
    /// pack list (the bulk of a large backup's head) once decoded.
    public func head(shard: String, id: String, withPacks: Bool = false) async throws -> BackupHead? {
        guard let (name, bytes, head) = try await readHead(shard: shard, id: id) else { return nil }
        var out = head
        if head.format == 1 {
            // The body is inline: the pack list is only known by decoding it.
            if withPacks { out.packNames = try JSONCoding.decode(BackupManifest.self, from: bytes, what: name).packs.sorted() }
        } else if !withPacks {
            out.packNames = nil
        }
        return out
    }

    /// The head object's name, plaintext and decoded head, its format checked.
    private func readHead(shard: String, id: String) async throws -> (String, [UInt8], BackupHead)? {
        let name = BackupManifest.objectName(shard: shard, id: id)
        guard let bytes = try await read(name) else { return nil }
        let head = try JSONCoding.decode(BackupHead.self, from: bytes, what: name)
        switch head.format {
        case 1:
            guard head.chunks == nil, head.packNames == nil else { throw FormatError(.corrupt, "\(name) is format 1 but names chunks or packs") }
        case ManifestStore.currentFormat:
            guard head.chunks != nil, head.packNames != nil else { throw FormatError(.corrupt, "\(name) names no chunks or packs") }
        default:
            throw FormatError(.refused, "\(name) has manifest format \(head.format); this vault reads formats 1 and \(ManifestStore.currentFormat)")
        }
        return (name, bytes, head)
    }

    /// Every backup of a shard, oldest first, heads only (without their pack lists).
    public func heads(shard: String) async throws -> [BackupHead] {
        var out: [BackupHead] = []
        for id in try await backupIDs(shard: shard) {
            if let head = try await head(shard: shard, id: id) { out.append(head) }
        }
        return out
    }

    /// The packs a backup reads from.
    public func packNames(of head: BackupHead) async throws -> [String] {
        if let names = head.packNames { return names }
        guard let full = try await self.head(shard: head.shard, id: head.id, withPacks: true), let names = full.packNames else {
            throw FormatError(.corrupt, "backup \(head.id) of shard \(head.shard) vanished while its packs were listed")
        }
        return names
    }

    /// One backup's whole manifest, or nil when it does not exist. Format 2 chunks are checked
    /// against the SHA-256 and counts the head records.
    public func manifest(shard: String, id: String) async throws -> BackupManifest? {
        guard let (name, bytes, head) = try await readHead(shard: shard, id: id) else { return nil }
        guard head.format == ManifestStore.currentFormat else { return try JSONCoding.decode(BackupManifest.self, from: bytes, what: name) }
        var manifest = BackupManifest(head: head, files: [], extents: [])
        manifest.packNames = nil
        try await forEachChunk(of: head) { chunk in
            let base = manifest.extents.count
            for f in chunk.files.indices {
                var file = chunk.files[f]
                for p in file.pieces.indices {
                    let local = file.pieces[p].extent
                    // Validation names out-of-range indices; keep them out of range here.
                    file.pieces[p].extent = chunk.extents.indices.contains(local) ? base + local : -1
                }
                manifest.files.append(file)
            }
            manifest.extents += chunk.extents
        }
        return manifest
    }

    /// A backup's body one chunk at a time, in path order, each as a manifest with `head`
    /// whose pieces index its own `extents`; so a reader holds one chunk, not the whole body.
    /// A format-1 body comes whole, in one call.
    public func forEachChunk(of head: BackupHead, _ body: (BackupManifest) async throws -> Void) async throws {
        guard head.format == ManifestStore.currentFormat, let refs = head.chunks else {
            guard let whole = try await manifest(shard: head.shard, id: head.id) else {
                throw FormatError(.corrupt, "\(BackupManifest.objectName(shard: head.shard, id: head.id)) is missing")
            }
            try await body(whole)
            return
        }
        // Expire keeps what the head's pack list names: a chunk reading any other pack is
        // refused, so a backup that verifies can never lose a pack to expire.
        let listed = Set(try await packNames(of: head))
        var lastPath: String?
        for (index, ref) in refs.enumerated() {
            let name = ManifestStore.chunkName(shard: head.shard, id: head.id, index: index)
            guard let bytes = try await read(name) else {
                throw FormatError(.corrupt, "\(name) is missing: backup \(head.id) of shard \(head.shard) cannot be read")
            }
            guard Hex.encode(try SHA256.hash(bytes)) == ref.sha256 else {
                throw FormatError(.corrupt, "\(name) does not hold the bytes its manifest recorded (SHA-256 differs)")
            }
            let chunk = try JSONCoding.decode(ManifestStore.Chunk.self, from: bytes, what: name)
            guard chunk.files.count == ref.files, chunk.extents.count == ref.extents else {
                throw FormatError(.corrupt, "\(name) holds \(chunk.files.count) files and \(chunk.extents.count) extents; its manifest recorded \(ref.files) and \(ref.extents)")
            }
            // Paths ascend across the whole body: no file is listed twice, even in two chunks.
            for file in chunk.files {
                if let lastPath, file.path <= lastPath {
                    throw FormatError(.corrupt, "\(name) lists '\(file.path)' after '\(lastPath)': files out of order or listed twice")
                }
                lastPath = file.path
            }
            if let unlisted = chunk.extents.first(where: { !listed.contains($0.pack) }) {
                throw FormatError(.corrupt, "\(name) reads pack \(unlisted.pack), which \(BackupManifest.objectName(shard: head.shard, id: head.id)) does not list")
            }
            var part = BackupManifest(head: head, files: chunk.files, extents: chunk.extents)
            part.packNames = nil
            try await body(part)
        }
    }
}
