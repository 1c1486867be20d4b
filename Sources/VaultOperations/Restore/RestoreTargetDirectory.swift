#if canImport(Glibc)
import Glibc
#endif
import VaultSystem
import VaultFormat

/// The directory a backup is restored into: laid out from the manifest, either from nothing
/// (an empty directory is required, so a restore can never overwrite a live cluster by a
/// typo) or, for a delta restore, from what is already there, removing what the backup does
/// not have and sizing every file to the manifest's length so only differing bytes need
/// writing. Directories come from the head; files are laid out one manifest chunk at a time
/// (`layOut`, `setModes`), so the whole body is never held.
struct RestoreTargetDirectory {
    /// The target; every manifest path is joined onto it through `ContainedDirectory`, which
    /// refuses a path that would resolve outside it.
    let directory: ContainedDirectory
    var root: String { directory.string }
    let head: BackupHead
    /// Tablespace OID → directory to restore it into (the original location unless relocated).
    let tablespaceLocations: [String: String]

    /// Validates the head (tablespaces, directories, tablespace_map); the caller validates
    /// every chunk of the body before this lays anything out.
    init(root: String, head: BackupHead, relocations: [String: String]) throws {
        self.directory = ContainedDirectory(root)
        try BackupManifest(head: head, files: [], extents: []).validate()
        self.head = head
        let known = Set(head.tablespaces.map(\.oid))
        for (oid, dir) in relocations {
            guard known.contains(oid) else {
                throw OperationError(.usage, "--tablespace-map \(oid)=\(dir): backup \(head.id) has no tablespace \(oid) (it has: \(known.isEmpty ? "none" : known.sorted().joined(separator: ", ")))")
            }
            guard dir.hasPrefix("/") else { throw OperationError(.usage, "--tablespace-map \(oid)=\(dir): the directory must be an absolute path") }
        }
        var locations: [String: String] = [:]
        for ts in head.tablespaces { locations[ts.oid] = relocations[ts.oid] ?? ts.location }
        self.tablespaceLocations = locations
    }

    func path(_ relative: String) throws -> String { try directory.path(relative) }

    /// pg_control is written under another name and put in place last: until a restore has
    /// finished, the directory has no pg_control and PostgreSQL refuses to start on it, so an
    /// interrupted restore can never be mistaken for a crashed cluster and "recovered".
    static let controlFile = "global/pg_control"
    static let pendingSuffix = ".vault-restoring"

    /// Where a file's bytes are written during the restore.
    func writePath(_ relative: String) throws -> String {
        relative == Self.controlFile ? try path(relative) + Self.pendingSuffix : try path(relative)
    }

    private func tablespaceOID(ofDirectory relative: String) -> String? {
        guard relative.hasPrefix("pg_tblspc/") else { return nil }
        let oid = String(relative.dropFirst("pg_tblspc/".count))
        return tablespaceLocations[oid] == nil ? nil : oid
    }

    /// Lays out an empty (or missing) directory: every directory and tablespace link.
    func createFresh() throws {
        // Every directory is checked before anything is created.
        for dir in [root] + tablespaceLocations.values.sorted() { try Self.requireEmpty(dir) }
        try Self.prepareEmptyDirectory(root)
        for dir in head.directories {
            if let oid = tablespaceOID(ofDirectory: dir.path), let location = tablespaceLocations[oid] {
                try Self.prepareEmptyDirectory(location)
                let link = try path(dir.path)
                try Syscall.call("link tablespace \(dir.path) to \(location)") { symlink(location, link) }
            } else {
                let created = try path(dir.path)
                try Syscall.call("create directory \(created)") { mkdir(created, 0o700) }
            }
        }
    }

