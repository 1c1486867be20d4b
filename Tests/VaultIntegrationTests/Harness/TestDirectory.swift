import Foundation

/// A scratch directory for one test, outside /root so the postgres user can reach it, owned
/// by that user when tests run as root, and removed when the test ends.
final class TestDirectory {
    let path: String
    static let base = "/var/tmp/vault-it"

    init(_ name: String) throws {
        path = "\(Self.base)/\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(Self.base, 0o755)
        try Self.giveToPostgres(path)
    }

    static func giveToPostgres(_ path: String) throws {
        if ProcessRunner.isRoot {
            try ProcessRunner.check(["/bin/chown", "-R", "postgres:postgres", path])
        }
    }

    /// Writes a file owned by the postgres user.
    func write(_ relative: String, _ text: String, mode: Int = 0o600) throws -> String {
        let p = path + "/" + relative
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        chmod(p, mode_t(mode))
        try Self.giveToPostgres(p)
        return p
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
