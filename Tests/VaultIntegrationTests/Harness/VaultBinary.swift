import Foundation

/// The `vault` executable under test, copied where the postgres user can run it
/// (PostgreSQL calls it from archive_command and restore_command).
enum VaultBinary {
    static let path: String = {
        let env = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let p = env["VAULT_BINARY"] { candidates.append(p) }
        let argv0 = CommandLine.arguments.first ?? ""
        var dir = (argv0 as NSString).deletingLastPathComponent
        // The test bundle may sit inside a .xctest directory next to the executable.
        for _ in 0..<4 {
            candidates.append(dir + "/vault")
            dir = (dir as NSString).deletingLastPathComponent
        }
        candidates.append(FileManager.default.currentDirectoryPath + "/.build/debug/vault")
        guard let built = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            fatalError("vault binary not found; build it first (tried \(candidates))")
        }
        removeStaleCopies()
        let binDir = "\(TestDirectory.base)/bin-\(getpid())"
        try? FileManager.default.createDirectory(atPath: binDir, withIntermediateDirectories: true)
        chmod(TestDirectory.base, 0o755)
        chmod(binDir, 0o755)
        let target = binDir + "/vault"
        copyClosedOnExec(from: built, to: target)
        return target
    }()

    /// Copies through a descriptor opened with O_CLOEXEC under a temporary name, then renames.
    /// Tests run in parallel threads that spawn processes all the time; a child forked while an
    /// ordinary (inheritable) write descriptor is open keeps it, and exec of the copy then fails
    /// with "Text file busy" (ETXTBSY) for as long as that child lives.
    private static func copyClosedOnExec(from source: String, to target: String) {
        guard let data = FileManager.default.contents(atPath: source) else {
            fatalError("cannot read \(source)")
        }
        let temporary = target + ".copying"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
        guard fd >= 0 else { fatalError("cannot create \(temporary): errno \(errno)") }
        let written = data.withUnsafeBytes { raw -> Int in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n <= 0 { return offset }
                offset += n
            }
            return offset
        }
        fchmod(fd, 0o755)
        close(fd)
        guard written == data.count, rename(temporary, target) == 0 else {
            fatalError("cannot copy \(source) to \(target): errno \(errno)")
        }
    }

    /// Removes copies left by earlier test processes that have exited.
    private static func removeStaleCopies() {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: TestDirectory.base)) ?? []
        for entry in entries where entry.hasPrefix("bin-") {
            if let pid = Int32(entry.dropFirst(4)), pid != getpid(), kill(pid, 0) != 0 {
                try? FileManager.default.removeItem(atPath: TestDirectory.base + "/" + entry)
            }
        }
    }
}
