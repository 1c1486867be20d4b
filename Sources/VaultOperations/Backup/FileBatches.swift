import VaultFormat
import VaultPostgres

/// Cuts a path-ordered stream of files into runs of about one manifest chunk each: up to
/// `pieces` extents' worth of bytes (in a full backup a file has a piece per extent), a file
/// heavier than that alone. pg_control is taken out of the stream and kept aside, to be copied
/// after every other file; each batch says whether pg_control's path falls in it, so the
/// chunk it joins can be held until then.
struct FileBatches {
    typealias Entry = DataDirectoryScanner.Entry

    struct Batch {
        var entries: [Entry]
        /// Whether pg_control's path sorts into this batch: it is the last batch whose first
        /// path comes before pg_control's (or the only batch, empty).
        var holdsControlFile: Bool
    }

    private let source: () throws -> Entry?
    private let pieces: Int
    private var lookahead: Entry?
    private var started = false
    /// pg_control, once the stream has passed it.
    private(set) var controlFile: Entry?

    init(pieces: Int, source: @escaping () throws -> Entry?) {
        self.pieces = pieces
        self.source = source
    }

    /// The next batch; the first call always gives one (maybe empty), later calls nil once
    /// the stream is over.
    mutating func next() throws -> Batch? {
        var entries: [Entry] = []
        var weight = 0
        let extent = Int64(FileBackup.extentSize)
        while let entry = try peek() {
            let w = max(1, Int((entry.size + extent - 1) / extent))
            if weight > 0, weight + w > pieces { break }
            entries.append(entry)
            lookahead = nil
            weight += w
        }
        if entries.isEmpty && started { return nil }
        started = true
        let following = try peek()?.path
        let holds = (entries.first.map { $0.path < ControlFile.path } ?? true) && (following.map { $0 > ControlFile.path } ?? true)
        return Batch(entries: entries, holdsControlFile: holds)
    }

    /// The next file other than pg_control, without taking it.
    private mutating func peek() throws -> Entry? {
        while lookahead == nil, let entry = try source() {
            if entry.path == ControlFile.path { controlFile = entry } else { lookahead = entry }
        }
        return lookahead
    }
}
