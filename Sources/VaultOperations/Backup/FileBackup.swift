#if canImport(Glibc)
import Glibc
#endif
import VaultSupport
import VaultSystem
import VaultCrypto
import VaultCompression
import VaultPostgres
import VaultFormat

/// Backs up one file, or one part of a large file: reads it in extents, compresses and hashes
/// them, and hands them to the pack writer. For an incremental backup it reuses the parent's
/// bytes where it can: the whole file when size and mtime are unchanged, or, for WAL-logged
/// relation files, every page whose LSN predates the parent's start.
struct FileBackup {
    static let pageSize = 8192
    static let extentSize = 1 << 20
    /// Files larger than this are copied in parts of this size by whichever workers are free.
    /// A database's bytes mostly sit in a few 1 GiB relation segments; copied a file per
    /// worker, one of them would compress a big table alone while the other cores idle.
    static let partSize: Int64 = 32 << 20

    let level: Int32
    let packs: PackWriter
    /// The parent backup, when incremental: its start LSN and epoch, and its files by path.
    let parent: Parent?
    let progress: ProgressCounter?
    /// Set when the cluster has data checksums: pages are validated as they are read.
    let checksums: ChecksumCheck?

    struct ChecksumCheck {
        /// Pages changed after this LSN are being written right now; WAL replay restores them.
        var backupStart: LSN
    }

    struct Parent {
        var startLSN: LSN
        var startEpoch: Int64
        var files: [String: BackupManifest.File]
        var extents: [BackupManifest.Extent]
        /// From the server's WAL summaries (PostgreSQL 17+), when they cover the parent's start
        /// to this backup's: then changed relation files are read only where they changed.
        var changedBlocks: ChangedBlocks?
    }

    /// A piece that names its extent directly; turned into table indices when the manifest
    /// is assembled.
    struct PendingPiece {
        var fileOffset: Int64
        var length: Int64
        var extent: BackupManifest.Extent
        var extentOffset: Int64
    }

    struct Output {
        var path: String
        /// Where the file ends: for a part, the offset after its last byte read.
        var size: Int64
        var mode: UInt32
        var mtime: Int64
        var pieces: [PendingPiece]
        var bytesRead: Int64
        /// Blocks whose checksum was wrong (and stayed wrong when re-read).
        var badBlocks: [UInt32]
        /// Where the part began (0 for a whole file).
        var start: Int64 = 0
        /// False when the file ended (or vanished) before the part's end: later parts are void.
        var reachedEnd = true
    }

    /// A piece of work for one worker: a whole file, or the bytes of a large one from `start`
    /// up to `end` (nil: to wherever the file ends when it is read, so a file that grows during
    /// the backup is read whole).
    struct Part: Sendable {
        var entry: DataDirectoryScanner.Entry
        var start: Int64 = 0
        var end: Int64?

        var length: Int64 { (end ?? max(entry.size, start)) - start }
    }

    /// How `entry` is copied: whole when the parent's copy is reused or its WAL summaries say
    /// which blocks to read (both read little), else in parts of `partSize`.
    func parts(of entry: DataDirectoryScanner.Entry) -> [Part] {
        guard entry.size > Self.partSize, route(entry) == nil else { return [Part(entry: entry)] }
        var parts: [Part] = []
        var start: Int64 = 0
        while entry.size - start > Self.partSize {
            parts.append(Part(entry: entry, start: start, end: start + Self.partSize))
            start += Self.partSize
        }
        parts.append(Part(entry: entry, start: start, end: nil))
        return parts
    }

    /// The parent's whole copy, or its WAL summaries' changes, when they stand in for reading
    /// `entry` page by page; nil when the file is read.
    private enum Route {
        case unchanged(BackupManifest.File)
        case changedBlocks(BackupManifest.File, ChangedBlocks.Fork, RelationFile)
    }

