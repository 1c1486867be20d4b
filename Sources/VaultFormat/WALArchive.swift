import VaultPostgres

/// A shard's WAL archive: `<shard>/wal/<timeline>/<file name>`, one sealed object per file,
/// named after the file so an operator can find a segment by name.
public struct WALArchive: Sendable {
    public let repository: Repository
    public let record: ShardRecord
    /// The zstd level `push` compresses at (0: stored as is).
    public let compressionLevel: Int32

    /// - Parameter compressionLevel: for pushes; nil takes the repository's (the policy's
    ///   `compression.level`).
    public init(repository: Repository, record: ShardRecord, compressionLevel: Int32? = nil) {
        self.repository = repository
        self.record = record
        self.compressionLevel = compressionLevel ?? repository.envelope.compressionLevel
    }

    public func objectName(_ file: WALFileName) -> String {
        Self.objectName(shard: record.shard, file: file.text)
    }

    /// `<shard>/wal/<timeline>/<file name>`.
    public static func objectName(shard: String, file: String) -> String {
        "\(shard)/wal/\(file.prefix(8))/\(file)"
    }

    /// What `push` did.
    public enum PushOutcome: Sendable, Equatable {
        case stored(compressedBytes: Int)
        case alreadyArchived
    }

    /// Archives `contents` as `file`. Durable when it returns. Re-pushing identical content
    /// succeeds (PostgreSQL retries after a crash); different content is refused and the
    /// archived copy is left untouched.
    public func push(_ file: WALFileName, contents: [UInt8], prepared: ObjectEnvelope.PreparedBody? = nil) async throws -> PushOutcome {
        if file.kind == .segment || file.kind == .partial {
            try checkSegment(file, contents)
        }
        let name = objectName(file)
        let sealed = try repository.envelope.seal(try prepared ?? ObjectEnvelope.prepare(contents, level: compressionLevel), name: name)
        if try await repository.storage.putIfAbsent(name, sealed) {
            return .stored(compressedBytes: sealed.count)
        }
        let existing: [UInt8]?
        do {
            existing = try await repository.read(name)
        } catch let e as FormatError where e.kind == .corrupt {
            throw FormatError(.refused, "\(file) is already archived but the archived copy is unreadable (\(e.message)); not overwriting it, inspect \(repository.storage.location)/\(name)")
        }
        guard existing == contents else {
            throw FormatError(.refused, "\(file) is already archived in shard \(record.shard) with different content; refusing to overwrite it (is another cluster archiving into this shard?)")
        }
        return .alreadyArchived
    }

    /// Fetches `file`; throws `.notFound` when it is not archived and `.corrupt` when the
    /// archived object fails authentication.
    public func get(_ file: WALFileName) async throws -> [UInt8] {
        guard let bytes = try await fetch(file) else {
            throw FormatError(.notFound, "\(file) is not in the archive of shard \(record.shard)")
        }
        return bytes
    }

    /// Fetches `file`, or nil only when the storage itself answered that the object does not
    /// exist. This is the one answer archive-get may turn into "not archived" (exit 1): every
    /// other failure, a missing repository or shard record included, throws.
    public func fetch(_ file: WALFileName) async throws -> [UInt8]? {
        try await repository.read(objectName(file))
    }

    /// Refuses a segment of the wrong size or from another cluster before it is stored.
    public func checkSegment(_ file: WALFileName, _ contents: [UInt8]) throws {
        if file.kind == .segment && UInt64(contents.count) != record.walSegmentSize {
            throw FormatError(.refused, "\(file) is \(contents.count) bytes, but shard \(record.shard) uses \(record.walSegmentSize)-byte segments")
        }
        guard let header = WALLongPageHeader(contents) else {
            throw FormatError(.refused, "\(file) does not start with a WAL segment header")
        }
        guard String(header.systemIdentifier) == record.systemIdentifier else {
            throw FormatError(.refused, "\(file) belongs to cluster \(header.systemIdentifier), but shard \(record.shard) belongs to cluster \(record.systemIdentifier)")
        }
    }
}
