#if canImport(Glibc)
import Glibc
#endif

/// Whole-tree operations on local directories (scratch instances, restored copies). Symbolic
/// links are never followed: removing or handing over a tree touches only what is in it.
public enum FileTree {
    /// Removes `path` and everything below it; a missing path is not an error.
    public static func remove(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try FileIO.list(path) { try remove(path + "/" + name) }
            try Syscall.call("remove directory \(path)") { rmdir(path) }
        } else {
            try Syscall.call("remove \(path)") { unlink(path) }
        }
    }

    /// Gives `path` and everything below it to `user` (root hands restored clusters to the
    /// postgres user, because PostgreSQL refuses to run as root).
    public static func chown(_ path: String, to user: String) throws {
        guard let pw = getpwnam(user) else { throw SystemError(.invalidArgument, "there is no user '\(user)' to give \(path) to") }
        try chown(path, uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid)
    }

    private static func chown(_ path: String, uid: uid_t, gid: gid_t) throws {
        try Syscall.call("change the owner of \(path)") { lchown(path, uid, gid) }
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return }
        for name in try FileIO.list(path) { try chown(path + "/" + name, uid: uid, gid: gid) }
    }
}