    private func route(_ entry: DataDirectoryScanner.Entry) -> Route? {
        guard let parent, let old = parent.files[entry.path] else { return nil }
        if old.size == entry.size, old.mtime == entry.mtime, entry.mtime < parent.startEpoch - 1 {
            // Unchanged since before the parent started (one second of slack for coarse mtimes).
            return .unchanged(old)
        }
        if let relation = Self.relation(entry), relation.isPageTracked, let summaries = parent.changedBlocks,
           entry.size % Int64(Self.pageSize) == 0, old.size % Int64(Self.pageSize) == 0,
           let (fork, _) = summaries.changes(forPath: entry.path) {
            return .changedBlocks(old, fork, relation)
        }
        return nil
    }

    private static func relation(_ entry: DataDirectoryScanner.Entry) -> RelationFile? {
        RelationFile.isRelationPath(entry.path) ? RelationFile(String(entry.path.split(separator: "/").last ?? "")) : nil
    }

    func backup(_ part: Part, compressor: ZstdCompressor) async throws -> Output? {
        let entry = part.entry
        let route = part.start == 0 && part.end == nil ? route(entry) : nil
        if let parent, case .unchanged(let old) = route {
            progress?.add(entry.size)
            return Output(path: entry.path, size: entry.size, mode: entry.mode, mtime: entry.mtime,
                          pieces: old.pieces.map { reuse($0, parent) }, bytesRead: 0, badBlocks: [])
        }
        let fd = open(entry.absolutePath, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let e = Syscall.currentErrno
            // Dropped during the backup: WAL replay removes it anyway.
            if e == ENOENT { return part.start == 0 ? nil : Output(path: entry.path, size: part.start, mode: entry.mode, mtime: entry.mtime, pieces: [], bytesRead: 0, badBlocks: [], start: part.start, reachedEnd: false) }
            throw Syscall.error("open \(entry.absolutePath)", errno: e)
        }
        defer { close(fd) }
        if let parent, case .changedBlocks(let old, let fork, let relation) = route {
            return try await backupChangedBlocks(entry, fd: fd, relation: relation, fork: fork, parent: parent, old: old, compressor: compressor)
        }
        let relation = Self.relation(entry)
        let old = parent?.files[entry.path]
        let pageTracked = parent != nil && old != nil && (relation?.isPageTracked ?? false)
        var badBlocks: [UInt32] = []
        var pieces: [PendingPiece] = []
        var offset = part.start
        // Small files get a small buffer: most of a cluster's files are a few pages. Parts
        // start and end on extent boundaries, so a part's reads are whole buffers.
        let bufferSize = Int(min(Int64(Self.extentSize), max(Int64(Self.pageSize), (part.length + Int64(Self.pageSize) - 1) / Int64(Self.pageSize) * Int64(Self.pageSize))))
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        var reachedEnd = true
        while part.end.map({ offset < $0 }) ?? true {
            let n = try FileIO.preadFully(fd, into: &buffer, at: Int(offset), what: entry.absolutePath)
            if n == 0 { reachedEnd = part.end == nil; break }
            var chunk = n == buffer.count ? buffer : Array(buffer[0..<n])
            if let checksums, let relation {
                badBlocks += try validatePages(&chunk, at: offset, fd: fd, relation: relation, check: checksums, path: entry.absolutePath)
            }
            if pageTracked, let parent, let old {
                try await addChangedPages(chunk, at: offset, parent: parent, old: old, into: &pieces, compressor: compressor)
            } else {
                try await addExtent(chunk[...], at: offset, into: &pieces, compressor: compressor)
            }
            offset += Int64(n)
            progress?.add(Int64(n))
            if n < buffer.count { reachedEnd = part.end == nil || offset == part.end; break }
        }
        return Output(path: entry.path, size: offset, mode: entry.mode, mtime: entry.mtime, pieces: pieces,
                      bytesRead: offset - part.start, badBlocks: badBlocks, start: part.start, reachedEnd: reachedEnd)
    }

