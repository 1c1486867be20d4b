import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import VaultSystem

/// A throwaway PostgreSQL for `vault verify`: a private directory under the scratch base
/// (`<base>/<shard>-<pid>`, holding the data directory, relocated tablespaces and the
/// socket), a free 127.0.0.1 port, and a guarantee that the server is stopped and the
/// directory removed however verification ends: normally, by an error, or by Ctrl-C or
/// SIGTERM. A directory left by a verify that was killed outright is cleaned up by the next,
/// and only one that holds the marker a verify writes first (`markerName`): whatever else the
/// scratch base holds is never touched.
public final class ScratchInstance: @unchecked Sendable {
    public let directory: String
    public let dataDir: String
    public let port: Int
    let bindir: String
    private let lock = NSLock()
    private var removed = false

    init(base: String, shard: String, bindir: String) throws {
        Self.removeStale(in: base)
        try FileIO.makeDirectories(base, mode: 0o755)
        directory = base + "/\(shard)-\(getpid())"
        dataDir = directory + "/data"
        self.bindir = bindir
        port = try Self.freePort()
        try FileTree.remove(directory)
        try Syscall.call("create directory \(directory)") { mkdir(directory, 0o700) }
        try FileIO.writeDurably(directory + "/" + Self.markerName, Array("vault verify scratch instance of pid \(getpid())\n".utf8), mode: 0o600)
        ScratchRegistry.shared.add(self)
    }

    /// The file that marks a directory as a scratch instance vault made.
    static let markerName = "vault-scratch-instance"

    /// Where tablespace `oid` is restored.
    func tablespaceDirectory(_ oid: String) -> String { directory + "/tablespaces/" + oid }

    /// The settings that keep the instance private and inert: loopback and its own socket
    /// only, no archiving into the shard, no waiting for synchronous standbys.
    var settings: [String] {
        [
            "port = \(port)",
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = \(ConfigValue.quoted(directory))",
            "archive_mode = off",
            "synchronous_standby_names = ''",
            "primary_conninfo = ''",
            "logging_collector = off",
            "hot_standby = on",
        ]
    }

    /// Appends the settings, lets only local socket connections in (trust, in a directory
    /// only its owner can enter), and hands everything to postgres when running as root.
    func prepare() throws {
        let auto = dataDir + "/postgresql.auto.conf"
        let existing = (try? FileIO.read(auto)) ?? []
        try FileIO.writeDurably(auto, existing + Array(("\n# vault verify scratch instance\n" + settings.joined(separator: "\n") + "\n").utf8), mode: 0o600)
        try FileIO.writeDurably(dataDir + "/pg_hba.conf", Array("# vault verify scratch instance: local socket only\nlocal all all trust\n".utf8), mode: 0o600)
        if geteuid() == 0 { try FileTree.chown(directory, to: "postgres") }  // PostgreSQL refuses to run as root
    }

    /// Stops the server (fast, then immediate, then SIGKILL by the pid it wrote) and removes
    /// the directory. Safe to call more than once and from a signal handler's queue.
    public func remove() {
        lock.lock()
        defer { lock.unlock() }
        guard !removed else { return }
        stopServer()
        try? FileTree.remove(directory)
        removed = true
        ScratchRegistry.shared.remove(self)
    }

    /// Stops the server if it runs; true once no postmaster is left.
    @discardableResult
    func stopServer() -> Bool { Self.stop(dataDir: dataDir, bindir: bindir) }

    static func stop(dataDir: String, bindir: String) -> Bool {
        let pidFile = dataDir + "/postmaster.pid"
        guard FileIO.exists(pidFile) else { return true }
        let owner = Subprocess.owner(of: dataDir)
        for mode in ["fast", "immediate"] {
            _ = try? Subprocess.run([bindir + "/pg_ctl", "-D", dataDir, "-m", mode, "-w", "-t", "30", "stop"], asUser: owner, output: "/dev/null")
            if !FileIO.exists(pidFile) { return true }
        }
        if let text = try? FileIO.read(pidFile), let line = String(decoding: text, as: UTF8.self).split(separator: "\n").first,
           let pid = pid_t(line.trimmingCharacters(in: .whitespaces)), pid > 1 {
            kill(pid, SIGKILL)
            unlink(pidFile)
        }
        return !FileIO.exists(pidFile)
    }

