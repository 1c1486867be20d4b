import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import VaultSystem

/// A repository in a local or mounted directory.
///
/// Writes go to a hidden temporary file in the target directory, are fsynced, then renamed
/// (or hard-linked, for `putIfAbsent`, which fails atomically when the name exists) into
/// place, and the directory is fsynced, so a crash leaves either the old state or the new.
public struct PosixStorage: Storage {
    public let root: String
    public var location: String { root }

    public init(root: String) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    func path(_ name: String) -> String { root + "/" + name }

    public func get(_ name: String) async throws -> [UInt8]? {
        try storageErrors {
            try Self.checkName(name)
            return try FileIO.readIfExists(path(name))
        }
    }

    public func getRange(_ name: String, offset: Int, length: Int) async throws -> [UInt8] {
        try storageErrors {
            try Self.checkName(name)
            return try FileIO.readRange(path(name), offset: offset, length: length)
        }
    }

    public func put(_ name: String, _ bytes: [UInt8]) async throws {
        try storageErrors {
            try Self.checkName(name)
            let final = path(name)
            let dir = try ensureParent(of: name)
            // A replaced object keeps its owner, group and mode: root replacing the key file of
            // a repository the `postgres` user writes (`vault key rotate` run by root) must not
            // leave a file that user can no longer read.
            let tmp = try writeTemporary(in: dir, bytes, sameOwnerAs: final)
            do {
                try Syscall.call("rename \(tmp) to \(final)") { rename(tmp, final) }
            } catch {
                unlink(tmp)
                throw error
            }
            try FileIO.fsyncDirectory(dir)
        }
    }

    public func putIfAbsent(_ name: String, _ bytes: [UInt8]) async throws -> Bool {
        try storageErrors {
            try Self.checkName(name)
            let final = path(name)
            let dir = try ensureParent(of: name)
            let tmp = try writeTemporary(in: dir, bytes)
            defer { unlink(tmp) }
            while link(tmp, final) != 0 {
                let e = Syscall.currentErrno
                if e == EINTR { continue }
                if e == EEXIST {
                    // Another process may have linked it and not yet made the entry durable;
                    // a caller told "already there" must be able to rely on it after a crash.
                    try FileIO.fsyncDirectory(dir)
                    return false
                }
                throw Syscall.error("link \(final)", errno: e)
            }
            try FileIO.fsyncDirectory(dir)
            return true
        }
    }

    public func exists(_ name: String) async throws -> Bool {
        try status(name) != nil
    }

    public func size(_ name: String) async throws -> Int64? {
        try status(name).map { Int64($0.st_size) }
    }

    public func modified(_ name: String) async throws -> Date? {
        try status(name).map(Self.modified)
    }

