#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads and durable writes on local paths, through `Syscall`.
public enum FileIO {
    /// Reads a whole file; throws `.notFound` when it does not exist.
    public static func read(_ path: String, protection: FileProtection? = nil) throws -> [UInt8] {
        guard let bytes = try readIfExists(path, protection: protection) else {
            throw SystemError(.notFound, "cannot read \(path): No such file or directory", code: ENOENT)
        }
        return bytes
    }

    /// Reads a whole file, or returns nil when it does not exist. With `protection`, a file
    /// whose mode lets others than its owner in is refused (`.denied`) before it is read.
    public static func readIfExists(_ path: String, protection: FileProtection? = nil) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let e = Syscall.currentErrno
            if e == ENOENT { return nil }
            throw Syscall.error("open \(path)", errno: e)
        }
        defer { close(fd) }
        var st = stat()
        try Syscall.call("stat \(path)") { fstat(fd, &st) }
        if let problem = protection?.problem(mode: st.st_mode, path: path) { throw SystemError(.denied, problem) }
        let size = Int(st.st_size)
        // Uninitialised capacity: zero-filling 16 MiB first would cost as much as reading it.
        var failure: (any Error)?
        let out = [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            var done = 0
            while done < size {
                do {
                    let n = try Syscall.call("read \(path)") { Glibc.read(fd, buf.baseAddress.map { $0 + done }, size - done) }
                    if n == 0 { break }
                    done += n
                } catch {
                    failure = error
                    break
                }
            }
            count = done
        }
        if let failure { throw failure }
        return out
    }

    /// Reads `length` bytes at `offset`; fewer only when the file ends first.
    public static func readRange(_ path: String, offset: Int, length: Int) throws -> [UInt8] {
        let fd = try Syscall.call("open \(path)") { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var out = [UInt8](repeating: 0, count: length)
        let n = try preadFully(fd, into: &out, at: offset, what: path)
        if n < length { out.removeSubrange(n...) }
        return out
    }

    /// Reads into `buffer` from `offset` until it is full or the file ends; returns bytes read.
    public static func preadFully(_ fd: Int32, into buffer: inout [UInt8], at offset: Int, what: String) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = try buffer.withUnsafeMutableBytes { buf in
                try Syscall.call("read \(what)") { pread(fd, buf.baseAddress.map { $0 + done }, buf.count - done, off_t(offset + done)) }
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// The most one write call hands the kernel. Measured on Linux 6.18 and ext4 with the page
    /// cache dropped, 4 GiB written by two threads into one file took about 2 s of system time
    /// in 256 or 512 KiB calls and 3.7-5.9 s in 1 MiB calls; one thread writing a 16 MiB buffer
    /// in one call took 8.5-14.7 s against 1.0 s for the same buffer in 256 KiB calls
    /// (docs/BENCHMARKS.md, "Write calls"). Smaller calls cost more again (64 KiB: 2.6 s).
    public static let largestWrite = 512 << 10

    /// Writes all of `bytes` at `offset` in calls of at most `largestWrite` bytes, calling
    /// `afterEach` with each written piece's offset and length (restore starts its write-back
    /// there).
    public static func pwriteAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int, what: String,
                                 afterEach: (Int, Int) -> Void = { _, _ in }) throws {
        var done = 0
        while done < bytes.count {
            let piece = min(largestWrite, bytes.count - done)
            let n = try Syscall.call("write \(what)") { pwrite(fd, bytes.baseAddress.map { $0 + done }, piece, off_t(offset + done)) }
            // A file system that accepts nothing would otherwise be asked forever.
            guard n > 0 else { throw SystemError(.io, "cannot write \(what): the file system accepted no bytes") }
            afterEach(offset + done, n)
            done += n
        }
    }

    /// Writes `bytes` to `path` and fsyncs it. With `exclusive`, fails if the file exists.
    /// With `sameOwnerAs` naming a regular file, the new file takes its mode (permission bits
    /// only) and, when running as root, its owner and group: set on the open descriptor, so
    /// a symlink swapped in under the name cannot redirect them.
    public static func writeDurably(_ path: String, _ bytes: [UInt8], exclusive: Bool = false, mode: mode_t = 0o640, sameOwnerAs: String? = nil) throws {
        var reference = stat()
        let like = sameOwnerAs.flatMap { lstat($0, &reference) == 0 && (reference.st_mode & S_IFMT) == S_IFREG ? reference : nil }
        try writeFile(path, bytes, exclusive: exclusive, mode: mode, sync: true, like: like)
    }

    /// Writes a file by temporary file and rename, without fsync: readers never see it half
    /// written, but after a crash it may be missing or empty. For hints that are cheap to lose
    /// and checked exactly when read, where an fsync would cost more.
    public static func replace(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o640) throws {
        let tmp = path + ".vault-tmp-\(getpid())"
        try writeFile(tmp, bytes, exclusive: false, mode: mode, sync: false, like: nil)
        try rename(tmp, to: path)
    }

    private static func writeFile(_ path: String, _ bytes: [UInt8], exclusive: Bool, mode: mode_t, sync: Bool, like: stat? = nil) throws {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)
        let fd = try Syscall.call("create \(path)") { open(path, flags, mode) }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(path) }
        }
        if let like {
            if geteuid() == 0 { try Syscall.call("chown \(path)") { fchown(fd, like.st_uid, like.st_gid) } }
            try Syscall.call("chmod \(path)") { fchmod(fd, like.st_mode & 0o777) }
        }
        try bytes.withUnsafeBytes { try pwriteAll(fd, $0, at: 0, what: path) }
        if sync { try Syscall.call("fsync \(path)") { fsync(fd) } }
        ok = true
    }

    /// Writes a file atomically (temporary file, fsync, rename, directory fsync).
    /// `sameOwnerAs` as for `writeDurably`: owner and mode are on the file before it takes the name.
    public static func replaceDurably(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o640, sameOwnerAs: String? = nil) throws {
        let tmp = path + ".vault-tmp-\(getpid())"
        try writeDurably(tmp, bytes, mode: mode, sameOwnerAs: sameOwnerAs)
        try rename(tmp, to: path)
        try fsyncDirectory(parentDirectory(of: path))
    }

    public static func fsyncDirectory(_ dir: String) throws {
        let fd = try Syscall.call("open directory \(dir)") { open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        try Syscall.call("fsync directory \(dir)") { fsync(fd) }
    }

    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Creates `path` and its missing parents.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o750) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 {
                let e = Syscall.currentErrno
                if e != EEXIST { throw Syscall.error("create directory \(current)", errno: e) }
            }
        }
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Calls `visit` with the path (relative to `dir`) of every regular file below `dir`,
    /// skipping hidden entries (vault's temporary files). A missing `dir` visits nothing.
    public static func walk(_ dir: String, _ visit: (String) throws -> Void) throws {
        try walk(dir, relative: "", visit)
    }

    private static func walk(_ dir: String, relative: String, _ visit: (String) throws -> Void) throws {
        guard let handle = opendir(dir) else {
            let e = Syscall.currentErrno
            if e == ENOENT || e == ENOTDIR { return }
            throw Syscall.error("list \(dir)", errno: e)
        }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            let full = dir + "/" + name
            let rel = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                try walk(full, relative: rel, visit)
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                try visit(rel)
            }
        }
    }
}

extension FileIO {
    /// Removes a file, durably; a file already gone is fine.
    public static func removeIfExists(_ path: String) throws {
        if unlink(path) != 0 {
            let e = errno
            guard e == ENOENT else { throw SystemError("remove \(path)", errno: e) }
            return
        }
        try fsyncDirectory(parentDirectory(of: path))
    }

    /// Renames a file, removing the source when the rename fails.
    public static func rename(_ from: String, to: String) throws {
        do {
            try Syscall.call("rename \(from) to \(to)") { Glibc.rename(from, to) }
        } catch {
            unlink(from)
            throw error
        }
    }
}

extension FileIO {
    /// The names in a directory, without `.` and `..`.
    public static func list(_ dir: String) throws -> [String] {
        guard let handle = opendir(dir) else {
            throw Syscall.error("list \(dir)", errno: Syscall.currentErrno)
        }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The target of a symbolic link.
    public static func readLink(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = try Syscall.call("read link \(path)") { readlink(path, &buffer, buffer.count - 1) }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