    /// Removes directories of scratch instances whose vault process is gone: named
    /// `<shard>-<pid>` and holding the marker.
    static func removeStale(in base: String) {
        guard let names = try? FileIO.list(base) else { return }
        for name in names {
            guard let dash = name.lastIndex(of: "-"), let pid = pid_t(name[name.index(after: dash)...]), pid > 0 else { continue }
            if pid == getpid() || kill(pid, 0) == 0 || errno == EPERM { continue }
            let dir = base + "/" + name
            guard FileIO.exists(dir + "/" + markerName) else { continue }
            if let bindir = try? stalePostmasterBindir(dir + "/data") { _ = stop(dataDir: dir + "/data", bindir: bindir) }
            try? FileTree.remove(dir)
        }
    }

    /// The bin directory recorded in a stale instance's postmaster.opts (first word).
    private static func stalePostmasterBindir(_ dataDir: String) throws -> String? {
        guard let opts = try FileIO.readIfExists(dataDir + "/postmaster.opts") else { return nil }
        let first = String(decoding: opts, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
        return first.isEmpty ? nil : FileIO.parentDirectory(of: first)
    }

    /// A port nothing listens on now: bind 127.0.0.1:0 and ask which one the kernel chose.
    static func freePort() throws -> Int {
        let fd = try Syscall.call("create a socket") { socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &addr) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try Syscall.call("bind a socket to 127.0.0.1") { bind(fd, sa, len) }
                try Syscall.call("read a socket's address") { getsockname(fd, sa, &len) }
            }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}

/// The scratch instances alive in this process, removed on SIGINT and SIGTERM before exit.
final class ScratchRegistry: @unchecked Sendable {
    static let shared = ScratchRegistry()
    private static let exitOnSignal = Mutex(true)

    /// Whether SIGINT and SIGTERM remove the instances and exit (the one-shot commands). The
    /// scheduler daemon handles those signals itself and cancels its jobs instead.
    static var exitsOnSignal: Bool {
        get { exitOnSignal.withLock { $0 } }
        set { exitOnSignal.withLock { $0 = newValue } }
    }
    private let lock = NSLock()
    private var instances: [ObjectIdentifier: ScratchInstance] = [:]
    private var sources: [any DispatchSourceSignal] = []

    func add(_ instance: ScratchInstance) {
        lock.lock()
        defer { lock.unlock() }
        instances[ObjectIdentifier(instance)] = instance
        if sources.isEmpty && Self.exitsOnSignal {
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { [weak self] in
                    Interruption.begin()
                    self?.removeAll()
                    FileHandle.standardError.write(Data("error: interrupted; the scratch instance was stopped and removed\n".utf8))
                    exit(128 + sig)
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    func remove(_ instance: ScratchInstance) {
        lock.lock()
        defer { lock.unlock() }
        instances[ObjectIdentifier(instance)] = nil
    }

    private func removeAll() {
        lock.lock()
        let all = Array(instances.values)
        lock.unlock()
        for i in all { i.remove() }
    }
}

/// Set when SIGINT or SIGTERM arrived and the scratch instances are being removed: the
/// command's own failure (its server just went away) must then not exit first with a
/// misleading error; the signal handler exits with 128 + signal once cleanup is done.
public enum Interruption {
    private static let flag = Mutex<Bool>(false)

    static func begin() { flag.withLock { $0 = true } }

    public static var inProgress: Bool { flag.withLock { $0 } }

    /// Waits for the signal handler to finish and exit the process (up to a minute).
    public static func waitForExit() {
        guard inProgress else { return }
        for _ in 0..<600 { usleep(100_000) }
    }
}
