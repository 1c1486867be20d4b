import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a program and waits for it with `waitpid`, output to a file. Not Foundation's
/// `Process`: it notices a child's exit through a descriptor, and a server daemonised by
/// `pg_ctl start` would keep that descriptor open forever.
public enum Subprocess {
    /// Runs `argv` (as `user` when this process is root and a user is given); returns the exit
    /// status. With a `timeout`, the program runs in a process group of its own, which is
    /// killed (SIGKILL) when the time is up, and the status is `timedOut`. The program gets
    /// this process's environment without its secrets unless `secrets` is `.passed`
    /// (`ChildEnvironment`).
    public static func run(_ argv: [String], asUser user: String? = nil, output: String, timeout: TimeInterval? = nil,
                           secrets: ChildEnvironment.Secrets = .withheld) throws -> Int32 {
        var full = argv
        if let user, getuid() == 0 { full = ["/usr/sbin/runuser", "-u", user, "--"] + argv }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o640)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let env = ChildEnvironment.strings(secrets)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if timeout != nil {
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        var pid: pid_t = 0
        let status = withCStrings(full) { a in
            withCStrings(env) { e in
                posix_spawn(&pid, full[0], &actions, &attributes, UnsafePointer(a).withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: full.count + 1) { $0 },
                            UnsafePointer(e).withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: env.count + 1) { $0 })
            }
        }
        guard status == 0 else { throw SystemError(.io, "cannot start \(full[0]): \(String(cString: strerror(status)))", code: status) }
        var wstatus: Int32 = 0
        if let timeout {
            let deadline = Date().addingTimeInterval(timeout)
            while true {
                let r = waitpid(pid, &wstatus, WNOHANG)
                if r == pid { break }
                if r < 0 && errno != EINTR { return timedOut }
                if Date() >= deadline {
                    kill(-pid, SIGKILL)
                    while waitpid(pid, &wstatus, 0) < 0 && errno == EINTR {}
                    return timedOut
                }
                usleep(20_000)
            }
        } else {
            while waitpid(pid, &wstatus, 0) < 0 && errno == EINTR {}
        }
        return (wstatus & 0x7f) == 0 ? (wstatus >> 8) & 0xff : 128 + (wstatus & 0x7f)
    }

    /// The status `run` returns when it killed the program at its timeout.
    public static let timedOut: Int32 = -1

    /// Starts `argv` in a session of its own with no terminal and output to /dev/null, with
    /// `fd` as its descriptor `childFD`, and does not wait: for work that must outlive the
    /// command that started it (prefetch). The program is vault itself and gets this
    /// process's whole environment.
    public static func spawnDetached(_ argv: [String], passing fd: Int32, as childFD: Int32) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fd, childFD)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(0x80)) // POSIX_SPAWN_SETSID
        let env = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStrings(argv) { a in
            withCStrings(env) { e in
                posix_spawn(&pid, argv[0], &actions, &attributes, UnsafePointer(a).withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: argv.count + 1) { $0 },
                            UnsafePointer(e).withMemoryRebound(to: UnsafeMutablePointer<CChar>?.self, capacity: env.count + 1) { $0 })
            }
        }
        guard status == 0 else { throw SystemError(.io, "cannot start \(argv[0]): \(String(cString: strerror(status)))", code: status) }
        // Reaped by init once this process exits; PostgreSQL's restore_command returns now.
    }

    /// The name of the user owning `path`.
    public static func owner(of path: String) -> String? {
        var st = stat()
        guard stat(path, &st) == 0, let pw = getpwuid(st.st_uid) else { return nil }
        return String(cString: pw.pointee.pw_name)
    }
}
