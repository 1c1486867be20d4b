import VaultSupport
import VaultCrypto
import VaultFormat

/// Extents stored back to back in one pack, fetched with one ranged read. Restore and verify
/// read runs of up to 16 MiB instead of one request per extent: on an object store each
/// request costs a round trip, and a backup has about one extent per MiB of database.
struct ExtentRun: Sendable {
    var pack: String
    var offset: Int64
    var length: Int64
    /// Indices into the manifest's extent table, in pack order.
    var members: [Int]

    static let maxLength: Int64 = 16 << 20
    /// Reading through a gap this small is cheaper than another request.
    static let maxGap: Int64 = 256 << 10

    /// Groups extents by pack and offset into runs.
    static func plan(_ indices: [Int], extents: [BackupManifest.Extent]) -> [ExtentRun] {
        let sorted = indices.sorted { (extents[$0].pack, extents[$0].offset) < (extents[$1].pack, extents[$1].offset) }
        var runs: [ExtentRun] = []
        for i in sorted {
            let e = extents[i]
            if var last = runs.last, last.pack == e.pack, e.offset >= last.offset + last.length,
               e.offset - (last.offset + last.length) <= maxGap, e.offset + e.storedLength - last.offset <= maxLength {
                last.length = e.offset + e.storedLength - last.offset
                last.members.append(i)
                runs[runs.count - 1] = last
            } else {
                runs.append(ExtentRun(pack: e.pack, offset: e.offset, length: e.storedLength, members: [i]))
            }
        }
        return runs
    }

    /// The run's bytes (fewer when the pack is shorter than the manifest says).
    func fetch(_ repository: Repository) async throws -> [UInt8] {
        try await repository.storage.getRange(pack, offset: Int(offset), length: Int(length))
    }

    /// One member's plaintext from the run's bytes, authenticated under its pack-and-offset
    /// name. The envelope's check covers every stored byte (the GCM tag, or the SHA-256 trailer
    /// of an unencrypted repository) and binds the bytes to that name, which no other extent
    /// has; decompression must yield exactly the recorded length, and a zstd content checksum
    /// checks the decoder's output. The manifest's SHA-256 of the plaintext (half of a
    /// restore's CPU time) is recomputed when `checkHash` asks for it (verify: it also proves
    /// the manifest's record names the content it meant, which delta restore relies on) and
    /// for extents whose frames carry no content checksum.
    func open(_ extent: BackupManifest.Extent, in bytes: [UInt8], repository: Repository, checkHash: Bool) throws -> [UInt8] {
        let start = Int(extent.offset - offset), end = start + Int(extent.storedLength)
        let name = PackWriter.extentName(pack: extent.pack, offset: extent.offset)
        guard end <= bytes.count else {
            throw OperationError(.corrupt, "pack \(extent.pack) is truncated: extent at \(extent.offset) needs \(extent.storedLength) bytes, found \(max(0, bytes.count - start))")
        }
        let (plain, contentChecked) = try repository.envelope.openReportingContentCheck(Array(bytes[start..<end]), name: name)
        guard plain.count == extent.rawLength else {
            throw OperationError(.corrupt, "extent \(name) holds \(plain.count) bytes, the manifest says \(extent.rawLength)")
        }
        if checkHash || !contentChecked {
            guard Hex.encode(try SHA256.hash(plain)) == extent.sha256 else {
                throw OperationError(.corrupt, "extent \(name) does not match its checksum")
            }
        }
        return plain
    }
}
