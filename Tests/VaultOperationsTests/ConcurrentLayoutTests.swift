import Testing
import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import VaultSystem
@testable import VaultPostgres
@testable import VaultFormat
@testable import VaultOperations

@Suite("a fresh restore's files created while extents are written")
struct ConcurrentLayoutTests {
    /// A head with directory `base` and `count` files of 8192 bytes in it.
    func layout(_ count: Int) -> (BackupHead, [BackupManifest.File]) {
        let files = (0..<count).map { BackupManifest.File(path: String(format: "base/%05d", $0), size: 8192, mode: 0o600, mtime: 0, pieces: []) }
        let head = BackupManifest(id: "1-F", kind: .full, parent: nil, shard: "s", systemIdentifier: "1", versionNumber: 150000, node: "n",
                                  startTime: "", stopTime: "", startEpoch: 0, startLSN: LSN(0), stopLSN: LSN(0), timeline: 1,
                                  walStart: "000000010000000000000001", walStop: "000000010000000000000001", walComplete: true,
                                  backupLabel: "", tablespaceMap: nil, tablespaces: [], directories: [.init(path: "base", mode: 0o700)],
                                  files: files, extents: [],
                                  stats: .init(databaseBytes: 0, bytesRead: 0, bytesStoredNew: 0, bytesReferenced: 0, files: 0, seconds: 0)).head
        return (head, files)
    }

    /// A fresh target directory under the temporary directory, laid out for `count` files
    /// (directories only), and those files.
    func freshTarget(_ name: String, files count: Int) throws -> (RestoreTargetDirectory, [BackupManifest.File]) {
        let root = NSTemporaryDirectory() + "vault-layout-\(name)-\(getpid())"
        try? FileManager.default.removeItem(atPath: root)
        let (head, files) = layout(count)
        let directory = try RestoreTargetDirectory(root: root, head: head, relocations: [:])
        try directory.createFresh()
        return (directory, files)
    }

    @Test("a writer that asks for a file before it exists gets it once created, at its backed-up size")
    func writersWait() throws {
        let (directory, files) = try freshTarget("wait", files: 300)
        defer { try? FileManager.default.removeItem(atPath: directory.root) }
        let layout = ConcurrentLayout(directory, files: files)
        // The last file first: it is the one most likely not to exist yet.
        for file in files.reversed() {
            let fd = try layout.open(try directory.writePath(file.path), flags: O_WRONLY | O_CLOEXEC)
            #expect(pwrite(fd, "x", 1, 100) == 1)
            close(fd)
        }
        try layout.finish()
        for file in files {
            let attributes = try FileManager.default.attributesOfItem(atPath: try directory.path(file.path))
            #expect(attributes[.size] as? Int == 8192, "\(file.path)")
            #expect(try FileIO.readRange(try directory.path(file.path), offset: 100, length: 1) == Array("x".utf8))
        }
    }

    @Test("when creating a file fails, a writer waiting for a later one and finish both report that failure")
    func layoutFailure() throws {
        let (directory, files) = try freshTarget("fail", files: 50)
        defer { try? FileManager.default.removeItem(atPath: directory.root) }
        // A file already there: exclusive creation refuses it, and the files after it are never made.
        #expect(FileManager.default.createFile(atPath: try directory.path(files[10].path), contents: nil))
        let layout = ConcurrentLayout(directory, files: files)
        let waited = #expect(throws: SystemError.self) { _ = try layout.open(try directory.writePath(files[40].path), flags: O_WRONLY | O_CLOEXEC) }
        #expect(waited?.message.contains(files[10].path) == true, "the writer gets the layout's failure: \(String(describing: waited))")
        let failure = #expect(throws: SystemError.self) { try layout.finish() }
        #expect(failure?.message.contains(files[10].path) == true, "\(String(describing: failure))")
        #expect(!FileManager.default.fileExists(atPath: try directory.path(files[40].path)))
    }
}
