import VaultCrypto
import VaultSupport

/// How manifests are laid out in the repository.
///
/// Format 2: the body (files sorted by path, with the extents they read) is cut at file
/// boundaries into chunks of about `chunkPieces` pieces, each its own sealed object
/// `<shard>/chunks/<id>/NNNNNN` with its own extent table; the head
/// (`<shard>/backups/<id>.manifest`) is written after every chunk, names them with their
/// SHA-256, and lists the packs the backup needs (that list grows with the backup: about
/// 13,000 names per TB of 32 MiB packs). A listing decodes heads only. Format 1 (head and body
/// in one `<id>.manifest`) is still read; nothing writes it.
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
        let n = String(index)
        return "\(chunkPrefix(shard))/\(id)/\(String(repeating: "0", count: max(0, 6 - n.count)))\(n)"
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
        var builder = ChunkBuilder()
        for var file in manifest.files.sorted(by: { $0.path < $1.path }) {
            if builder.pieces >= maxPieces { chunks.append(builder.take()) }
            for i in file.pieces.indices {
                let global = file.pieces[i].extent
                file.pieces[i].extent = manifest.extents.indices.contains(global) ? builder.index(of: manifest.extents[global]) : -1
            }
            builder.append(file)
        }
        if !builder.isEmpty || chunks.isEmpty { chunks.append(builder.take()) }
        return chunks
    }

    /// Collects files (appended in path order) and the extents they read into one chunk,
    /// each extent listed once.
    public struct ChunkBuilder {
        private var chunk = Chunk(files: [], extents: [])
        private var indices: [BackupManifest.Extent: Int] = [:]
        public private(set) var pieces = 0

        public init() {}

        public var isEmpty: Bool { chunk.files.isEmpty }

        /// `extent`'s index in this chunk's table, added when new.
        public mutating func index(of extent: BackupManifest.Extent) -> Int {
            if let i = indices[extent] { return i }
            indices[extent] = chunk.extents.count
            chunk.extents.append(extent)
            return chunk.extents.count - 1
        }

        /// A file whose pieces index this chunk's table (`index(of:)`).
        public mutating func append(_ file: BackupManifest.File) {
            pieces += file.pieces.count
            chunk.files.append(file)
        }

        /// The chunk so far; the builder starts again empty.
        public mutating func take() -> Chunk {
            defer { self = ChunkBuilder() }
            return chunk
        }
    }

    /// Writes a body's chunks as they are produced (in any order, each at the index `reserve`
    /// gave it, indices in path order), then the head once every reserved chunk is written.
    public final class Writer {
        let repository: Repository
        public let shard: String
        public let id: String
        private var refs: [Int: ChunkRef] = [:]
        /// First and last path of each chunk written, to prove the body ascends before the
        /// head is written.
        private var ranges: [Int: (first: String, last: String)] = [:]
        private var reserved = 0
        private var packs = Set<String>()

        public init(repository: Repository, shard: String, id: String) {
            self.repository = repository
            self.shard = shard
            self.id = id
        }

        /// The next chunk's index.
        public func reserve() -> Int {
            reserved += 1
            return reserved - 1
        }

        public func write(_ chunk: Chunk, at index: Int) async throws {
            guard index < reserved, refs[index] == nil else {
                throw FormatError(.refused, "backup \(id) of shard \(shard): manifest chunk \(index) was not reserved or is written twice")
            }
            if let first = chunk.files.first?.path, let last = chunk.files.last?.path { ranges[index] = (first, last) }
            let bytes = try JSONCoding.encode(chunk, pretty: false)
            try await repository.write(chunkName(shard: shard, id: id, index: index), bytes)
            refs[index] = ChunkRef(files: chunk.files.count, extents: chunk.extents.count, sha256: Hex.encode(try SHA256.hash(bytes)))
            for extent in chunk.extents { packs.insert(extent.pack) }
        }

        /// Writes `head` naming every chunk and pack written, after `beforeHead` (which may
        /// refuse); returns the head as written.
        public func finish(_ head: BackupHead, beforeHead: () async throws -> Void = {}) async throws -> BackupHead {
            guard head.shard == shard, head.id == id else {
                throw FormatError(.refused, "backup \(id) of shard \(shard): the head names backup \(head.id) of shard \(head.shard); the backup was not published")
            }
            let chunks = (0..<reserved).compactMap { refs[$0] }
            guard chunks.count == reserved else {
                throw FormatError(.refused, "backup \(id) of shard \(shard): \(reserved - chunks.count) of its \(reserved) manifest chunks were not written; the backup was not published")
            }
            // Paths ascend from chunk to chunk: no file is listed twice, as readers require.
            var previous: String?
            for index in 0..<reserved {
                guard let range = ranges[index] else { continue }
                if let previous, range.first <= previous {
                    throw FormatError(.refused, "backup \(id) of shard \(shard): manifest chunk \(index) starts at '\(range.first)', not after '\(previous)'; the backup was not published")
                }
                previous = range.last
            }
            var head = head
            head.format = currentFormat
            head.chunks = chunks
            head.packNames = packs.sorted()
            try await beforeHead()
            try await repository.write(BackupManifest.objectName(shard: shard, id: id), try JSONCoding.encode(head, pretty: false))
            return head
        }
    }
}

extension Repository {
    /// Stores a manifest in the current format: its chunks, then (after `beforeHead`, which
    /// may refuse) its head. The backup becomes visible with the head.
    public func writeManifest(_ manifest: BackupManifest, chunkPieces: Int = ManifestStore.chunkPieces, beforeHead: () async throws -> Void = {}) async throws {
        let writer = ManifestStore.Writer(repository: self, shard: manifest.shard, id: manifest.id)
        for chunk in ManifestStore.chunks(of: manifest, maxPieces: chunkPieces) {
            try await writer.write(chunk, at: writer.reserve())
        }
        _ = try await writer.finish(manifest.head, beforeHead: beforeHead)
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
            guard let chunks = head.chunks, !chunks.isEmpty, head.packNames != nil else { throw FormatError(.corrupt, "\(name) names no chunks or packs") }
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
        for index in refs.indices {
            let part = try await chunk(index, of: head, listedPacks: listed)
            // Paths ascend across the whole body: no file is listed twice, even in two chunks.
            for file in part.files {
                if let lastPath, file.path <= lastPath {
                    throw FormatError(.corrupt, "\(ManifestStore.chunkName(shard: head.shard, id: head.id, index: index)) lists '\(file.path)' after '\(lastPath)': files out of order or listed twice")
                }
                lastPath = file.path
            }
            try await body(part)
        }
    }

    /// Chunk `index` of a format-2 body as a manifest with `head`, checked against the head's
    /// record of it and against `listedPacks` (the head's pack list).
    public func chunk(_ index: Int, of head: BackupHead, listedPacks listed: Set<String>) async throws -> BackupManifest {
        let name = ManifestStore.chunkName(shard: head.shard, id: head.id, index: index)
        guard let refs = head.chunks, refs.indices.contains(index) else { throw FormatError(.corrupt, "\(name) is not one of its manifest's chunks") }
        let ref = refs[index]
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
        if let unlisted = chunk.extents.first(where: { !listed.contains($0.pack) }) {
            throw FormatError(.corrupt, "\(name) reads pack \(unlisted.pack), which \(BackupManifest.objectName(shard: head.shard, id: head.id)) does not list")
        }
        var part = BackupManifest(head: head, files: chunk.files, extents: chunk.extents)
        part.packNames = nil
        return part
    }
}
