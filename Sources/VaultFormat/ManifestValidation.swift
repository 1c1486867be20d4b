import VaultSystem

/// Checks a manifest before restore writes anything from it.
///
/// A manifest is authenticated, but it is still data: a bug in an older vault, or a damaged
/// object sealed with a leaked key, must never make restore write outside its target or crash
/// on an index. Every path must be relative and stay inside the data directory, every
/// tablespace OID numeric with an absolute location, every piece inside its file and its
/// extent. The first problem found is a named `.corrupt` error.
extension BackupManifest {
    public func validate() throws {
        func fail(_ what: String) -> FormatError {
            FormatError(.corrupt, "backup \(head.id) of shard \(head.shard): manifest is invalid: \(what); nothing was written")
        }
        var tablespaceOIDs = Set<String>()
        for ts in head.tablespaces {
            guard !ts.oid.isEmpty, ts.oid.allSatisfy(\.isNumber), UInt32(ts.oid) != nil else { throw fail("tablespace OID '\(ts.oid)' is not a number") }
            guard ts.location.hasPrefix("/"), Self.isSafeRelativePath(String(ts.location.dropFirst())) else {
                throw fail("tablespace \(ts.oid) has location '\(ts.location)', not a plain absolute path")
            }
            guard tablespaceOIDs.insert(ts.oid).inserted else { throw fail("tablespace \(ts.oid) is listed twice") }
        }
        // PostgreSQL creates the links tablespace_map names at startup: every line must name
        // a tablespace the manifest lists.
        for line in (head.tablespaceMap ?? "").split(separator: "\n") where !line.isEmpty {
            let oid = String(line.prefix { $0 != " " })
            guard tablespaceOIDs.contains(oid) else { throw fail("tablespace_map names tablespace '\(oid)', which the manifest does not list") }
        }
        for dir in head.directories { try Self.checkPath(dir.path, tablespaceOIDs: tablespaceOIDs, fail: fail) }
        try Self.validate(files: files, extents: extents, tablespaceOIDs: tablespaceOIDs, fail: fail)
    }

    /// The checks of `validate` on files and the extents they read, for a body checked a
    /// chunk at a time as a backup writes it (so the error says it was not published).
    public static func validate(files: [File], extents: [Extent], tablespaces: [Tablespace], backup id: String, shard: String) throws {
        try validate(files: files, extents: extents, tablespaceOIDs: Set(tablespaces.map(\.oid))) {
            FormatError(.corrupt, "backup \(id) of shard \(shard): manifest is invalid: \($0); the backup was not published")
        }
    }

    private static func checkPath(_ path: String, tablespaceOIDs: Set<String>, fail: (String) -> FormatError) throws {
        guard isSafeRelativePath(path) else { throw fail("path '\(path)' is not a plain relative path") }
        let parts = path.split(separator: "/")
        if parts.count >= 2, parts[0] == "pg_tblspc", !tablespaceOIDs.contains(String(parts[1])) {
            throw fail("path '\(path)' is in tablespace \(parts[1]), which the manifest does not list")
        }
    }

    private static func validate(files: [File], extents: [Extent], tablespaceOIDs: Set<String>, fail: (String) -> FormatError) throws {
        var seen = Set<String>()
        for ext in extents {
            guard ext.offset >= 0, ext.storedLength >= 0, ext.rawLength >= 0, !ext.pack.isEmpty, Self.isSafeRelativePath(ext.pack) else {
                throw fail("an extent in pack '\(ext.pack)' has an invalid name, offset or length")
            }
        }
        for file in files {
            try checkPath(file.path, tablespaceOIDs: tablespaceOIDs, fail: fail)
            guard seen.insert(file.path).inserted else { throw fail("file '\(file.path)' is listed twice") }
            guard file.size >= 0 else { throw fail("file '\(file.path)' has size \(file.size)") }
            for p in file.pieces {
                guard extents.indices.contains(p.extent) else { throw fail("file '\(file.path)' names extent \(p.extent) of \(extents.count)") }
                let (end, overflow) = p.fileOffset.addingReportingOverflow(p.length)
                guard p.fileOffset >= 0, p.length >= 0, !overflow, end <= file.size else {
                    throw fail("file '\(file.path)' has a piece at \(p.fileOffset)+\(p.length) outside its \(file.size) bytes")
                }
                let (extentEnd, extentOverflow) = p.extentOffset.addingReportingOverflow(p.length)
                guard p.extentOffset >= 0, !extentOverflow, extentEnd <= extents[p.extent].rawLength else {
                    throw fail("file '\(file.path)' reads \(p.extentOffset)+\(p.length) of extent \(p.extent), which holds \(extents[p.extent].rawLength) bytes")
                }
            }
        }
    }

    /// `a/b/c`: no empty, `.` or `..` component, not absolute, no NUL (`RelativePath`).
    static func isSafeRelativePath(_ path: String) -> Bool {
        RelativePath(path) != nil
    }
}
