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

    /// Every file at once, with the directories and tablespaces (for tests and small trees:
    /// a backup walks the directory with `walk()` and never holds the whole list).
    public func scan() throws -> Result {
        var walk = self.walk()
        var files: [Entry] = []
        while let entry = try walk.next() { files.append(entry) }
        return Result(files: files, directories: walk.directories, tablespaces: walk.tablespaces)
    }

    /// The sum of the sizes of the files a backup copies, by a walk of its own.
    public func totalBytes() throws -> Int64 {
        var walk = self.walk()
        var total: Int64 = 0
        while let entry = try walk.next() { total += entry.size }
        return total
    }

    /// A walk of the directory that returns its files one at a time in ascending order of
    /// their whole paths (String order, the order of a manifest's files).
    public func walk() -> Walk { Walk(root: root) }

    /// Visits the tree depth first, holding only the listings of the directories it is inside
    /// (at most one large one: a database directory). Siblings are sorted by name with `/`
    /// after a directory's name, so the files come out in the order of their whole paths
    /// (`base.old` before `base/1`). Directories and tablespaces are collected as they are
    /// passed: a tablespace's link comes before any file beneath it.
    public struct Walk {
        /// One child of a listed directory, with what `lstat` said of it.
        private struct Item {
            enum Kind {
                case file(size: Int64, mode: UInt32, mtime: Int64)
                case directory(mode: UInt32)
                case tablespaceLink
                case walLink
            }
            var name: String
            var kind: Kind

            /// The name as its descendants' paths begin, which is how it sorts among siblings.
            var sortKey: String {
                switch kind {
                case .file: name
                case .directory, .tablespaceLink, .walLink: name + "/"
                }
            }
        }

        private struct Frame {
            var absolute: String
            var relative: String
            var items: [Item]
            var next = 0
        }

        private var stack: [Frame] = []
        private var started = false
        let root: String
        public private(set) var directories: [BackupManifest.Directory] = []
        public private(set) var tablespaces: [BackupManifest.Tablespace] = []

        init(root: String) { self.root = root }

        /// The next file in path order, or nil once the walk is over.
        public mutating func next() throws -> Entry? {
            if !started {
                started = true
                stack.append(try Self.frame(absolute: root, relative: "", mayVanish: false))
            }
            while let top = stack.indices.last {
                guard stack[top].next < stack[top].items.count else {
                    stack.removeLast()
                    continue
                }
                let item = stack[top].items[stack[top].next]
                stack[top].next += 1
                let absolute = stack[top].absolute, relative = stack[top].relative
                let abs = absolute + "/" + item.name
                let rel = relative.isEmpty ? item.name : relative + "/" + item.name
                switch item.kind {
                case .file(let size, let mode, let mtime):
                    return Entry(path: rel, absolutePath: abs, size: size, mode: mode, mtime: mtime)
                case .tablespaceLink:
                    // A tablespace dropped since its directory was listed (the link is gone):
                    // WAL replay drops it too. A link that stays while its target cannot be
                    // read is an error: skipping it would leave a tablespace out of the backup.
                    guard let target = try Self.vanishedIsNil({ try FileIO.readLink(abs) }) else { continue }
                    var tst = stat()
                    let found = stat(abs, &tst) == 0 ? nil : errno
                    // Listed through the link, so a relative target resolves as PostgreSQL's does.
                    var frame: Frame?
                    if found == nil { frame = try Self.vanishedIsNil { try Self.frame(absolute: abs, relative: rel, mayVanish: false) } }
                    // A tablespace's directory holds PG_<version>_<catalog>: an empty one is an
                    // unmounted volume, not a tablespace (DROP TABLESPACE removes the link too).
                    let versioned = frame?.items.contains { $0.name.hasPrefix("PG_") } ?? false
                    guard let frame, versioned else {
                        var lst = stat()
                        if lstat(abs, &lst) != 0 && errno == ENOENT { continue }
                        let why = found.map { String(cString: strerror($0)) } ?? (frame == nil ? "it vanished while the link stayed" : "it holds no PG_ version directory: is its volume mounted?")
                        throw OperationError(.refused, "tablespace \(item.name): \(abs) links to \(target), which cannot be read (\(why)); a backup without it would not restore")
                    }
                    tablespaces.append(BackupManifest.Tablespace(oid: item.name, location: target))
                    directories.append(BackupManifest.Directory(path: rel, mode: UInt32(tst.st_mode & 0o7777)))
                    stack.append(frame)
                case .walLink:
                    // A pg_wal linked elsewhere (initdb -X): its contents are never backed up,
                    // so the backup holds an empty pg_wal directory and the restored copy
                    // starts with its WAL inside the data directory.
                    var tst = stat()
                    guard stat(abs, &tst) == 0, (tst.st_mode & S_IFMT) == S_IFDIR else {
                        throw OperationError(.refused, "\(abs) is a link to \((try? FileIO.readLink(abs)) ?? "?"), which is not a directory")
                    }
                    directories.append(BackupManifest.Directory(path: rel, mode: UInt32(tst.st_mode & 0o7777)))
                    directories.append(BackupManifest.Directory(path: "pg_wal/archive_status", mode: UInt32(tst.st_mode & 0o7777)))
                case .directory(let mode):
                    directories.append(BackupManifest.Directory(path: rel, mode: mode))
                    if relative.isEmpty && DataDirectoryScanner.excludedContents.contains(item.name) {
                        if item.name == "pg_wal" { directories.append(BackupManifest.Directory(path: "pg_wal/archive_status", mode: mode)) }
                        continue
                    }
                    stack.append(try Self.frame(absolute: abs, relative: rel))
                }
            }
            return nil
        }

        /// `body`'s value, or nil when what it reads vanished (ENOENT): a directory listed
        /// long before it is walked (a database dropped during the backup) is skipped, as a
        /// vanished file is, and WAL replay makes the copy agree.
        private static func vanishedIsNil<T>(_ body: () throws -> T) throws -> T? {
            do {
                return try body()
            } catch let e as SystemError where e.kind == .notFound {
                return nil
            }
        }

        /// Lists one directory, drops what is never backed up, and sorts the rest; a directory
        /// gone since its parent was listed has no entries. The data directory and a
        /// tablespace's own directory (`mayVanish` false) must exist.
        private static func frame(absolute: String, relative: String, mayVanish: Bool = true) throws -> Frame {
            if !mayVanish { return try listed(absolute: absolute, relative: relative, names: FileIO.list(absolute)) }
            guard let names = try vanishedIsNil({ try FileIO.list(absolute) }) else { return Frame(absolute: absolute, relative: relative, items: []) }
            return try listed(absolute: absolute, relative: relative, names: names)
        }

        private static func listed(absolute: String, relative: String, names: [String]) throws -> Frame {
            let nameSet = Set(names)
            var items: [Item] = []
            items.reserveCapacity(names.count)
            for name in names {
                if DataDirectoryScanner.excludedFiles.contains(name) || name.hasPrefix("pgsql_tmp") { continue }
                var st = stat()
                guard lstat(absolute + "/" + name, &st) == 0 else { continue } // vanished while scanning: fine
                switch st.st_mode & S_IFMT {
                case S_IFLNK where relative == "pg_tblspc":
                    items.append(Item(name: name, kind: .tablespaceLink))
                case S_IFLNK where relative.isEmpty && name == "pg_wal":
                    items.append(Item(name: name, kind: .walLink))
                case S_IFDIR:
                    items.append(Item(name: name, kind: .directory(mode: UInt32(st.st_mode & 0o7777))))
                case S_IFREG:
                    if DataDirectoryScanner.isSkippedRelation(name, siblings: nameSet) { continue }
                    items.append(Item(name: name, kind: .file(size: Int64(st.st_size), mode: UInt32(st.st_mode & 0o7777), mtime: Int64(st.st_mtim.tv_sec))))
                default:
                    continue
                }
            }
            items.sort { $0.sortKey < $1.sortKey }
            return Frame(absolute: absolute, relative: relative, items: items)
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
