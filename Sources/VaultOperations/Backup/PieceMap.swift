import VaultFormat

/// Operations on a file's list of pieces: take the part covering a byte range (so an
/// incremental backup can reuse the parent's bytes for unchanged pages), and merge
/// neighbours that continue the same extent (so manifests stay small).
public enum PieceMap {
    /// The pieces of `pieces` (sorted, contiguous) that cover `[from, to)`, trimmed to it.
    public static func slice(_ pieces: [BackupManifest.Piece], from: Int64, to: Int64) -> [BackupManifest.Piece] {
        guard from < to else { return [] }
        // Binary search for the first piece that ends after `from`.
        var lo = 0, hi = pieces.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if pieces[mid].fileOffset + pieces[mid].length <= from { lo = mid + 1 } else { hi = mid }
        }
        var out: [BackupManifest.Piece] = []
        var i = lo
        while i < pieces.count, pieces[i].fileOffset < to {
            let p = pieces[i]
            let start = max(p.fileOffset, from)
            let end = min(p.fileOffset + p.length, to)
            out.append(BackupManifest.Piece(fileOffset: start, length: end - start, extent: p.extent, extentOffset: p.extentOffset + (start - p.fileOffset)))
            i += 1
        }
        return out
    }

    /// Appends `piece`, merging it into the last one when it continues the same extent.
    public static func append(_ piece: BackupManifest.Piece, to pieces: inout [BackupManifest.Piece]) {
        guard piece.length > 0 else { return }
        if let last = pieces.last, last.extent == piece.extent,
           last.fileOffset + last.length == piece.fileOffset, last.extentOffset + last.length == piece.extentOffset {
            pieces[pieces.count - 1].length += piece.length
        } else {
            pieces.append(piece)
        }
    }
}