    /// Joins the parts of each file copied in parts, in file order. A file that ended before
    /// one of its parts' ends (truncated during the backup) ends there: WAL replay truncates
    /// it anyway, and nothing read after the short part is kept.
    static func joinParts(_ outputs: [Output]) -> [Output] {
        var joined: [Output] = []
        for parts in Dictionary(grouping: outputs, by: \.path).values {
            let ordered = parts.sorted { $0.start < $1.start }
            guard var file = ordered.first, file.start == 0 else { continue }
            for next in ordered.dropFirst() {
                guard file.reachedEnd, next.start == file.size else { break }
                file.pieces += next.pieces
                file.badBlocks += next.badBlocks
                file.bytesRead += next.bytesRead
                file.size = next.size
                file.reachedEnd = next.reachedEnd
            }
            joined.append(file)
        }
        return joined
    }

    /// Stores a file already read whole and checked by the caller (pg_control, whose CRC
    /// proves the read was not torn), in one extent.
    func backup(_ entry: DataDirectoryScanner.Entry, bytes: [UInt8], compressor: ZstdCompressor) async throws -> Output {
        var pieces: [PendingPiece] = []
        if !bytes.isEmpty { try await addExtent(bytes[...], at: 0, into: &pieces, compressor: compressor) }
        progress?.add(Int64(bytes.count))
        return Output(path: entry.path, size: Int64(bytes.count), mode: entry.mode, mtime: entry.mtime, pieces: pieces,
                      bytesRead: Int64(bytes.count), badBlocks: [])
    }

    /// Reads only the blocks the WAL summaries name, and any beyond the parent's copy of the
    /// file; the parent's pieces stand for the rest. A file that shrinks while it is read ends
    /// where the read came up short (WAL replay truncates it anyway).
    private func backupChangedBlocks(_ entry: DataDirectoryScanner.Entry, fd: Int32, relation: RelationFile, fork: ChangedBlocks.Fork,
                                     parent: Parent, old: BackupManifest.File, compressor: ZstdCompressor) async throws -> Output {
        let page = Int64(Self.pageSize)
        let oldBlocks = old.size / page
        let firstBlock = UInt32(relation.segment) * PageChecksum.blocksPerSegment
        func changed(_ i: Int64) -> Bool { i >= oldBlocks || fork.contains(firstBlock + UInt32(i)) }
        var pieces: [PendingPiece] = []
        var badBlocks: [UInt32] = []
        var bytesRead: Int64 = 0
        var end = entry.size / page
        var i: Int64 = 0
        while i < end {
            let isChanged = changed(i)
            var j = i + 1
            while j < end && changed(j) == isChanged { j += 1 }
            if isChanged {
                var at = i
                while at < j {
                    let count = min(j - at, Int64(Self.extentSize) / page)
                    var buffer = [UInt8](repeating: 0, count: Int(count * page))
                    let n = try FileIO.preadFully(fd, into: &buffer, at: Int(at * page), what: entry.absolutePath)
                    let whole = n / Self.pageSize * Self.pageSize
                    if whole < buffer.count { buffer.removeLast(buffer.count - whole) }
                    if whole > 0 {
                        if let checksums {
                            badBlocks += try validatePages(&buffer, at: at * page, fd: fd, relation: relation, check: checksums, path: entry.absolutePath)
                        }
                        try await addExtent(buffer[...], at: at * page, into: &pieces, compressor: compressor)
                        bytesRead += Int64(whole)
                    }
                    progress?.add(Int64(whole))
                    if Int64(whole) < count * page {
                        end = at + Int64(whole) / page
                        break
                    }
                    at += count
                }
            } else {
                for p in PieceMap.slice(old.pieces, from: i * page, to: j * page) { pieces.append(reuse(p, parent)) }
                progress?.add((j - i) * page)
            }
            i = j
        }
        return Output(path: entry.path, size: end * page, mode: entry.mode, mtime: entry.mtime, pieces: pieces, bytesRead: bytesRead, badBlocks: badBlocks)
    }

