#if canImport(Glibc)
import Glibc
#endif
import VaultSupport
import VaultSystem
import VaultCrypto
import VaultFormat

/// Writes a backup's bytes into a laid-out directory, extent by extent in parallel: each
/// stored extent is fetched, authenticated and checked once (`ExtentRun.open`), then copied to every file
/// range that uses it. In delta mode an extent whose file ranges already hash to its
/// checksum is not fetched at all, and a fetched one is compared page by page so only
/// differing pages are written.
struct ExtentRestorer {
    struct Totals: Sendable {
        var bytesWritten: Int64 = 0
        var bytesUnchanged: Int64 = 0
        var extentsFetched = 0

        static func + (a: Totals, b: Totals) -> Totals {
            Totals(bytesWritten: a.bytesWritten + b.bytesWritten, bytesUnchanged: a.bytesUnchanged + b.bytesUnchanged,
                   extentsFetched: a.extentsFetched + b.extentsFetched)
        }
    }

    struct Use: Sendable {
        var path: String
        var piece: BackupManifest.Piece
    }

    let repository: Repository
    let manifest: BackupManifest
    let directory: RestoreTargetDirectory
    let parallel: Int
    let delta: Bool
    /// The files of a fresh restore still being created, whose writers wait for their file.
    var layout: ConcurrentLayout?

    static let comparePage = 8192

    func run() async throws -> Totals {
        // Every piece that reads from an extent, grouped so the extent is fetched once.
        var byExtent: [[Use]] = Array(repeating: [], count: manifest.extents.count)
        for file in manifest.files {
            for piece in file.pieces { byExtent[piece.extent].append(Use(path: try directory.writePath(file.path), piece: piece)) }
        }
        let uses = byExtent
        var needed = Array(uses.indices.filter { !uses[$0].isEmpty })
        var totals = Totals()
        if delta {
            // Extents whose file ranges already hash to their checksum are not fetched at all.
            let (fetch, unchanged) = try await parallelMap(needed) { index in
                try uses[index].allSatisfy { try alreadyMatches($0, manifest.extents[index]) } ? nil : index
            }
            needed = fetch
            totals.bytesUnchanged = unchanged.reduce(0) { sum, index in sum + uses[index].reduce(0) { $0 + $1.piece.length } }
        }
        let work = WorkQueue(ExtentRun.plan(needed, extents: manifest.extents))
        return try await withThrowingTaskGroup(of: Totals.self) { group in
            for _ in 0..<max(1, parallel) {
                group.addTask {
                    var totals = Totals()
                    while let run = work.next() {
                        let bytes = try await run.fetch(repository)
                        for index in run.members {
                            let plain = try run.open(manifest.extents[index], in: bytes, repository: repository, checkHash: false)
                            totals.extentsFetched += 1
                            try write(plain, uses: uses[index], into: &totals)
                        }
                    }
                    return totals
                }
            }
            for try await t in group { totals = totals + t }
            return totals
        }
    }

    /// `body` over `items` on `parallel` workers; returns the items it kept and those it dropped.
    private func parallelMap(_ items: [Int], _ body: @escaping @Sendable (Int) throws -> Int?) async throws -> (kept: [Int], dropped: [Int]) {
        let work = WorkQueue(items)
        return try await withThrowingTaskGroup(of: ([Int], [Int]).self) { group in
            for _ in 0..<max(1, parallel) {
                group.addTask {
                    var kept: [Int] = [], dropped: [Int] = []
                    while let item = work.next() {
                        if let k = try body(item) { kept.append(k) } else { dropped.append(item) }
                    }
                    return (kept, dropped)
                }
            }
            var kept: [Int] = [], dropped: [Int] = []
            for try await (k, d) in group {
                kept += k
                dropped += d
            }
            return (kept, dropped)
        }
    }

    private func write(_ plain: [UInt8], uses: [Use], into totals: inout Totals) throws {
        for use in uses {
            let flags = (delta ? O_RDWR : O_WRONLY) | O_CLOEXEC
            let fd = try layout?.open(use.path, flags: flags) ?? Syscall.call("open \(use.path)") { open(use.path, flags) }
            defer { close(fd) }
            let written = delta ? try writeDiffering(plain, use, fd: fd) : try write(plain, use, range: 0..<Int(use.piece.length), fd: fd)
            totals.bytesWritten += written
            totals.bytesUnchanged += use.piece.length - written
        }
    }

    /// Whether the file already holds exactly this extent at this piece (whole-extent pieces
    /// only: their SHA-256 is the extent's).
    private func alreadyMatches(_ use: Use, _ extent: BackupManifest.Extent) throws -> Bool {
        guard use.piece.extentOffset == 0, use.piece.length == extent.rawLength else { return false }
        let local = try FileIO.readRange(use.path, offset: Int(use.piece.fileOffset), length: Int(use.piece.length))
        guard local.count == Int(use.piece.length) else { return false }
        return Hex.encode(try SHA256.hash(local)) == extent.sha256
    }

    /// Compares the file with the extent page by page and writes only differing runs.
    private func writeDiffering(_ plain: [UInt8], _ use: Use, fd: Int32) throws -> Int64 {
        let length = Int(use.piece.length)
        var local = [UInt8](repeating: 0, count: length)
        let n = try FileIO.preadFully(fd, into: &local, at: Int(use.piece.fileOffset), what: use.path)
        let base = Int(use.piece.extentOffset)
        var written: Int64 = 0
        var runStart: Int?
        var offset = 0
        while offset < length {
            let end = min(offset + Self.comparePage, length)
            let differs = end > n || !Self.equal(plain, at: base + offset, local, at: offset, count: end - offset)
            if differs, runStart == nil { runStart = offset }
            if !differs, let start = runStart {
                written += try write(plain, use, range: start..<offset, fd: fd)
                runStart = nil
            }
            offset = end
        }
        // A run that reaches the end of the piece (whose length need not be a whole number of
        // pages: configuration files, backup_label) is written too.
        if let start = runStart { written += try write(plain, use, range: start..<length, fd: fd) }
        return written
    }

    private static func equal(_ a: [UInt8], at aOffset: Int, _ b: [UInt8], at bOffset: Int, count: Int) -> Bool {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                guard let x = pa.baseAddress, let y = pb.baseAddress else { return count == 0 }
                return memcmp(x + aOffset, y + bOffset, count) == 0
            }
        }
    }

    /// Writes `range` of the piece (offsets relative to the piece) to the file.
    private func write(_ plain: [UInt8], _ use: Use, range: Range<Int>, fd: Int32) throws -> Int64 {
        let start = Int(use.piece.extentOffset) + range.lowerBound
        try plain.withUnsafeBytes { buf in
            try FileIO.pwriteAll(fd, UnsafeRawBufferPointer(rebasing: buf[start..<start + range.count]),
                                 at: Int(use.piece.fileOffset) + range.lowerBound, what: use.path) { offset, length in
                // The disk starts on these bytes while the next extents are decompressed;
                // activate's syncfs then waits only for the tail instead of the whole restore.
                // Per write call, not per run of extents: starting 100+ MiB at once blocked the
                // worker in the call and made restores slower than no early write-back at all.
                // The cost is that ext4 allocates the files in smaller pieces.
                Writeback.start(fd, offset: offset, length: length)
            }
        }
        return Int64(range.count)
    }
}
