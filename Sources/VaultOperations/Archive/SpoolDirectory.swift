#if canImport(Glibc)
import Glibc
#endif
import VaultSupport
import VaultSystem

/// A local directory of files named after WAL files, kept beside pg_wal: markers of segments
/// pushed ahead, or segments fetched ahead for recovery. PostgreSQL moves through WAL in
/// order, so entries it has passed are dropped as it goes.
struct SpoolDirectory: Sendable {
    let directory: String

    init(_ directory: String) { self.directory = directory }

    func path(_ name: String) -> String { directory + "/" + name }

    func has(_ name: String) -> Bool { FileIO.exists(path(name)) }

    func remove(_ name: String) { unlink(path(name)) }

    /// Stores an entry atomically and durably, so a crash never leaves a partial one.
    func store(_ name: String, _ bytes: [UInt8]) throws {
        try FileIO.makeDirectories(directory, mode: 0o700)
        try FileIO.replaceDurably(path(name), bytes, mode: 0o600)
    }

    /// Moves an entry to `destination` (same file system); false when there is none.
    func take(_ name: String, to destination: String) -> Bool {
        rename(path(name), destination) == 0
    }

    /// Drops entries that sort before `name` (older segments, or older timelines).
    func removeOlder(than name: String) {
        guard let names = try? FileIO.list(directory) else { return }
        for n in names where n < name && !n.hasPrefix(".") { unlink(path(n)) }
    }

    /// Entries ahead of `name` (segments PostgreSQL has not asked for yet).
    func count(after name: String) -> Int {
        ((try? FileIO.list(directory)) ?? []).filter { $0 > name && !$0.hasPrefix(".") && !$0.contains(".vault-tmp") }.count
    }

    /// Removes every entry and the directory itself.
    func clear() {
        guard let names = try? FileIO.list(directory) else { return }
        for n in names { unlink(path(n)) }
        rmdir(directory)
    }
}

/// Markers of segments pushed ahead: `<spool>/<segment>`, written only once the segment is
/// durable in the repository, holding the repository and shard it went to and the identity of
/// the file that was read: device, inode, size, and modification and change times to the
/// nanosecond. A later `archive-push` of the segment answers from the marker only when the
/// file PostgreSQL names is that same unchanged file, without reading it again (PostgreSQL
/// never writes a segment once it is `.ready`, and recycling one renames it, which changes its
/// change time). A marker is a hint: losing it costs a second, idempotent push, so it is
/// written atomically but not fsynced.
struct SpoolMarkers: Sendable {
    let spool: SpoolDirectory
    /// The repository and shard the segments were pushed to: a marker answers only for them,
    /// so a spool left by a push to another repository (or shard) never counts as archived.
    let scope: String

    /// Whether `name` was pushed ahead from the very file now at `path`.
    func matches(_ name: String, path: String) -> Bool {
        guard let identity = Self.identity(path: path), let marker = try? FileIO.readIfExists(spool.path(name)) else { return false }
        return String(decoding: marker, as: UTF8.self) == scope + "\n" + identity
    }

    func record(_ name: String, identity: String) throws {
        try FileIO.makeDirectories(spool.directory, mode: 0o700)
        try FileIO.replace(spool.path(name), Array((scope + "\n" + identity).utf8), mode: 0o600)
    }

    /// The worker could not push `name`: PostgreSQL's own call pushes it and reports why.
    func recordFailure(_ name: String) { try? FileIO.replace(spool.path(name + ".failed"), [], mode: 0o600) }

    func hasFailed(_ name: String) -> Bool { spool.has(name + ".failed") }

    func clearFailure(_ name: String) { spool.remove(name + ".failed") }

    static func identity(path: String) -> String? {
        var st = stat()
        return stat(path, &st) == 0 ? identity(st) : nil
    }

    static func identity(fd: Int32) -> String? {
        var st = stat()
        return fstat(fd, &st) == 0 ? identity(st) : nil
    }

    private static func identity(_ st: stat) -> String {
        "\(st.st_dev) \(st.st_ino) \(st.st_size) \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec) \(st.st_ctim.tv_sec).\(st.st_ctim.tv_nsec)"
    }
}
