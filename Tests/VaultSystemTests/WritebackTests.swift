import Foundation
import Testing
import VaultSystem

@Suite("write-back started early, made durable once per file system")
struct WritebackTests {
    @Test("one descriptor per file system; files written with early write-back read back whole after syncAndClose")
    func writesAndSyncs() throws {
        let dir = NSTemporaryDirectory() + "vault-writeback-\(UUID().uuidString)"
        try FileIO.makeDirectories(dir + "/sub", mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The directory and its subdirectory are one file system: one descriptor serves both.
        let sync = try FileSystemSync([dir, dir + "/sub"])
        #expect(sync.count == 1)
        let bytes = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let fd = open(dir + "/sub/file", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        Writeback.start(fd, offset: 0, length: bytes.count)
        close(fd)
        #expect(written == bytes.count)
        Writeback.start(fd, offset: 0, length: 0) // "to the end of the file" is never asked for
        try sync.syncAndClose()
        #expect(sync.count == 0, "the descriptors are closed")
        #expect(try FileIO.read(dir + "/sub/file") == bytes)
    }

    @Test("a path that is missing or not a directory is one error naming it, before anything is written")
    func refusesNonDirectories() throws {
        let dir = NSTemporaryDirectory() + "vault-writeback-\(UUID().uuidString)"
        try FileIO.makeDirectories(dir, mode: 0o700)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileIO.writeDurably(dir + "/plain", [1, 2, 3])
        for path in [dir + "/missing", dir + "/plain"] {
            #expect {
                _ = try FileSystemSync([dir, path])
            } throws: { error in
                String(describing: error).contains(path)
            }
        }
    }
}
