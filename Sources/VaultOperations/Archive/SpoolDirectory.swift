#if canImport(Glibc)
import Glibc
#endif
import VaultSupport
import VaultSystem
import VaultCrypto

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

/// Markers of segments pushed ahead: `<spool>/<segment>` holding the hex SHA-256 of its
/// contents, so a later `archive-push` of the same segment can answer without storing it.
struct SpoolMarkers: Sendable {
    let spool: SpoolDirectory
    /// The repository and shard the segments were pushed to: a marker answers only for them,
    /// so a spool left by a push to another repository (or shard) never counts as archived.
    let scope: String

    func matches(_ name: String, _ contents: [UInt8]) throws -> Bool {
        guard let marker = try FileIO.readIfExists(spool.path(name)) else { return false }
        return String(decoding: marker, as: UTF8.self) == (try text(contents))
    }

    func record(_ name: String, _ contents: [UInt8]) throws {
        try spool.store(name, Array(try text(contents).utf8))
    }

    private func text(_ contents: [UInt8]) throws -> String {
        scope + "\n" + Hex.encode(try SHA256.hash(contents))
    }
}
