#if canImport(Glibc)
import Glibc
#endif
import VaultSystem
import VaultFormat

/// Lists what a base backup must copy from a data directory, applying PostgreSQL's own
/// exclusions (those of `pg_basebackup`) and following tablespace links.
public struct DataDirectoryScanner {
    public struct Entry: Sendable {
        /// Path inside the backup, e.g. `base/5/16384` or `pg_tblspc/16400/PG_15_202209061/5/16401`.
        public var path: String
        /// Where to read it now.
        public var absolutePath: String
        public var size: Int64
        public var mode: UInt32
        public var mtime: Int64
    }

    public struct Result: Sendable {
        public var files: [Entry]
        public var directories: [BackupManifest.Directory]
        public var tablespaces: [BackupManifest.Tablespace]
    }

    /// Directories whose contents are not backed up (the directory itself is).
    static let excludedContents: Set<String> = ["pg_wal", "pg_dynshmem", "pg_notify", "pg_replslot", "pg_serial", "pg_snapshots", "pg_stat_tmp", "pg_subtrans"]
    /// Files never backed up, at any depth.
    static let excludedFiles: Set<String> = ["postgresql.auto.conf.tmp", "current_logfiles.tmp", "pg_internal.init", "backup_label", "tablespace_map",
                                             "backup_manifest", "postmaster.pid", "postmaster.opts", "recovery.signal", "standby.signal"]

    let root: String

    public init(root: String) { self.root = root }

    public func scan() throws -> Result {
        var result = Result(files: [], directories: [], tablespaces: [])
        try walk(absolute: root, relative: "", into: &result)
        return result
    }

    private func walk(absolute: String, relative: String, into result: inout Result) throws {
        let names = try FileIO.list(absolute).sorted()
        let nameSet = Set(names)
        for name in names {
            let abs = absolute + "/" + name
            let rel = relative.isEmpty ? name : relative + "/" + name
            if Self.excludedFiles.contains(name) || name.hasPrefix("pgsql_tmp") { continue }
            var st = stat()
            guard lstat(abs, &st) == 0 else { continue } // vanished while scanning: fine
            let type = st.st_mode & S_IFMT
            if type == S_IFLNK && relative == "pg_tblspc" {
                let target = try FileIO.readLink(abs)
                result.tablespaces.append(BackupManifest.Tablespace(oid: name, location: target))
                var tst = stat()
                guard stat(abs, &tst) == 0 else { continue }
                result.directories.append(BackupManifest.Directory(path: rel, mode: UInt32(tst.st_mode & 0o7777)))
                try walk(absolute: target, relative: rel, into: &result)
            } else if type == S_IFLNK && relative.isEmpty && name == "pg_wal" {
                // A pg_wal linked elsewhere (initdb -X): its contents are never backed up, so
                // the backup holds an empty pg_wal directory and the restored copy starts
                // with its WAL inside the data directory.
                var tst = stat()
                guard stat(abs, &tst) == 0, (tst.st_mode & S_IFMT) == S_IFDIR else {
                    throw OperationError(.refused, "\(abs) is a link to \((try? FileIO.readLink(abs)) ?? "?"), which is not a directory")
                }
                result.directories.append(BackupManifest.Directory(path: rel, mode: UInt32(tst.st_mode & 0o7777)))
                result.directories.append(BackupManifest.Directory(path: "pg_wal/archive_status", mode: UInt32(tst.st_mode & 0o7777)))
            } else if type == S_IFDIR {
                result.directories.append(BackupManifest.Directory(path: rel, mode: UInt32(st.st_mode & 0o7777)))
                if relative.isEmpty && Self.excludedContents.contains(name) {
                    if name == "pg_wal" { result.directories.append(BackupManifest.Directory(path: "pg_wal/archive_status", mode: UInt32(st.st_mode & 0o7777))) }
                    continue
                }
                try walk(absolute: abs, relative: rel, into: &result)
            } else if type == S_IFREG {
                if Self.isSkippedRelation(name, siblings: nameSet) { continue }
                result.files.append(Entry(path: rel, absolutePath: abs, size: Int64(st.st_size), mode: UInt32(st.st_mode & 0o7777),
                                          mtime: Int64(st.st_mtim.tv_sec)))
            }
        }
    }

    /// Temporary relations (`t3_16384`) and the non-init forks of unlogged relations (those
    /// with an `_init` fork) are rebuilt by PostgreSQL at startup and are not backed up.
    static func isSkippedRelation(_ name: String, siblings: Set<String>) -> Bool {
        if name.hasPrefix("t") {
            let parts = name.dropFirst().split(separator: "_", maxSplits: 1)
            if parts.count == 2, !parts[0].isEmpty, parts[0].allSatisfy(\.isNumber), RelationFile(String(parts[1])) != nil {
                return true
            }
        }
        guard let relfile = RelationFile(name), relfile.fork != "init" else { return false }
        return siblings.contains(relfile.node + "_init")
    }
}

/// A relation data file name: `<relfilenode>[_<fork>][.<segment>]`.
public struct RelationFile: Sendable, Equatable {
    public var node: String
    public var fork: String?
    public var segment: Int

    public init?(_ name: String) {
        let dot = name.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let base = dot.first, !base.isEmpty else { return nil }
        segment = 0
        if dot.count == 2 {
            guard let s = Int(dot[1]), dot[1].allSatisfy(\.isNumber) else { return nil }
            segment = s
        }
        let parts = base.split(separator: "_", maxSplits: 1)
        guard let n = parts.first, n.allSatisfy(\.isNumber) else { return nil }
        node = String(n)
        fork = parts.count == 2 ? String(parts[1]) : nil
        if let fork, !["fsm", "vm", "init"].contains(fork) { return nil }
    }

    /// Whether every change to this file is WAL-logged page by page, so an incremental backup
    /// may copy only pages whose LSN is new (or that WAL summaries name). Only the main fork:
    /// the free space map is not WAL-logged, and clearing a visibility-map bit is not logged
    /// on its own and leaves the map page's LSN as it was (the heap record clears the bit again
    /// on replay, but an incremental's changes before its start are never replayed). Both are
    /// small and are read whole when they change.
    public var isPageTracked: Bool { fork == nil }

    /// Whether `path` (inside the backup) is a relation file in a database directory.
    public static func isRelationPath(_ path: String) -> Bool {
        let parts = path.split(separator: "/")
        guard let last = parts.last, RelationFile(String(last)) != nil else { return false }
        if parts.first == "base" && parts.count == 3 { return true }
        if parts.first == "global" && parts.count == 2 { return true }
        if parts.first == "pg_tblspc" && parts.count == 5 { return true }
        return false
    }
}