    /// Checks every whole page of `chunk`. A page that fails is read again (it may have been
    /// caught half-written); one whose LSN is past the backup's start is being changed now and
    /// WAL replay will restore it. Returns the blocks that are truly bad.
    private func validatePages(_ chunk: inout [UInt8], at base: Int64, fd: Int32, relation: RelationFile, check: ChecksumCheck, path: String) throws -> [UInt32] {
        var bad: [UInt32] = []
        let size = PageChecksum.pageSize
        var page = 0
        while (page + 1) * size <= chunk.count {
            let at = page * size
            let block = UInt32(relation.segment) * PageChecksum.blocksPerSegment + UInt32((base + Int64(at)) / Int64(size))
            if !PageChecksum.isValid(chunk, offset: at, block: block) && PageChecksum.lsn(chunk, offset: at) < check.backupStart.value {
                var again = [UInt8](repeating: 0, count: size)
                let n = try FileIO.preadFully(fd, into: &again, at: Int(base) + at, what: path)
                if n == size && (PageChecksum.isValid(again, offset: 0, block: block) || PageChecksum.lsn(again, offset: 0) >= check.backupStart.value) {
                    chunk.replaceSubrange(at..<(at + size), with: again)
                } else {
                    bad.append(block)
                }
            }
            page += 1
        }
        return bad
    }

    private func reuse(_ piece: BackupManifest.Piece, _ parent: Parent) -> PendingPiece {
        PendingPiece(fileOffset: piece.fileOffset, length: piece.length, extent: parent.extents[piece.extent], extentOffset: piece.extentOffset)
    }

    /// Stores the pages of `chunk` changed since the parent started; refers to the parent's
    /// copy for the rest.
    private func addChangedPages(_ chunk: [UInt8], at base: Int64, parent: Parent, old: BackupManifest.File,
                                 into pieces: inout [PendingPiece], compressor: ZstdCompressor) async throws {
        let pages = (chunk.count + Self.pageSize - 1) / Self.pageSize
        var runStart = 0
        var runChanged = isChanged(chunk, page: 0, base: base, parent: parent, oldSize: old.size)
        for page in 1...pages {
            let changed = page < pages ? isChanged(chunk, page: page, base: base, parent: parent, oldSize: old.size) : !runChanged
            guard changed != runChanged else { continue }
            let from = runStart * Self.pageSize, to = min(page * Self.pageSize, chunk.count)
            if runChanged {
                try await addExtent(chunk[from..<to], at: base + Int64(from), into: &pieces, compressor: compressor)
            } else {
                for p in PieceMap.slice(old.pieces, from: base + Int64(from), to: base + Int64(to)) {
                    pieces.append(reuse(p, parent))
                }
            }
            runStart = page
            runChanged = changed
        }
    }

    private func isChanged(_ chunk: [UInt8], page: Int, base: Int64, parent: Parent, oldSize: Int64) -> Bool {
        let start = page * Self.pageSize
        guard start + Self.pageSize <= chunk.count, base + Int64(start + Self.pageSize) <= oldSize else { return true }
        let hi = UInt64(chunk.readLE(UInt32.self, at: start))
        let lo = UInt64(chunk.readLE(UInt32.self, at: start + 4))
        let lsn = hi << 32 | lo
        // LSN 0: a new or never-written page; always copied (it compresses to nothing).
        return lsn == 0 || lsn >= parent.startLSN.value
    }

    private func addExtent(_ bytes: ArraySlice<UInt8>, at offset: Int64, into pieces: inout [PendingPiece], compressor: ZstdCompressor) async throws {
        let plain = Array(bytes)
        let sha = Hex.encode(try SHA256.hash(plain))
        let prepared = try ObjectEnvelope.prepare(plain, level: level, compressor: compressor)
        let extent = try await packs.append(prepared, sha256: sha)
        pieces.append(PendingPiece(fileOffset: offset, length: Int64(plain.count), extent: extent, extentOffset: 0))
    }
}
