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
        try? FileManager.default.removeItem(atPath: target)
        do {
            try FileManager.default.copyItem(atPath: built, toPath: target)
        } catch {
            fatalError("cannot copy \(built) to \(target): \(error)")
        }
        chmod(target, 0o755)
        return target
    }()

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