    /// Creates `files` at their final size (fresh: each must not exist yet), or for a delta
    /// restore opens each and truncates or extends it to its backed-up size.
    func layOut(_ files: [BackupManifest.File], delta: Bool) throws {
        for file in files {
            let target = try writePath(file.path)
            let fd = try Syscall.call("create \(target)") { open(target, O_WRONLY | O_CREAT | (delta ? 0 : O_EXCL) | O_CLOEXEC, 0o600) }
            defer { close(fd) }
            var st = stat()
            try Syscall.call("stat \(target)") { fstat(fd, &st) }
            if Int64(st.st_size) != file.size {
                try Syscall.call("size \(target)") { ftruncate(fd, off_t(file.size)) }
            }
        }
    }

    /// Sets the backed-up permissions of files whose bytes are all written.
    func setModes(_ files: [BackupManifest.File]) throws {
        for file in files { chmod(try writePath(file.path), mode_t(file.mode)) }
    }

    /// Makes an existing directory match the manifest's shape for a delta restore: removes
    /// files, links and directories the backup does not have (`wantedFiles` are the paths of
    /// its body; WAL, signal files, a stale backup_label included) and creates the
    /// directories that are missing (`layOut` then sizes the files). Refuses while a server
    /// is running on it. Returns the number of entries removed.
    func reshapeForDelta(wantedFiles: Set<String>) throws -> Int {
        guard FileIO.exists(root) else { try createFresh(); return 0 }
        let pidFile = try path("postmaster.pid")
        if FileIO.exists(pidFile) {
            throw OperationError(.refused, "\(pidFile) exists: stop the server on \(root) before a delta restore (or remove the file if it is stale)")
        }
        // A tablespace is written only where this copy already links it, or into an empty
        // directory: the original location may be the source cluster's live tablespace.
        for (oid, location) in tablespaceLocations.sorted(by: { $0.key < $1.key }) {
            if (try? FileIO.readLink(try path("pg_tblspc/" + oid))) == location { continue }
            if FileIO.exists(location), !(try FileIO.list(location).isEmpty) {
                throw OperationError(.refused, "tablespace \(oid) would be restored into \(location), which is not empty and is not \(root)'s own tablespace link; a delta restore writes only into its own tablespaces or empty directories (use --tablespace-map \(oid)=DIR); nothing was written")
            }
        }
        let wantedDirectories = Set(head.directories.map(\.path))
        var removed = 0
        try prune("", wantedFiles: wantedFiles, wantedDirectories: wantedDirectories, removed: &removed)
        for dir in head.directories {
            if let oid = tablespaceOID(ofDirectory: dir.path), let location = tablespaceLocations[oid] {
                if !FileIO.exists(location) { try FileIO.makeDirectories(location, mode: 0o700) }
                let link = try path(dir.path)
                if (try? FileIO.readLink(link)) != location {
                    unlink(link)
                    try Syscall.call("link tablespace \(dir.path) to \(location)") { symlink(location, link) }
                }
            } else {
                let wanted = try path(dir.path)
                if !FileIO.exists(wanted) {
                    try Syscall.call("create directory \(wanted)") { mkdir(wanted, 0o700) }
                }
            }
        }
        if FileIO.exists(try path(Self.controlFile)) {
            try FileIO.rename(try path(Self.controlFile), to: try writePath(Self.controlFile))
        }
        return removed
    }