    private static func modified(_ st: stat) -> Date {
        Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9)
    }

    /// The object file's stat, or nil when it does not exist.
    private func status(_ name: String) throws -> stat? {
        try storageErrors {
            try Self.checkName(name)
            var st = stat()
            if stat(path(name), &st) == 0 { return st }
            let e = Syscall.currentErrno
            if e == ENOENT || e == ENOTDIR { return nil }
            throw Syscall.error("stat \(path(name))", errno: e)
        }
    }

    public func list(prefix: String) async throws -> [String] {
        try storageErrors {
            let trimmed = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
            let start = trimmed.isEmpty ? root : path(trimmed)
            var names: [String] = []
            try FileIO.walk(start) { relative in
                names.append(trimmed.isEmpty ? relative : trimmed + "/" + relative)
            }
            return names.sorted()
        }
    }

    public func listSizes(prefix: String) async throws -> [ListedObject] {
        var out: [ListedObject] = []
        for name in try await list(prefix: prefix) {
            // Gone since the walk (a concurrent expire or archive-push cleanup): not listed.
            if let st = try status(name) {
                out.append(ListedObject(name: name, size: Int64(st.st_size), modified: Self.modified(st)))
            }
        }
        return out
    }

    public func delete(_ name: String) async throws {
        try storageErrors {
            try Self.checkName(name)
            if unlink(path(name)) != 0 {
                let e = Syscall.currentErrno
                if e != ENOENT { throw Syscall.error("remove \(path(name))", errno: e) }
            }
        }
    }

    /// Removes `names`, then fsyncs every directory that lost an entry, so the removal is
    /// durable before the call returns: expire removes manifests in one call and their packs
    /// in the next, and a crash between must never bring back a manifest whose packs are gone.
    public func delete(_ names: [String]) async throws {
        try await storageErrors {
            var directories = Set<String>()
            for name in names {
                try await delete(name)
                directories.insert(FileIO.parentDirectory(of: path(name)))
            }
            for dir in directories.sorted() where FileIO.exists(dir) { try FileIO.fsyncDirectory(dir) }
        }
    }

    /// Creates the parent directories of `name` (fsyncing each parent that gained an entry)
    /// and returns the parent's path.
    private func ensureParent(of name: String) throws -> String {
        var dir = root
        for part in name.split(separator: "/").dropLast() {
            let next = dir + "/" + part
            var made = mkdir(next, 0o750) == 0
            if !made && Syscall.currentErrno == ENOENT && dir == root {
                // The repository root itself is missing: create it (first write of `vault init`).
                try FileIO.makeDirectories(root)
                made = mkdir(next, 0o750) == 0
            }
            if made {
                try FileIO.fsyncDirectory(dir)
            } else {
                let e = Syscall.currentErrno
                if e != EEXIST { throw Syscall.error("create directory \(next)", errno: e) }
            }
            dir = next
        }
        return dir
    }

    /// Temporary files are hidden (listings skip names starting with `.`) and named so a
    /// killed writer's can be found and collected.
    static let temporaryPrefix = ".vault-tmp-"

    private func writeTemporary(in dir: String, _ bytes: [UInt8], sameOwnerAs: String? = nil) throws -> String {
        let tmp = dir + "/\(Self.temporaryPrefix)\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try FileIO.writeDurably(tmp, bytes, exclusive: true, sameOwnerAs: sameOwnerAs)
        return tmp
    }
}

extension PosixStorage {
    /// Runs `body`, turning the operating system's failures into storage errors: the layers
    /// above see `StorageError` from every backend.
    func storageErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as SystemError {
            throw StorageError(e)
        }
    }

    func storageErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let e as SystemError {
            throw StorageError(e)
        }
    }
}

extension PosixStorage {
    /// A second `putIfAbsent` of the same name must fail: the hard link that makes it
    /// atomic is refused on some network and FUSE file systems.
    public func probeConditionalWrites() async throws {
        let name = "probes/conditional-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let bytes = Array("vault conditional write probe\n".utf8)
        do {
            let first = try await putIfAbsent(name, bytes)
            let second = try await putIfAbsent(name, bytes)
            guard first, !second else {
                throw StorageError(.misconfigured, "\(root) does not refuse a second write-once write of one name; vault's write-once objects depend on it, so this file system cannot hold a repository")
            }
        } catch {
            try? await delete(name)
            rmdir(path("probes"))
            throw error
        }
        try await delete(name)
        rmdir(path("probes")) // only when empty: another process may be probing too
    }
}

extension PosixStorage {
    /// Temporary files of killed writers (a live writer's exists for the moments between
    /// its write and its rename or link, far less than any grace period).
    public func collectAbandonedWrites(under prefix: String, olderThan age: TimeInterval, dryRun: Bool) async throws -> Int {
        try storageErrors {
            try Self.checkName(prefix)
            var found = 0
            let now = Date().timeIntervalSince1970
            func visit(_ dir: String) throws {
                guard let names = try? FileIO.list(dir) else { return }
                for name in names {
                    let full = dir + "/" + name
                    var st = stat()
                    guard lstat(full, &st) == 0 else { continue }
                    switch st.st_mode & S_IFMT {
                    case S_IFDIR:
                        try visit(full)
                    case S_IFREG where name.hasPrefix(Self.temporaryPrefix) && now - Double(st.st_mtim.tv_sec) >= age:
                        found += 1
                        if !dryRun { unlink(full) }
                    default:
                        continue
                    }
                }
            }
            try visit(path(prefix))
            return found
        }
    }
}
