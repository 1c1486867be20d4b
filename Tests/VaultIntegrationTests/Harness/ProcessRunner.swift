import Foundation

/// Runs a program to completion and captures what it printed.
struct ProcessOutput {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Spawns programs with `posix_spawn` and waits with `waitpid`. Foundation's `Process` is not
/// used: it notices a child's exit through a descriptor the child inherits, and a server
/// daemonised by `pg_ctl start` keeps that descriptor open forever.
enum ProcessRunner {
    static var isRoot: Bool { getuid() == 0 }

    /// Runs `argv`; as the `postgres` OS user when this process is root and `asPostgres` is set.
    @discardableResult
    static func run(_ argv: [String], asPostgres: Bool = false, cwd: String? = nil, environment: [String: String] = [:]) throws -> ProcessOutput {
        var full = argv
        if asPostgres && isRoot {
            full = ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv
        }
        if let cwd {
            // posix_spawn has no portable chdir action: let a shell change directory first.
            full = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", cwd] + full
        }
        let tmp = NSTemporaryDirectory()
        let id = UUID().uuidString
        let outPath = tmp + "/vault-it-\(id).out", errPath = tmp + "/vault-it-\(id).err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let pid = try spawn(full, stdout: outPath, stderr: errPath, environment: env)
        let code = wait(pid)
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return ProcessOutput(status: code, stdout: out, stderr: err)
    }

    /// Starts `argv` as the postgres user (when root) without waiting, so a test can kill it.
    /// Uses `setpriv`, which execs in place: the pid returned is the program's own, not a
    /// wrapper's, so a SIGKILL reaches the program itself.
    static func spawnAsPostgres(_ argv: [String], logTo path: String) throws -> pid_t {
        let full = isRoot ? ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + argv : argv
        return try spawn(full, stdout: path, stderr: path, environment: ProcessInfo.processInfo.environment, append: true)
    }

    /// Starts `argv` as this user without waiting (servers the harness owns and stops by pid).
    static func spawnBackground(_ argv: [String], logTo path: String) throws -> pid_t {
        try spawn(argv, stdout: path, stderr: path, environment: ProcessInfo.processInfo.environment, append: true)
    }

    /// posix_spawn with standard input from /dev/null and output to files.
    private static func spawn(_ argv: [String], stdout: String, stderr: String, environment: [String: String], append: Bool = false) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, flags, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, flags, 0o644)
        let envStrings = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let status = withCStringArray(argv) { a in withCStringArray(envStrings) { e in posix_spawn(&pid, argv[0], &actions, nil, a, e) } }
        guard status == 0 else { throw HarnessError("cannot start \(argv[0]): \(String(cString: strerror(status)))") }
        return pid
    }

    /// Waits for a spawned process; returns its exit status (128+signal when killed).
    static func wait(_ pid: pid_t) -> Int32 {
        var wstatus: Int32 = 0
        while waitpid(pid, &wstatus, 0) < 0 && errno == EINTR {}
        return (wstatus & 0x7f) == 0 ? (wstatus >> 8) & 0xff : 128 + (wstatus & 0x7f)
    }

    /// Waits for a process started with `spawnAsPostgres(_:logTo:)` and returns its exit
    /// status with everything it wrote to `log`.
    static func finish(_ pid: pid_t, log: String) -> (status: Int32, output: String) {
        let status = wait(pid)
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    /// Runs `argv` and throws with its output unless it exits 0.
    @discardableResult
    static func check(_ argv: [String], asPostgres: Bool = false, cwd: String? = nil) throws -> ProcessOutput {
        let r = try run(argv, asPostgres: asPostgres, cwd: cwd)
        guard r.status == 0 else {
            throw HarnessError("\(argv.joined(separator: " ")) exited \(r.status): \(r.stderr)\(r.stdout)")
        }
        return r
    }

    private static func withCStringArray<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for p in pointers { free(p) } }
        return body(pointers)
    }
}

/// Blocks this thread until `path` contains `text` (polling the file, not the async pool,
/// which busy tests can starve); false on timeout.
func waitForText(_ text: String, in path: String, timeout: TimeInterval = 120) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if let data = FileManager.default.contents(atPath: path), String(decoding: data, as: UTF8.self).contains(text) { return true }
        usleep(20_000)
    }
    return false
}

/// Polls `condition` until it holds or `timeout` passes, and checks once more after the
/// deadline: the tests share two cooperative threads with tests that block on processes, so a
/// waiting task can be starved past its deadline although what it waits for happened long ago.
func poll(timeout: TimeInterval, every nanoseconds: UInt64 = 100_000_000, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        try await Task.sleep(nanoseconds: nanoseconds)
    }
}

/// `poll` that blocks its thread between checks instead of suspending: for a test that must
/// act within milliseconds of a condition (a kill at a chosen moment), where a suspended
/// task could resume long after the moment passed.
func pollBlocking(timeout: TimeInterval, every nanoseconds: UInt64 = 100_000_000, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        if try condition() { return true }
        if Date() >= deadline { return false }
        usleep(useconds_t(nanoseconds / 1_000))
    }
}

/// Pids of running processes whose command line contains every one of `words`.
func processes(containing words: [String]) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
        guard Int(pid) != nil, let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let text = String(decoding: cmd, as: UTF8.self)
        return words.allSatisfy { text.contains($0) }
    }
}

/// Blocks this thread until `path` exists; false on timeout.
func waitForFile(_ path: String, timeout: TimeInterval = 120) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while !FileManager.default.fileExists(atPath: path) {
        if Date() >= deadline { return false }
        usleep(20_000)
    }
    return true
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