    /// Removes, below `relative`, everything the manifest does not list. Links to wanted
    /// directories (tablespaces, a linked pg_wal) are followed, not removed.
    private func prune(_ relative: String, wantedFiles: Set<String>, wantedDirectories: Set<String>, removed: inout Int) throws {
        let dir = relative.isEmpty ? root : try path(relative)
        for name in try FileIO.list(dir) {
            let rel = relative.isEmpty ? name : relative + "/" + name
            let full = dir + "/" + name
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            let type = st.st_mode & S_IFMT
            if type == S_IFLNK, let oid = tablespaceOID(ofDirectory: rel) {
                // Follow a tablespace link only to where this restore puts the tablespace;
                // a link elsewhere is replaced, never followed (it may be another cluster's).
                if (try? FileIO.readLink(full)) == tablespaceLocations[oid], FileIO.exists(full) {
                    try prune(rel, wantedFiles: wantedFiles, wantedDirectories: wantedDirectories, removed: &removed)
                } else {
                    try Syscall.call("remove \(full)") { unlink(full) }
                    removed += 1
                }
                continue
            }
            let isDirectory = type == S_IFDIR || (type == S_IFLNK && stat(full, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR)
            if isDirectory && wantedDirectories.contains(rel) {
                try prune(rel, wantedFiles: wantedFiles, wantedDirectories: wantedDirectories, removed: &removed)
            } else if type == S_IFREG && wantedFiles.contains(rel) {
                continue
            } else if type == S_IFDIR {
                try prune(rel, wantedFiles: [], wantedDirectories: [], removed: &removed)
                try Syscall.call("remove directory \(full)") { rmdir(full) }
                removed += 1
            } else {
                try Syscall.call("remove \(full)") { unlink(full) }
                removed += 1
            }
        }
    }

    /// Sets the directories' backed-up permissions and writes the files that make PostgreSQL
    /// start from the backup: backup_label and tablespace_map (with relocated tablespaces).
    func finish() throws {
        for dir in head.directories where tablespaceOID(ofDirectory: dir.path) == nil { chmod(try path(dir.path), mode_t(dir.mode)) }
        try FileIO.writeDurably(try path("backup_label"), Array(head.backupLabel.utf8), mode: 0o600)
        if let map = head.tablespaceMap {
            try FileIO.writeDurably(try path("tablespace_map"), Array(relocatedTablespaceMap(map).utf8), mode: 0o600)
        }
    }

    /// The file systems this restore writes to or removes from: the target's, every tablespace
    /// location's, and any a directory of the backup leads to (a linked or mounted pg_wal,
    /// whose stale segments a delta restore removes). Opened once the directories exist and
    /// before any file is written, for `activate`.
    func fileSystems() throws -> FileSystemSync {
        try FileSystemSync([root] + tablespaceLocations.values.sorted() + head.directories.map { try path($0.path) })
    }

    /// Puts pg_control in place once everything else is durable: from here on the directory
    /// is a startable cluster.
    func activate(_ fileSystems: FileSystemSync) throws {
        do {
            try fileSystems.syncAndClose()
        } catch let e as SystemError {
            throw OperationError(.io, "restore into \(root) not finished: \(e.message); pg_control was not put in place, so the copy cannot be started; check the disk and restore again")
        }
        let pending = try writePath(Self.controlFile)
        guard FileIO.exists(pending) else { return }
        try FileIO.rename(pending, to: try path(Self.controlFile))
        try FileIO.fsyncDirectory(try path("global"))
    }

    /// tablespace_map lines are `<oid> <location>`; relocated tablespaces get their new one.
    func relocatedTablespaceMap(_ map: String) -> String {
        map.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let oid = String(line.prefix { $0 != " " })
            guard !oid.isEmpty, line.count > oid.count, let location = tablespaceLocations[oid] else { return String(line) }
            return oid + " " + location
        }.joined(separator: "\n")
    }

    /// Refuses a directory that has anything in it.
    static func requireEmpty(_ path: String) throws {
        if FileIO.exists(path), !(try FileIO.list(path).isEmpty) {
            throw OperationError(.refused, "target directory \(path) is not empty; restore writes only into an empty directory (use --delta to update an existing copy, or --tablespace-map to move a tablespace)")
        }
    }

    /// Refuses a directory that has anything in it; creates a missing one with mode 0700.
    static func prepareEmptyDirectory(_ path: String) throws {
        try requireEmpty(path)
        if FileIO.exists(path) {
            chmod(path, 0o700)
        } else {
            try FileIO.makeDirectories(path, mode: 0o700)
        }
    }
}
